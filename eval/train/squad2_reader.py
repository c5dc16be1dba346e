"""Fine-tune the reader on the public SQuAD 2.0 split's own questions, cross-fitted by article:
what its unanswerable questions look like was written by people, not made by rules.

    python -m eval.train.squad2_reader --half 0|1|all [--epochs 1] [--lr 3e-5] [--threads 2]
                                       [--out DIR]

* ``--half H`` (0 or 1) trains on the *other* half of the split's articles
  (:func:`eval.train.fit_reading.article_half`) and writes ``eval/models/reader-xfit-H.*``: the reader
  ``qa eval`` uses on half H, as it uses ``abstainer-xfit-H`` (both fitted without half H). It
  reports on half H against the reader it started from.
* ``--half all`` trains on both halves and writes the shipped ``qa/models/reader.*``.
* ``--out DIR`` writes the reader there instead (to try settings without touching the shipped
  files).

Every run starts from ``eval/models/reader-base.*`` (the reader ``eval.train.reader.SCHEDULE``
writes, trained on SQuAD v1.1 train only), which is also its teacher.

1. Rows (cached in ``artifacts/squad2-reader/rows.json``): every question of the public split
   asked article-level as ``qa eval`` asks it, by the engine with the base reader, with the
   engine's best 2 sentences (final score), the sentence holding its answer and the answer's
   span in it, the half of its article and the abstention features.
2. Training (:func:`squad2_examples`): the answer sentence with its span; the engine's best 2
   sentences labelled "no answer" when they do not hold an answer (every one, for the
   unanswerable questions). Each step: 16 of these and 16 of the base reader's own training
   examples (40 of its articles), those held to the base reader by distillation
   (``eval.train.reader.distill_loss``); AdamW with linear decay; ``--epochs`` passes over the
   SQuAD 2.0 examples.
3. Report, on the half not trained on (``--half 0|1``): AUROC (answerable or not) of the reader's
   evidence on the engine's best sentence, and of the 22 abstention features with the reader's
   replaced (logistic, 2-fold by article inside the half); exact span on the answer sentences.
   Every run also reports the reader's own validation (``eval.train.reader``: SQuAD v1.1 train
   articles it never saw, its spans and its no-answer AUROC).

First measured 2026-11-27 as a probe (300 steps, from the base reader): trained on half 0,
reported on half 1's 2,867 questions: evidence AUROC 0.756 -> 0.768, abstention features
0.736 -> 0.750, exact span 0.532 -> 0.542; trained on half 1, reported on half 0's 3,440: 0.739
-> 0.751, 0.724 -> 0.738, 0.487 -> 0.498.

Two passes (``--epochs 2``) against one, tried 2026-11-27 and not kept: on the half each
cross-fitted reader did not see, evidence AUROC 0.751 -> 0.758 and 0.767 -> 0.771; shipped with
the models refitted for it, ``qa eval`` gave SQuAD 2.0 AUROC 0.762 -> 0.768 but on the seed
article 2 of 12 unanswerable questions fewer refused and 4 of 46 paraphrased ones more refused
(docs/models.md, "Tried and not kept").
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

from eval.squad import contains_answer
from eval.train.reader_data import ReaderExample

WORK = Path(__file__).resolve().parents[2] / "artifacts" / "squad2-reader"
READER_FEATURES = ("reader_evidence_top", "reader_evidence_max", "reader_null_top", "reader_span_top")
BASE = "reader-base"  # in eval/models: the start and teacher of every run
SQUAD2_PER_STEP, OWN_PER_STEP = 16, 16


def base_reader(precision: str | None = None):
    """The reader every run starts from (in the engine's precision unless told)."""
    from eval.crossfit import XFIT_DIR
    from qa.reader import Reader

    return Reader(XFIT_DIR, BASE) if precision is None else Reader(XFIT_DIR, BASE, precision)


def collect_rows() -> dict:
    """The public split's questions as the engine with the base reader reads them (see the
    module docstring, 1)."""
    from eval.crossfit import article_half
    from eval.train.fit_reading import ask_squad2
    from qa.service import ABSTAIN_WITH_READER, QAService

    shipped, rows, order = QAService(), [], {}  # order: article title -> its number
    asked = ask_squad2(shipped.reranker, shipped.final, base_reader(), shipped.index.embedder)
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


def squad2_examples(rows: list[dict], halves: tuple[int, ...]) -> list[ReaderExample]:
    """Reader examples from the rows of ``halves``: each answer sentence with its span, and each
    of the engine's best sentences that holds no answer labelled ``None`` (one example per pair)."""
    out, seen = [], set()
    for r in rows:
        if r["half"] not in halves:
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


def train(examples: list[ReaderExample], steps: int, lr: float, base):
    """The ``base`` reader fine-tuned on ``examples`` (see the module docstring, 2): a copy of
    its model (``base`` stays as it was: it is the teacher)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from eval.train.reader import NEW_KINDS, distill_loss, optimizer_step
    from eval.train.reader_inputs import articles, tensorize
    from eval.train.reader_inputs import examples as train_examples
    from index.encoder import load_tokenizer

    own = train_examples(articles()[0][:40], seed=1, other_adversarial=True, word_swaps=0.25,
                         low_overlap=0.25)
    new = {*NEW_KINDS, "squad2_positive", "squad2_negative"}
    teacher = base.model.requires_grad_(False)
    model = copy.deepcopy(teacher).requires_grad_(True)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # shipped by the package
    model.train()
    tokenizer = load_tokenizer()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    rng, t0 = random.Random(5), time.time()
    for step in range(1, steps + 1):
        batch = rng.sample(examples, SQUAD2_PER_STEP) + rng.sample(own, OWN_PER_STEP)
        inputs = tensorize(tokenizer, batch)
        kept = inputs.pop("kept")
        out = model(**inputs)
        anchored = torch.as_tensor([batch[i].kind not in new for i in kept])
        optimizer_step(out.loss + distill_loss(teacher, inputs, out, anchored), opt, sched, params)
        if step % 20 == 0:
            print(f"  step {step}/{steps} loss {out.loss.item():.3f} {(time.time() - t0) / step:.2f}s/step",
                  flush=True)
    return model.eval()


def report(data: dict, half: int, model, base) -> dict[str, dict[str, float]]:
    """The figures of the module docstring (3) on ``half`` (which ``model`` was not trained on),
    for the ``base`` reader and for ``model``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    rows = [r for r in data["rows"] if r["half"] == half]
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

    tuned = copy.copy(base)  # the same tokenizer and settings, the tuned weights
    tuned.model = model
    out = {}
    for name, reader in (("base", base), ("tuned", tuned)):
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


def own_validation(model) -> dict[str, float]:
    """The reader's own validation (``eval.train.reader``): SQuAD v1.1 train articles it never
    saw, with the kinds of examples the base reader was last trained on."""
    from eval.train.reader_inputs import articles, evaluate
    from eval.train.reader_inputs import examples as train_examples
    from index.encoder import load_tokenizer

    val = train_examples(articles()[1], seed=2, other_adversarial=True, word_swaps=0.25,
                         low_overlap=0.25)[:1500]
    return {k: round(v, 4) for k, v in evaluate(model, load_tokenizer(), val).items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.train.squad2_reader --half 0|1|all``: the reader's SQuAD 2.0 stage."""
    import torch

    from eval.crossfit import XFIT_DIR
    from eval.train.save_reader import write_reader
    from qa.reader import MODEL_DIR

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--half", choices=("0", "1", "all"), required=True,
                    help="0 or 1: the half the reader is for (trained on the other); all: shipped")
    ap.add_argument("--epochs", type=float, default=1.0, help="passes over the SQuAD 2.0 examples")
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None,
                    help=f"where to write the reader (default: {MODEL_DIR.name}/ of qa for --half all, "
                    f"{XFIT_DIR.name}/ of eval for a half)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    WORK.mkdir(parents=True, exist_ok=True)
    cache = WORK / "rows.json"
    if not cache.exists():
        cache.write_text(json.dumps(collect_rows()), encoding="utf-8")
    data = json.loads(cache.read_text(encoding="utf-8"))
    halves = (0, 1) if args.half == "all" else (1 - int(args.half),)
    examples = squad2_examples(data["rows"], halves)
    steps = max(1, round(args.epochs * len(examples) / SQUAD2_PER_STEP))
    print(f"halves {halves}: {len(examples)} examples, {steps} steps", flush=True)
    t0 = time.time()
    base = base_reader("float32")
    model = train(examples, steps, args.lr, base)
    minutes = (time.time() - t0) / 60
    figures = {"validation": {"base": own_validation(base.model), "tuned": own_validation(model)}}
    if args.half != "all":
        figures[f"squad2_half_{args.half}"] = report(data, int(args.half), model, base)
    print(json.dumps(figures), flush=True)
    base_info = base.info
    n_questions = sum(r["half"] in halves for r in data["rows"])
    info = {k: base_info[k] for k in ("layers", "max_length", "max_question_tokens", "max_answer_tokens")}
    info.update({
        "fitted_on": f"{base_info['fitted_on']}; then the public SQuAD 2.0 split, half(s) {list(halves)} "
        f"({n_questions} questions, {len(examples)} examples: answer sentences and the engine's "
        "best sentences that hold no answer)",
        "training": f"{base_info['training']}; then {steps} steps of {SQUAD2_PER_STEP} SQuAD 2.0 + "
        f"{OWN_PER_STEP} own examples (distilled from the base reader) at lr {args.lr}, AdamW, "
        f"linear decay, {minutes:.0f} min on {args.threads} CPU threads",
        "command": f"{base_info['command']} && python -m eval.train.squad2_reader --half {args.half} "
        f"--epochs {args.epochs} --lr {args.lr}",
        "squad2_halves": list(halves),
        **figures,
    })
    if args.half == "all":
        write_reader(model, args.out or MODEL_DIR, info)
    else:
        write_reader(model, args.out or XFIT_DIR, info, name=f"reader-xfit-{args.half}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
