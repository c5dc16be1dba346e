import random, numpy as np
from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import is_answer_sentence, run_article
from index.embed import CachedEmbedder
from qa.models import ScoringModel
from qa.features import FEATURES
from qa.kinds import question_kind
sh = ScoringModel.from_json(open("qa/models/reranker.json").read()).bind(FEATURES)
pool = load_articles(SQUAD11_TRAIN); random.Random(0).shuffle(pool)
emb = CachedEmbedder(CACHE / "embeddings.npz")
n = 0
for a in range(0, 30):
    art = hold_out_paragraphs(pool[a], 0.3, seed=a)
    qs = [q for q in art.questions if not q.impossible and question_kind(q.question) in ("reason","manner")]
    art = type(art)(art.title, art.text, art.paragraph_spans, tuple(qs))
    run = run_article(art, emb)
    for q, c in zip(run.questions, run.cands):
        if not len(c.rows): continue
        p = sh.predict(c.features); order = np.argsort(-p, kind="stable")
        ys = [is_answer_sentence(run, q, int(c.rows[i])) for i in order]
        if ys[0]: continue
        pos = ys.index(True) if True in ys else None
        n += 1
        top = int(c.rows[order[0]])
        print(f"### [{question_kind(q.question)}] {q.question}  | gold: {q.answers[0]!r}  | gold at rank {pos}")
        print("  TOP:", run.index.sentences[top].text[:300])
        if pos is not None:
            g = int(c.rows[order[pos]])
            print(f"  GOLD (row {g-top:+d} from top):", run.index.sentences[g].text[:300])
print(n)
