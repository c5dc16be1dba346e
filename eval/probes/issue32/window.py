import random, pickle, time, numpy as np
from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import is_answer_sentence, run_article
from index.embed import CachedEmbedder
from qa.kinds import question_kind, EXPLANATION_KINDS
from qa.service import QAService
svc = QAService()
print("max_length", svc.reader.max_length, "explain_read_k", svc.config.explain_read_k)
pool = load_articles(SQUAD11_TRAIN); random.Random(0).shuffle(pool)
emb = CachedEmbedder(CACHE / "embeddings.npz")
out = []
t = time.time()
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
        sc = svc.score(q.question, c, texts)
        order = np.argsort(-sc.final, kind="stable")
        top = int(c.rows[order[0]])
        rec = dict(a=a, kind=question_kind(q.question), hit=is_answer_sentence(run, q, top))
        s = idx.sentences[top].text
        for name, nb in (("next", top + 1), ("prev", top - 1)):
            if not idx.same_document(top, nb):
                continue
            ns = idx.sentences[nb].text
            win = s + " " + ns if name == "next" else ns + " " + s
            r_win, r_nb = svc.reader.read(q.question, [win, ns])
            in_nb = (r_win.start >= len(s) + 1) if name == "next" else (r_win.end <= len(ns))
            rec[name] = dict(gold=is_answer_sentence(run, q, nb), in_nb=in_nb, ev=r_win.evidence, ev_alone=r_nb.evidence,
                             ev_top=sc.read.readings[0].evidence if sc.read is not None else 0.0)
        out.append(rec)
    print(f"\r {a+1}/80 {len(out)} {time.time()-t:.0f}s", end="", flush=True)
pickle.dump(out, open("artifacts/issue32/window.pkl", "wb"))
