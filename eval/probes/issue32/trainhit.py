import random, numpy as np
from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import is_answer_sentence, run_article
from index.embed import CachedEmbedder
from index.config import Config
from qa.kinds import question_kind, EXPLANATION_KINDS
from qa.service import QAService
pool = load_articles(SQUAD11_TRAIN); random.Random(0).shuffle(pool)
emb = CachedEmbedder(CACHE / "embeddings.npz")
svcs = {m: QAService(config=Config(explain_next_margin=m)) for m in (None, 0.0, 0.5, 1.0, 2.0)}
res = {m: {} for m in svcs}
for a in range(80):
    art = hold_out_paragraphs(pool[a], 0.3, seed=a)
    qs = [q for q in art.questions if not q.impossible and question_kind(q.question) in EXPLANATION_KINDS]
    if not qs: continue
    run = run_article(type(art)(art.title, art.text, art.paragraph_spans, tuple(qs)), emb)
    for q, c in zip(run.questions, run.cands):
        if not len(c.rows): continue
        texts = [run.index.sentences[int(r)].text for r in c.rows]
        for m, svc in svcs.items():
            svc.index = run.index
            sc = svc.score(q.question, c, texts)
            hit = is_answer_sentence(run, q, int(c.rows[int(np.argmax(sc.final))]))
            for k in (question_kind(q.question), "all"):
                res[m].setdefault(k, []).append(hit)
for m, r in res.items():
    print("margin", m, {k: f"{np.mean(v):.3f} ({len(v)})" for k, v in sorted(r.items())})
