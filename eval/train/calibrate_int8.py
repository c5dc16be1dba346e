"""Calibrate the int8 input scales of the reader and the question encoder: the range of every
linear layer's input over fixed inputs of the model's own training data, written to its record
(``input_ranges`` in ``NAME.json``), so that in int8 each layer quantizes with that fixed scale
instead of one taken from each forward pass (``qa/precision.py``). A sentence or question then
scores exactly the same whatever it is read with (other asks' texts, their padding), and a
pass is a little faster.

    python -m eval.train.calibrate_int8 [--measure] [--threads 1]

Calibrates the shipped reader and the ones ``qa eval`` and the SQuAD 2.0 stage use
(``qa/models/reader``, ``eval/models/reader-base``, ``reader-xfit-0``, ``reader-xfit-1``: on
2,048 (question, sentence) pairs of the first 40 of the reader's training articles, its answer
sentences and hard and adversarial negatives) and the library's encoder for questions
(``index/models/encoder``: 2,048 questions of the same articles). ``eval.train.save_reader`` and
``eval.train.encoder`` calibrate every model they write. ``--measure`` prints, for the shipped
reader, exact span and has-answer AUROC on its 1,500 validation examples with per-pass
(dynamic) and calibrated (static) int8 scales, how far one sentence's logits move when read
alone and with 7 others, and a pass over one pair; for the encoder, how far one question's
vector moves when embedded alone and with 7 others (dense-only hit@1 as served: ``python -m
eval.probes.dense_hit``).

Measured 2026-11-27 (2-core AMD EPYC, AVX2 only, one thread): see docs/models.md, "Precision".
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from eval.train.reader_data import ReaderExample

ROOT = Path(__file__).resolve().parents[2]
READERS = [ROOT / "qa" / "models" / "reader", *(ROOT / "eval" / "models" / n for n in
                                                 ("reader-base", "reader-xfit-0", "reader-xfit-1"))]
ARTICLES, PAIRS, SEED = 40, 2048, 5  # the calibration inputs: the first of the training articles'
BATCH = 32
FROM = (f"python -m eval.train.calibrate_int8: {PAIRS} inputs of the first {ARTICLES} training articles "
        "(eval.train.reader.articles), float32")


def calibration_examples() -> list[ReaderExample]:
    """The fixed calibration pairs: answer sentences, hard and adversarial negatives of the first
    ``ARTICLES`` of the reader's training articles (never its validation articles)."""
    from eval.train.reader_inputs import articles, examples

    train, _ = articles()
    return examples(train[:ARTICLES], seed=SEED)[:PAIRS]


def observed_ranges(model, batches: Iterable[dict],
                    forward: Callable[[dict], object]) -> dict[str, list[float]]:
    """The lowest and highest value each linear layer of ``model`` (float32) takes as input
    while ``forward(batch)`` runs over ``batches``."""
    import torch

    seen: dict[str, list[float]] = {}

    def hook(name: str):
        def record(_module, args) -> None:
            lo, hi = float(args[0].min()), float(args[0].max())
            old = seen.setdefault(name, [lo, hi])
            seen[name] = [min(old[0], lo), max(old[1], hi)]
        return record

    handles = [m.register_forward_pre_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, torch.nn.Linear)]
    try:
        with torch.inference_mode():
            for batch in batches:
                forward(batch)
    finally:
        for h in handles:
            h.remove()
    return {n: [round(lo, 6), round(hi, 6)] for n, (lo, hi) in seen.items()}


def _write(record: Path, ranges: dict) -> None:
    info = json.loads(record.read_text(encoding="utf-8"))
    info["input_ranges"], info["input_ranges_from"] = ranges, FROM
    record.write_text(json.dumps(info, indent=1), encoding="utf-8")


def calibrate(directory: Path, name: str, data: list[ReaderExample] | None = None) -> dict:
    """Write ``input_ranges`` into ``directory/name.json`` from the reader there; returns them."""
    from eval.train.reader_inputs import tensorize
    from qa.reader import Reader

    reader = Reader(directory, name, precision="float32")
    data = data or calibration_examples()
    batches = (tensorize(reader.tokenizer, data[k : k + BATCH]) for k in range(0, len(data), BATCH))
    ranges = observed_ranges(reader.model, batches, lambda b: reader.model(
        **{n: b[n] for n in ("input_ids", "attention_mask", "token_type_ids")}))
    _write(directory / f"{name}.json", ranges)
    return ranges


def calibration_questions() -> list[str]:
    """The encoder's fixed calibration questions, of the same articles as the reader's pairs."""
    from eval.train.reader_inputs import articles

    train, _ = articles()
    return [q.question for art in train[:ARTICLES] for q in art.questions][:PAIRS]


def calibrate_encoder(directory: Path | None = None) -> dict:
    """Write ``input_ranges`` into the encoder's record in ``directory`` (default: the shipped
    one) from its questions' side; returns them."""
    from index.encoder import MODEL_DIR, NAME, load_encoder, load_tokenizer, pooled, tokenize

    directory = directory or MODEL_DIR
    _, model = load_encoder(directory)
    tokenizer = load_tokenizer()
    qs = calibration_questions()
    batches = (tokenize(tokenizer, qs[k : k + BATCH]) for k in range(0, len(qs), BATCH))
    ranges = observed_ranges(model, batches, lambda b: pooled(model, b))
    _write(directory / f"{NAME}.json", ranges)
    return ranges


def measure_reader(directory: Path, name: str) -> None:
    """Dynamic against calibrated int8 scales for the reader there (see the module docstring)."""
    import numpy as np
    import torch

    from eval.train.reader_inputs import articles, evaluate, examples
    from qa.precision import input_ranges, quantize_int8
    from qa.reader import Reader, encode_pairs

    reader = Reader(directory, name, precision="float32")
    ranges = input_ranges(reader.info, directory / f"{name}.json")
    if ranges is None:
        print(f"{directory / name}: not calibrated (run without --measure first)")
        return
    _, val = articles()
    plain = examples(val, seed=2)[:1500]
    pairs = [(e.question, e.sentence) for e in plain[:8]]
    for label, fixed in (("per-pass scales", None), ("calibrated scales", ranges)):
        model = quantize_int8(copy.deepcopy(reader.model), input_ranges=fixed)
        scores = evaluate(model, reader.tokenizer, plain)

        def logits(ps: list[tuple[str, str]], model=model) -> np.ndarray:
            enc = encode_pairs(reader.tokenizer, [q for q, _ in ps], [s for _, s in ps],
                               reader.max_length, reader.max_question_tokens)
            enc.pop("offset_mapping")
            with torch.inference_mode():
                return model(**{k: torch.as_tensor(v) for k, v in enc.items()}).start_logits.numpy()

        alone = logits(pairs[:1])[0]
        together = logits(pairs)[0][: len(alone)]
        times = []
        for i in range(30):
            t = time.perf_counter()
            logits([pairs[i % len(pairs)]])
            times.append(time.perf_counter() - t)
        print(f"{directory / name}, int8 {label}: exact span {scores['span_exact']:.4f}, has-answer AUROC "
              f"{scores['has_answer_auroc']:.4f}; one sentence alone vs with 7 others: start logits "
              f"differ by up to {np.abs(alone - together).max():.4f}; one pair p50 "
              f"{statistics.median(times) * 1000:.1f} ms", flush=True)


def measure_encoder() -> None:
    """How far a question's vector moves with what shares its pass, per-pass against calibrated
    int8 scales (int8-mixed, the fallback where bf16 is not native, and int8)."""
    import numpy as np

    from qa.qencoder import QuestionEncoder

    qs = calibration_questions()[:8]
    for precision in ("int8-mixed", "int8"):
        for label, enc in (("per-pass scales", uncalibrated_encoder(precision)),
                           ("calibrated scales", QuestionEncoder(precision=precision))):
            alone, together = enc.encode(qs[:1])[0], enc.encode(qs)[0]
            print(f"encoder, {precision} {label}: one question alone vs with 7 others: vectors differ "
                  f"by up to {np.abs(alone - together).max():.6f}", flush=True)


def uncalibrated_encoder(precision: str):
    """The shipped encoder in ``precision`` as if it had no calibrated ranges (a scale per pass)."""
    from qa.precision import apply_precision
    from qa.qencoder import QuestionEncoder

    enc = QuestionEncoder(precision="float32")
    enc.model, enc.precision = apply_precision(enc.model, precision), precision
    return enc


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.train.calibrate_int8 [--measure]``: calibrate (or compare) the int8 input scales."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", action="store_true", help="compare per-pass and calibrated scales")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.measure:
        measure_reader(READERS[0].parent, READERS[0].name)
        measure_encoder()
        return 0
    data = calibration_examples()
    for path in READERS:
        ranges = calibrate(path.parent, path.name, data)
        print(f"{path}.json: input ranges of {len(ranges)} layers", flush=True)
    print(f"the encoder: input ranges of {len(calibrate_encoder())} layers", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
