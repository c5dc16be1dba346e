"""Warm ``ask`` latency on the seed article against the time to embed the question alone.

    python -m eval.bench.latency [--repeats 5]

Both are measured in one process, interleaved question by question, so machine noise hits both
alike; the ratio p50(ask) / p50(embed) is what the project adds on top of the model.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from eval.seed_set import load_seed_set
from qa.service import QAService


def interleaved_ms(run: Callable[[str], object], embedder, questions: list[str],
                   repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of ``run(q)`` and of embedding ``q`` alone, question by question, after a
    warm-up of five (first calls allocate)."""
    for q in questions[:5]:
        run(q)
        embedder.encode_one(q)
    run_ms, embed_ms = [], []
    for _ in range(repeats):
        for q in questions:
            t = time.perf_counter()
            embedder.encode_one(q)
            embed_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            run(q)
            run_ms.append((time.perf_counter() - t) * 1000)
    return np.array(run_ms), np.array(embed_ms)


def measure(svc: QAService, questions: list[str], repeats: int) -> dict[str, float]:
    """Warm ask and embed-the-question latencies on the seed article, interleaved."""
    a, e = interleaved_ms(svc.ask, svc.index.embedder, questions, repeats)
    return {
        "questions": len(questions),
        "calls": len(a),
        "ask_ms_p50": float(np.percentile(a, 50)),
        "ask_ms_p95": float(np.percentile(a, 95)),
        "embed_ms_p50": float(np.percentile(e, 50)),
        "embed_ms_p95": float(np.percentile(e, 95)),
        "ratio_p50": float(np.percentile(a, 50) / np.percentile(e, 50)),
        "ratio_p95": float(np.percentile(a, 95) / np.percentile(e, 95)),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.bench.latency``: warm ask p50/p95 against embedding the question."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    svc = QAService.from_seeds()
    data = load_seed_set()
    questions = [q["question"] for q in data["questions"]]
    result = measure(svc, questions, args.repeats)
    for k, v in result.items():
        print(f"{k:<14} {v:.2f}" if isinstance(v, float) else f"{k:<14} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
