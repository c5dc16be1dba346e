"""Probe: gather reranker rows for train articles 0..199 with extra features; save npz."""
import pickle, random, sys, time
import numpy as np
from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import is_answer_sentence, run_article
from index.embed import CachedEmbedder
from index.text import tokenize
from qa.explain import REASON_CUES, MANNER_CUES
from qa.kinds import question_kind, EXPLANATION_KINDS

lo, hi = int(sys.argv[1]), int(sys.argv[2])
pool = load_articles(SQUAD11_TRAIN)
random.Random(0).shuffle(pool)
emb = CachedEmbedder(CACHE / "embeddings.npz")
out = []
t = time.time()
for a in range(lo, hi):
    art = hold_out_paragraphs(pool[a], 0.3, seed=a)
    ans = [q for q in art.questions if not q.impossible]
    una = [q for q in art.questions if q.impossible]
    base = ans[:60] + una[:30]
    extra = [q for q in ans[60:] if question_kind(q.question) in EXPLANATION_KINDS]
    art2 = type(art)(art.title, art.text, art.paragraph_spans, tuple(base + extra))
    run = run_article(art2, emb)
    idx = run.index
    vecs = None
    for qi, (q, c) in enumerate(zip(run.questions, run.cands)):
        if q.impossible or not len(c.rows):
            continue
        qinfo = c.question
        total_w = sum(qinfo.weights.values()) or 1.0
        def ov(row):
            st = set(idx.sentence_stems(row))
            return sum(qinfo.weights[s] for s in st & qinfo.stems) / total_w
        kind = question_kind(q.question)
        ext = []
        ys = []
        texts = []
        for row, f in zip(c.rows, c.features):
            row = int(row)
            prev = row - 1 if idx.same_document(row, row - 1) else None
            nxt = row + 1 if idx.same_document(row, row + 1) else None
            toks = tokenize(idx.sentences[row].text)
            rc = any(t.surface.lower() in REASON_CUES and (not t.stem or t.stem not in qinfo.stems) for t in toks)
            mc = any(t.surface.lower() in MANNER_CUES and (not t.stem or t.stem not in qinfo.stems) for t in toks)
            ext.append([ov(prev) if prev is not None else 0.0, ov(nxt) if nxt is not None else 0.0,
                        float(rc), float(mc)])
            ys.append(is_answer_sentence(run, q, row))
        # dense of prev/next: recompute from vectors
        out.append(dict(article=a, kind=kind, base=qi < len(base), x=np.asarray(c.features), ext=np.asarray(ext),
                        y=np.asarray(ys, int), rows=np.asarray(c.rows), question=q.question))
    print(f"\r {a+1}/{hi} {len(out)} q {time.time()-t:.0f}s", end="", flush=True)
emb.save()
pickle.dump(out, open(f"artifacts/issue32/rows-{lo}-{hi}.pkl", "wb"))
print()
