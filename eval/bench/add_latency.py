"""Questions while a large article is added: ask latency with and without the add, one run.

    python -m eval.bench.add_latency [--askers 4] [--chars 1000000] [--baseline-seconds 20]
    qa bench --during-add ...

A real server (``ui.server``) on a fresh library; ``askers`` clients ask about the bundled
article through the HTTP API, first alone for ``baseline-seconds``, then while one more client
adds an article of ``chars`` characters. Prints p50/p95 of both phases and their ratio (the
target: p95 during the add within 2x of p95 without it). Figures, not assertions: the ratio is
what compares, measured in one process on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path


def article(chars: int) -> str:
    """A long article made of SQuAD paragraphs, about ``chars`` characters."""
    parts, n = [], 0
    while sum(map(len, parts)) < chars:
        parts.append(f"Harbour report part {n}. The crane on pier {n} lifted {n * 11} containers on "
                     f"Tuesday. Workers on pier {n} asked for a new shift plan.")
        n += 1
    return "Harbour reports\n\n" + "\n\n".join(parts)


def _ask_until(url: str, stop: threading.Event, out: list[float], errors: list[str]) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    while not stop.is_set():
        t = time.perf_counter()
        try:
            client.predict("How many rockets did Hamas fire on Sunday?", None, None, api_name="/ask")
            out.append((time.perf_counter() - t) * 1000)
        except Exception as exc:  # noqa: BLE001 - counted and printed
            errors.append(str(exc)[:200])


def _phase(url: str, askers: int, seconds: float | None, during=None) -> tuple[list[float], list[str], float]:
    stop, times, errors = threading.Event(), [], []
    threads = [threading.Thread(target=_ask_until, args=(url, stop, times, errors)) for _ in range(askers)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    if during is not None:
        time.sleep(1.0)
        during()
    else:
        time.sleep(seconds)
    spent = time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join()
    return times, errors, spent


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else float("nan")


def main(argv: list[str] | None = None) -> int:
    """``qa bench --during-add``: ask latency while a big article is added."""
    from gradio_client import Client

    from ui.server import start_in_background

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--askers", type=int, default=4)
    ap.add_argument("--chars", type=int, default=1_000_000)
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    running = start_in_background(Path(tempfile.mkdtemp(prefix="qa-add-")) / "index")
    try:
        text = article(args.chars)
        base, base_errors, _ = _phase(running.url, args.askers, args.baseline_seconds)
        added: dict = {}

        def add() -> None:
            added.update(Client(running.url, verbose=False).predict(text, "Harbour reports", "harbour",
                                                                      api_name="/add_article"))

        during, during_errors, spent = _phase(running.url, args.askers, None, during=add)
    finally:
        running.close()
    p95_base, p95_during = _pct(base, 95), _pct(during, 95)
    print(f"article: {len(text):,} characters, added as {added.get('doc_id')!r} in {spent:.1f} s")
    print(f"{'phase':<16}{'asks':>6}{'p50 ms':>10}{'p95 ms':>10}{'errors':>8}")
    print(f"{'without add':<16}{len(base):>6}{_pct(base, 50):>10.0f}{p95_base:>10.0f}{len(base_errors):>8}")
    print(f"{'during add':<16}{len(during):>6}{_pct(during, 50):>10.0f}{p95_during:>10.0f}"
          f"{len(during_errors):>8}")
    print(f"p95 during / without: {p95_during / p95_base:.2f}x (target <= 2x)")
    for e in (base_errors + during_errors)[:3]:
        print("error:", e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
