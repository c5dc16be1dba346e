"""``qa bench --guide``: the time to make an article guide, warm, for a news-length article (the
bundled one, about 5,000 characters) and a 50,000-character one (the longest public SQuAD 2.0
article, cut after the paragraph that reaches it), against one warm question on the same article in
the same process (the ratio is the figure that travels between machines). Nothing here asserts a time.

    qa bench --guide [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from eval.squad import SQUAD2_DEV, load_articles
from index.settings import seeds_dir
from qa import QAService
from qa.guide import make_guide

LONG_CHARS = 50_000


def _long_article() -> tuple[str, str]:
    art = max(load_articles(SQUAD2_DEV), key=lambda a: len(a.text))
    parts, size = [], 0
    for para in art.text.split("\n\n"):
        parts.append(para)
        size += len(para) + 2
        if size >= LONG_CHARS:
            break
    return art.title, "\n\n".join(parts)


def measure(repeats: int) -> list[dict]:
    """Per article: its length, the guide's median seconds (min-max), a warm ask's median and
    the ratio of the two."""
    seed = sorted(seeds_dir().glob("*.txt"))[0]
    rows = []
    for title, text in [(seed.stem, seed.read_text(encoding="utf-8")), _long_article()]:
        svc = QAService()
        doc_id = svc.add_document(text, doc_id=title[:200])
        question = "What happened after the announcement?"
        svc.ask(question, doc_ids=[doc_id])  # warm: encoder, reader, caches
        asks, guides = [], []
        for _ in range(repeats):  # interleaved, so drift hits both alike
            t0 = time.perf_counter()
            svc.ask(question, doc_ids=[doc_id])
            asks.append(time.perf_counter() - t0)
            guides.append(make_guide(svc, doc_id).seconds)
        g, a = statistics.median(guides), statistics.median(asks)
        rows.append({"chars": len(text), "guide_s": g, "guide_min": min(guides),
                     "guide_max": max(guides), "ask_ms": a * 1000, "ratio": g / a})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the guide timings (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="qa bench --guide", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"| article | guide, s (median, min-max of {args.repeats}) | one warm ask, ms | guide / ask |")
    print("|---|---|---|---|")
    for r in measure(args.repeats):
        print(f"| {r['chars']:,} chars | {r['guide_s']:.3f} ({r['guide_min']:.3f}-{r['guide_max']:.3f}) "
              f"| {r['ask_ms']:.1f} | {r['ratio']:.1f} |")
    return 0
