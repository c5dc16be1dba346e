import random, pickle, time, numpy as np
from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import is_answer_sentence, run_article
from index.embed import CachedEmbedder
from qa.kinds import question_kind, EXPLANATION_KINDS
from qa.service import QAService
from qa.explain import feature_matrix
from qa.rerank import read_top, final_probs
svc = QAService()
pool = load_articles(SQUAD11_TRAIN); random.Random(0).shuffle(pool)
emb = CachedEmbedder(CACHE / "embeddings.npz")
out = []
for a in range(80):
    art = hold_out_paragraphs(pool[a], 0.3, seed=a)
    qs = [q for q in art.questions if not q.impossible and question_kind(q.question) in EXPLANATION_KINDS]
    if not qs: continue
    art = type(art)(art.title, art.text, art.paragraph_spans, tuple(qs))
    run = run_article(art, emb)
    idx = run.index
    for q, c in zip(run.questions, run.cands):
        if not len(c.rows): continue
        texts = [idx.sentences[int(r)].text for r in c.rows]
        probs = svc.reranker.predict(c.features)
        full = read_top(svc.reader, q.question, lambda i: texts[i], probs, 4, 4)
        fp = svc.final.predict(full.features)
        kind = question_kind(q.question)
        x = feature_matrix(kind, c.question.stems, [texts[int(i)] for i in full.positions], full.readings, fp)
        y = np.asarray([is_answer_sentence(run, q, int(c.rows[int(i)])) for i in full.positions], int)
        out.append(dict(a=a, kind=kind, q=q.question, texts=[texts[int(i)] for i in full.positions], x=x, y=y, fp=fp))
    print(f"\r {a+1}/80 {len(out)}", end="", flush=True)
pickle.dump(out, open("artifacts/issue32/top4.pkl", "wb"))
