"""Load test against the running server through its HTTP API (gradio_client), bounded in users
and time, stopping by itself.

    python -m eval.load [--users 20] [--seconds 60] [--url http://127.0.0.1:7860/]

Without ``--url`` it launches the app on a free loopback port with a temporary library (the
bundled article). ``--users`` clients ask questions in a loop while one more client adds (and
removes) articles. Prints requests served, errors and latency percentiles.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.seed_set import load_seed_set


@dataclass
class LoadResult:
    asks: list[float] = field(default_factory=list)
    adds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        a = np.array(self.asks) if self.asks else np.zeros(1)
        return {
            "requests": len(self.asks) + len(self.adds),
            "asks": len(self.asks),
            "adds_and_removes": len(self.adds),
            "errors": len(self.errors),
            "seconds": self.seconds,
            "asks_per_second": len(self.asks) / max(self.seconds, 1e-9),
            "ask_ms_p50": float(np.percentile(a, 50)),
            "ask_ms_p95": float(np.percentile(a, 95)),
            "ask_ms_max": float(a.max()),
        }


def run_load(url: str, users: int, seconds: float, seed: int = 0) -> LoadResult:
    from gradio_client import Client

    questions = [q["question"] for q in load_seed_set()["questions"]]
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def asker(n: int) -> None:
        rng = random.Random(seed + n)
        client = Client(url, verbose=False)
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                ans = client.predict(rng.choice(questions), None, None, api_name="/ask")
                if not isinstance(ans, dict) or "citations" not in ans:
                    raise ValueError(f"bad response {ans!r:.80}")
                with lock:
                    result.asks.append((time.perf_counter() - t) * 1000)
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                with lock:
                    result.errors.append(f"ask: {exc!r:.200}")

    def adder() -> None:
        client = Client(url, verbose=False)
        i = 0
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                text = (f"Load bulletin {i}\n\nThe council met for session {i} on Monday. "
                        f"It approved {i + 3} new bus routes.")
                doc = client.predict(text, f"Bulletin {i}", "", api_name="/add_article")
                if i % 2:
                    client.predict(doc["doc_id"], api_name="/remove_article")
                with lock:
                    result.adds.append((time.perf_counter() - t) * 1000)
            except Exception as exc:  # noqa: BLE001
                with lock:
                    result.errors.append(f"add: {exc!r:.200}")
            i += 1
            time.sleep(0.5)

    threads = [threading.Thread(target=asker, args=(n,)) for n in range(users)]
    threads.append(threading.Thread(target=adder))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    result.seconds = time.monotonic() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--url", default=None, help="a running app (default: launch one)")
    args = ap.parse_args(argv)
    demo = None
    url = args.url
    if url is None:
        from ui.server import start_in_background

        demo = start_in_background(Path(tempfile.mkdtemp(prefix="qa-load-")) / "index")
        url = demo.url
    try:
        result = run_load(url, args.users, args.seconds)
    finally:
        if demo is not None:
            demo.close()
    for k, v in result.summary().items():
        print(f"{k:<18} {v:.1f}" if isinstance(v, float) else f"{k:<18} {v}")
    for e in result.errors[:5]:
        print("error:", e)
    return 0 if not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
