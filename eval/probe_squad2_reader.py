"""Probe (measures; ships nothing): does the reader learn SQuAD 2.0's own unanswerable questions
when it is shown some? Fine-tunes the shipped reader on one half of the public SQuAD 2.0 split
and reports on the other half, against the shipped reader.

    python -m eval.probe_squad2_reader --half 0 [--steps 300] [--lr 3e-5] [--threads 1]

1. Rows (cached in ``artifacts/squad2-reader/rows.json``): every question of the public split
   asked article-level as ``qa eval`` asks it, with the engine's best 2 sentences (final score),
   the sentence holding its answer and the answer's span in it, the half of its article
   (:func:`eval.fit_reading.article_half`, as the cross-fitted abstainers) and the shipped
   abstention features.
2. Training (:func:`squad2_examples`): the answer sentence with its span; the engine's best 2
   sentences labelled "no answer" when they do not hold an answer (every one, for the
   unanswerable questions). Each step: 16 of these and 16 of the reader's own training examples
   (40 of its articles), those held to the shipped reader by distillation
   (``eval.train_reader.distill_loss``), from the shipped weights, AdamW with linear decay.
3. Report, on the other half: AUROC (answerable or not) of the reader's evidence on the engine's
   best sentence, and of the 22 abstention features with the reader's replaced (logistic,
   2-fold by article inside the half); exact span on the answer sentences.

Measured 2026-11-27 (300 steps, 23-24 minutes on one thread beside other work), shipped reader
-> probe: ``--half 0``, reported on half 1's 2,867 questions: evidence AUROC 0.756 -> 0.768,
abstention features 0.736 -> 0.750, exact span 0.532 -> 0.542; ``--half 1``, reported on half
0's 3,440: 0.739 -> 0.751, 0.724 -> 0.738, 0.487 -> 0.498.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from eval.reader_data import ReaderExample
from eval.squad import contains_answer

WORK = Path(__file__).resolve().parent.parent / "artifacts" / "squad2-reader"
READER_FEATURES = ("reader_evidence_top", "reader_evidence_max", "reader_null_top", "reader_span_top")


def collect_rows() -> dict:
    """The public split's questions as the engine reads them (see the module docstring, 1)."""
    from eval.fit_reading import article_half, ask_squad2
    from qa.service import ABSTAIN_WITH_READER, QAService

    shipped, rows, order = QAService(), [], {}  # order: article title -> its number
    asked = ask_squad2(shipped.reranker, shipped.final, shipped.reader, shipped.index.embedder)
    for art, q, svc, cands, scored in asked:
        sents = svc.index.sentences
        best = np.argsort(-scored.final, kind="stable")[:2]
        gold = None
        if not q.impossible:
            lo, hi = art.paragraph_spans[q.paragraph]
            pos = art.text.find(q.answers[0], lo, hi)
            end = pos + len(q.answers[0])
            for s in sents:
                if pos >= 0 and s.start <= pos and end <= s.end:
                    gold = [s.text, pos - s.start, end - s.start]
                    break
        rows.append({"question": q.question, "answers": list(q.answers), "impossible": q.impossible,
                     "half": article_half(art.title), "article": order.setdefault(art.title, len(order)),
                     "gold": gold, "top": [sents[int(cands.rows[int(i)])].text for i in best],
                     "features": [scored.features.get(n, 0.0) for n in ABSTAIN_WITH_READER]})
    return {"features": list(ABSTAIN_WITH_READER), "rows": rows}


def squad2_examples(rows: list[dict], half: int) -> list[ReaderExample]:
    """Reader examples from the rows of ``half``: each answer sentence with its span, and each of
    the engine's best sentences that holds no answer labelled ``None`` (one example per pair)."""
    out, seen = [], set()
    for r in rows:
        if r["half"] != half:
            continue
        if r["gold"]:
            text, a, b = r["gold"]
            out.append(ReaderExample(r["question"], text, (a, b), "squad2_positive"))
            seen.add((r["question"], text))
        for text in r["top"]:
            if (r["question"], text) in seen or (not r["impossible"] and contains_answer(text, r["answers"])):
                continue
            seen.add((r["question"], text))
            out.append(ReaderExample(r["question"], text, None, "squad2_negative"))
    return out


def train(examples: list[ReaderExample], steps: int, lr: float):
    """The shipped reader fine-tuned on ``examples`` (see the module docstring, 2): its model."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from eval.train_reader import NEW_KINDS, articles, distill_loss, optimizer_step, tensorize
    from eval.train_reader import examples as train_examples
    from index.encoder import load_tokenizer
    from qa.reader import Reader

    own = train_examples(articles()[0][:40], seed=1, other_adversarial=True, word_swaps=0.25,
                         low_overlap=0.25)
    new = {*NEW_KINDS, "squad2_positive", "squad2_negative"}
    teacher = Reader(precision="float32").model.requires_grad_(False)
    model = Reader(precision="float32").model.requires_grad_(True)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # shipped by the package
    model.train()
    tokenizer = load_tokenizer()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    rng, t0 = random.Random(5), time.time()
    for step in range(1, steps + 1):
        batch = rng.sample(examples, 16) + rng.sample(own, 16)
        inputs = tensorize(tokenizer, batch)
        kept = inputs.pop("kept")
        out = model(**inputs)
        anchored = torch.as_tensor([batch[i].kind not in new for i in kept])
        optimizer_step(out.loss + distill_loss(teacher, inputs, out, anchored), opt, sched, params)
        if step % 20 == 0:
            print(f"  step {step}/{steps} loss {float(out.loss):.3f} {(time.time() - t0) / step:.2f}s/step",
                  flush=True)
    return model.eval()


def report(data: dict, half: int, model) -> dict[str, dict[str, float]]:
    """The figures of the module docstring (3) on the half that ``model`` was not trained on,
    for the shipped reader and for ``model``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from qa.reader import Reader

    rows = [r for r in data["rows"] if r["half"] != half]
    y = np.asarray([not r["impossible"] for r in rows], dtype=int)
    article = np.asarray([r["article"] for r in rows])
    first = np.isin(article, sorted(set(article))[::2])
    cols = [data["features"].index(n) for n in READER_FEATURES]

    def two_fold(x: np.ndarray) -> float:
        conf = np.empty(len(y))
        for fit in (first, ~first):
            scale = StandardScaler().fit(x[fit])
            m = LogisticRegression(max_iter=3000).fit(scale.transform(x[fit]), y[fit])
            conf[~fit] = m.decision_function(scale.transform(x[~fit]))
        return float(roc_auc_score(y, conf))

    shipped = Reader(precision="float32")
    probe = copy.copy(shipped)  # the same tokenizer and settings, the probe's weights
    probe.model = model
    out = {}
    for name, reader in (("shipped", shipped), ("probe", probe)):
        reads = reader.read_many([(r["question"], r["top"]) for r in rows])
        x = np.asarray([r["features"] for r in rows])
        x[:, cols] = [[rs[0].evidence, max(z.evidence for z in rs), rs[0].null_score, rs[0].span_score]
                      for rs in reads]
        golds = [r for r in rows if r["gold"]]
        spans = reader.read_many([(r["question"], [r["gold"][0]]) for r in golds])
        out[name] = {"evidence_auroc": round(float(roc_auc_score(y, x[:, cols[0]])), 4),
                     "features_auroc": round(two_fold(x), 4),
                     "exact_span": round(float(np.mean([(s[0].start, s[0].end) == tuple(r["gold"][1:])
                                                         for r, s in zip(golds, spans, strict=True)])), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", type=int, choices=(0, 1), required=True, help="the half to train on")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    WORK.mkdir(parents=True, exist_ok=True)
    cache = WORK / "rows.json"
    if not cache.exists():
        cache.write_text(json.dumps(collect_rows()), encoding="utf-8")
    data = json.loads(cache.read_text(encoding="utf-8"))
    examples = squad2_examples(data["rows"], args.half)
    print(f"half {args.half}: {len(examples)} examples", flush=True)
    model = train(examples, args.steps, args.lr)
    figures = report(data, args.half, model)
    print(json.dumps({"trained_on_half": args.half, "steps": args.steps, "lr": args.lr, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
