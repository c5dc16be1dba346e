"""The engine's SQuAD figures with its reader in each precision (``Config.reader_precision``).

    python -m eval.reader_precision [--articles 6] [--precisions int8 bfloat16 ...] [--per-pass-scales]

Asks the first ``--articles`` public SQuAD 2.0 articles' questions article-level, as ``qa eval``
does (cross-fitted abstention model, questions embedded fresh), once per precision, one torch
thread; prints hit@1, short-answer EM / F1, abstention AUROC, unanswerable abstained, false
abstentions and ask p50. The shipped models are fitted for the default precision, so the others
are read with features a little off that fit. ``--per-pass-scales``: int8 as before
2026-11-27, with a scale per forward pass instead of the calibrated ranges (``eval.calibrate_int8``).
"""

from __future__ import annotations

import argparse
import sys
import time

from eval.metrics import grounding_metrics
from eval.run import squad_records
from eval.squad import SQUAD2_DEV, load_articles
from qa.precision import PRECISIONS
from qa.reader import Reader

SHOWN = ("hit@1", "short_em", "short_f1", "abstain_auroc", "abstain_recall", "false_abstention",
         "latency_ms_p50")


def engine_metrics(reader: Reader, articles: int) -> dict[str, float]:
    """The engine's figures on the first ``articles`` SQuAD articles, reading with ``reader``."""
    records = squad_records(articles, progress=False, reader=reader, engine_only=True)["engine"]
    return grounding_metrics(records)[0]


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=6)
    ap.add_argument("--precisions", nargs="+", default=["int8", "int8-mixed", "bfloat16", "float32"],
                    choices=[p for p in PRECISIONS if p != "auto"])
    ap.add_argument("--per-pass-scales", action="store_true",
                    help="int8 layers with a scale per pass, as before the calibrated ranges "
                         "(eval.calibrate_int8) of the reader and the question encoder")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.per_pass_scales:  # the models' records read as if they held no input_ranges
        import qa.qencoder
        import qa.reader

        qa.reader.input_ranges = qa.qencoder.input_ranges = lambda info, record: None
    articles = load_articles(SQUAD2_DEV, args.articles)
    n = sum(len(a.questions) for a in articles)
    print(f"{len(articles)} SQuAD 2.0 articles, {n} questions; " + " / ".join(SHOWN))
    for precision in args.precisions:
        t = time.time()
        m = engine_metrics(Reader(precision=precision), args.articles)
        print(f"  {precision:<11} " + "  ".join(f"{m[k]:.3f}" if k != "latency_ms_p50" else f"{m[k]:.1f} ms"
                                                for k in SHOWN) + f"  ({time.time() - t:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
