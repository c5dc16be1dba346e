"""How much the reader's scores depend on what else is read in the same forward pass.

    python -m eval.probes.batch_drift [--pairs 80]

With int8 linear layers (``Config.reader_precision`` "int8") quantizing their inputs with one
scale per forward pass (a model without calibrated ranges, ``eval.train.calibrate_int8``), a
(question, sentence) pair read together with other pairs (``qa/batching.py``, asks in flight at
the same time) scores a little differently from the same pair read alone; with the shipped
reader's calibrated scales only float noise is left (the layers that stay float32, attention and
layer norms, sum in another order over a padded pass, and at a rounding edge an int8 step flips).

Prints the absolute difference of the reader's evidence (span minus no-answer score, in logits)
for seed-article pairs read alone and read with 7 others, for the reader in each precision
(bfloat16 is emulated, slowly, on a CPU without it).
"""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np

from eval.seed_set import load_seed_set
from index.config import Config
from index.settings import seeds_dir
from index.split import split_sentences
from qa.reader import Reader, resolve_reader_precision


def drift(reader: Reader, pairs: list[tuple[str, str]], n: int, rng: random.Random) -> np.ndarray:
    """How far the reader's evidence moves between a pair read alone and with others."""
    out = []
    for q, s in pairs[:n]:
        alone = reader.read(q, [s])[0].evidence
        # 8 pairs of 8 questions: one forward pass (CHUNK_PAIRS), as a shared call reads them
        shared = reader.read_many([(q, [s])] + [(q2, [s2]) for q2, s2 in rng.sample(pairs, 7)])
        out.append(abs(alone - shared[0][0].evidence))
    return np.asarray(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.probes.batch_drift``: drift per precision on the seed pairs."""
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=80)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seed = load_seed_set()
    text = (seeds_dir() / f"{seed['article']}.txt").read_text(encoding="utf-8")
    sentences = [s.text for s in split_sentences(seed["article"], text)]
    questions = [q["question"] for q in seed["questions"]]
    rng = random.Random(0)
    pairs = [(rng.choice(questions), rng.choice(sentences)) for _ in range(200)]
    print(f"reader evidence, |read alone - read with 7 other pairs| (logits), {args.pairs} pairs")
    default = resolve_reader_precision(Config().reader_precision)
    for precision in ("bfloat16", "int8", "int8-mixed", "float32"):
        reader = Reader(precision=precision)
        d = drift(reader, pairs, args.pairs, random.Random(1))
        name = f"{precision} (default)" if precision == default else precision
        print(f"  {name:<15} mean {d.mean():.3f}  p90 {np.percentile(d, 90):.3f}  max {d.max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
