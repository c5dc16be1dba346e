"""Probe (tried 2026-11-27, not kept): does the reader read better when it sees the sentence
before the candidate too? The reader reads one sentence, so "He was born in 1856" cannot say
whose birth it is; a paragraph reader would know.

    python -m eval.context_probe train --mode context|none [--steps 500] --out DIR
    python -m eval.context_probe measure NAME:MODE:WEIGHTS [...]

``train`` fine-tunes ``eval/models/reader-base`` (the reader before its SQuAD 2.0 stage) for
``--steps`` batches of 32 of its own kind of examples (``eval.reader_data``, 120 of its train
articles; the rare kinds seen 4 times as often) at lr 3e-5, one thread, each sentence read
after the previous one (``context``: at most its last 40 tokens, then " [SEP] ") or alone
(``none``, the control: the same steps without context). ``measure`` reads, for each reader
(WEIGHTS: ``base`` or a trained ``DIR/state.pt``; MODE: ``context``, ``plain`` (the previous
sentence without the marker) or ``none``), the reader's own validation sentences (exact span,
has-answer AUROC) and a fifth of the public SQuAD 2.0 split's questions (fixed seed), every
sentence of the question's paragraph: AUROC of the best evidence (answerable or not), how
often the sentence read best holds the answer, and EM / F1 of its span. Spans are only ever
taken inside the candidate sentence.

Measured 2026-11-27 (float32, two threads; training 41 and 56 minutes side by side):

| reader, reading | v1.1 exact / AUROC | SQuAD 2.0 AUROC | best sentence holds it | EM / F1 |
|---|---|---|---|---|
| base, alone | 0.516 / 0.905 | **0.751** | 0.848 | 0.621 / 0.729 |
| base, after the previous sentence | 0.489 / 0.910 | 0.732 | **0.882** | **0.633 / 0.739** |
| 500 steps alone (control) | 0.507 / 0.900 | 0.742 | 0.799 | 0.600 / 0.697 |
| 500 steps after the previous sentence | 0.480 / 0.911 | 0.720 | 0.805 | 0.580 / 0.684 |

Context as it is helps the reader find the sentence (+3.4 points) and the span, and costs
1.9 points of the AUROC that abstention lives on: the context's words count as the
sentence's ("When was Edison born?" of "Tesla was born in 1856 in Smiljan." after "Edison was
born in 1847 in Ohio.": evidence 0.6 alone, 5.2 with the context, above "When was Tesla
born?" at 1.8); training with it did not turn that around
(against the control: AUROC 0.742 -> 0.720), and 500 steps without the base reader as
teacher cost every figure (the control against base), as ``eval.train_reader`` found before.
A context stage would need distillation from the base reader on the candidate's tokens and
the SQuAD 2.0 stage redone with context; not done.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from eval.metrics import squad_f1
from eval.reader_data import ReaderExample, article_examples
from eval.squad import SQUAD2_DEV, contains_answer, read_json
from eval.train_reader import MAX_ANSWER_TOKENS
from index.split import split_sentences
from qa.reader import Reading, decode_readings

PREV_TOKENS = 40  # the previous sentence is cut to its last tokens
MAX_LENGTH = 176  # the reader's 128 and room for the context
MARKER = " [SEP] "
MODES = ("context", "plain", "none")


def context_prefix(tokenizer, previous: str, mode: str) -> str:
    """What is read before a sentence whose previous sentence is ``previous``: its last
    ``PREV_TOKENS`` tokens, then the marker (``context``) or a space (``plain``); nothing for
    ``none`` or a paragraph's first sentence."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if not previous or mode == "none":
        return ""
    offsets = tokenizer(previous, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    cut = previous[offsets[-PREV_TOKENS][0]:] if len(offsets) > PREV_TOKENS else previous
    return cut + (MARKER if mode == "context" else " ")


def previous_sentences(text: str) -> dict[str, str]:
    """Each sentence of ``text`` -> the sentence before it ("" for the first)."""
    sents = [s.text for s in split_sentences("a", text)]
    return {s: (sents[i - 1] if i else "") for i, s in reversed(list(enumerate(sents)))}


def read_in_context(model, tokenizer, triples: list[tuple[str, str, str]]) -> list[Reading]:
    """Readings of (question, sentence, prefix) triples, spans in the sentence's own offsets:
    the prefix is read, never answered from."""
    import torch

    out: list[Reading | None] = [None] * len(triples)
    order = sorted(range(len(triples)), key=lambda i: sum(map(len, triples[i])))
    for lo in range(0, len(order), 16):
        ids = order[lo : lo + 16]
        chunk = [triples[i] for i in ids]
        enc = tokenizer([q for q, _, _ in chunk], [p + s for _, s, p in chunk], truncation="only_second",
                        max_length=MAX_LENGTH, padding=True, return_offsets_mapping=True,
                        return_tensors="np")
        offsets = enc.pop("offset_mapping")
        seq = np.asarray([[-1 if s is None else s for s in enc.sequence_ids(i)] for i in range(len(chunk))])
        skip = np.asarray([len(p) for _, _, p in chunk])[:, None]
        with torch.inference_mode():
            o = model(**{k: torch.as_tensor(v) for k, v in enc.items()})
        readings = decode_readings(o.start_logits.float().numpy(), o.end_logits.float().numpy(),
                                   (seq == 1) & (offsets[:, :, 0] >= skip), offsets, MAX_ANSWER_TOKENS)
        for i, r, (_, _, p) in zip(ids, readings, chunk, strict=True):
            out[i] = Reading(r.start - len(p), r.end - len(p), r.span_score, r.null_score)
    return out


def _with_previous(arts: list, rng: random.Random) -> list[tuple[ReaderExample, str]]:
    """The reader's own kind of examples of ``arts``, each with its sentence's previous one."""
    out = []
    for art in arts:
        prev = previous_sentences(art.text)
        out += [(e, prev.get(e.sentence, "")) for e in article_examples(
            art, rng, other_adversarial=True, word_swaps=0.25, low_overlap=0.25)]
    return out


def _base():
    from eval.train import XFIT_DIR
    from qa.reader import Reader

    return Reader(XFIT_DIR, "reader-base", "float32")


def train(mode: str, steps: int, out: Path) -> None:
    import torch
    from transformers import get_linear_schedule_with_warmup

    from eval.train_reader import NEW_KINDS, articles, optimizer_step, tensorize

    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = _base()
    rng = random.Random(1)
    data = _with_previous(articles()[0][:120], rng)
    rng.shuffle(data)
    data = [(e, context_prefix(base.tokenizer, pv, mode)) for e, pv in data]
    data += [x for x in data if x[0].kind in NEW_KINDS] * 3
    random.Random(3).shuffle(data)
    model = base.model.requires_grad_(True)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    t0 = time.time()
    for step in range(1, steps + 1):
        batch = data[(step - 1) * 32 : step * 32]
        inputs = tensorize(base.tokenizer, [e for e, _ in batch], [p for _, p in batch], MAX_LENGTH)
        inputs.pop("kept")
        optimizer_step(model(**inputs).loss, opt, sched, params)
        if step % 20 == 0:
            print(f"step {step}/{steps} {(time.time() - t0) / step:.2f}s/step", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "state.pt")
    print(f"{(time.time() - t0) / 60:.0f} min", flush=True)


def measure(specs: list[str]) -> None:
    import torch
    from sklearn.metrics import roc_auc_score

    from eval.train_reader import articles

    torch.set_num_threads(2)
    base = _base()
    tok, start = base.tokenizer, {k: v.clone() for k, v in base.model.state_dict().items()}
    val = _with_previous(articles()[1], random.Random(2))  # prefixes made per mode below
    random.Random(2).shuffle(val)
    val = val[:2000]
    rng, items = random.Random(0), []
    for art in read_json(SQUAD2_DEV)["data"]:
        for p in art["paragraphs"]:
            sents = [s.text for s in split_sentences("x", p["context"])]
            for q in p["qas"]:
                if rng.random() < 0.2:
                    items.append((q["question"], sents, list(q["answers"]), q["is_impossible"]))
    for spec in specs:
        name, mode, weights = spec.split(":")
        base.model.load_state_dict(start if weights == "base" else torch.load(weights))
        model = base.model.eval()
        r = read_in_context(model, tok, [(e.question, e.sentence, context_prefix(tok, pv, mode))
                                         for e, pv in val])
        exact = np.mean([(x.start, x.end) == e.answer for (e, _), x in zip(val, r, strict=True) if e.answer])
        v_auc = roc_auc_score([e.answer is not None for e, _ in val], [x.evidence for x in r])
        triples, who = [], []
        for i, (q, sents, _, _) in enumerate(items):
            for j, s in enumerate(sents):
                triples.append((q, s, context_prefix(tok, sents[j - 1] if j else "", mode)))
                who.append(i)
        best: dict[int, tuple[float, str, str]] = {}
        for i, x, (_, s, _) in zip(who, read_in_context(model, tok, triples), triples, strict=True):
            if i not in best or x.evidence > best[i][0]:
                best[i] = (x.evidence, s, s[max(x.start, 0) : x.end])
        y = [not it[3] for it in items]
        answerable = [i for i in range(len(items)) if y[i]]
        scores = {i: squad_f1(best[i][2], items[i][2]) for i in answerable}  # (EM, F1)
        print(json.dumps({
            "reader": name, "mode": mode,
            "v11_exact": round(float(exact), 4), "v11_auroc": round(float(v_auc), 4),
            "squad2_auroc": round(float(roc_auc_score(y, [best[i][0] for i in range(len(items))])), 4),
            "best_sentence_holds_answer": round(float(np.mean(
                [contains_answer(best[i][1], items[i][2]) for i in answerable])), 4),
            "em": round(float(np.mean([scores[i][0] for i in answerable])), 4),
            "f1": round(float(np.mean([scores[i][1] for i in answerable])), 4),
        }), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--mode", choices=("context", "none"), required=True)
    t.add_argument("--steps", type=int, default=500)
    t.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("measure")
    m.add_argument("specs", nargs="+", help="NAME:MODE:WEIGHTS (WEIGHTS: base or DIR/state.pt)")
    args = ap.parse_args(argv)
    if args.cmd == "train":
        train(args.mode, args.steps, args.out)
    else:
        measure(args.specs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
