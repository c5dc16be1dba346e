"""Load test against the running server through its HTTP APIs, bounded in users and time.

    python -m eval.bench.load [--users 10] [--seconds 60] [--api both|rest|gradio] [--url URL]

Without ``--url`` it launches ``qa serve`` on a free loopback port with a temporary library (the
bundled article), in a process of its own (``--server thread``: in this process, as before,
where the clients' own Python work competes with the server's for one interpreter lock).
``--users`` clients ask questions in a loop while one more client adds (and removes) articles;
through the REST API (``/api/v1``, plain JSON, no queue) and through Gradio's named endpoints
(``gradio_client``), one after the other in the same run, so the two compare.
Every citation of the bundled article is checked against its text (``quote == text[start:end]``).
Prints asks/s, p50/p95/p99, errors and inexact citations per path.
"""

from __future__ import annotations

import argparse
import contextlib
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
    """What a load run measured: asks, errors, latencies, writes."""
    asks: list[float] = field(default_factory=list)
    adds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    inexact: int = 0  # citations whose quote is not text[start:end]

    def summary(self) -> dict[str, float]:
        """One line of figures for the terminal."""
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
            "ask_ms_p99": float(np.percentile(a, 99)),
            "ask_ms_max": float(a.max()),
            "inexact_citations": self.inexact,
        }


def run_load(url: str, users: int, seconds: float, seed: int = 0, api: str = "gradio") -> LoadResult:
    """``users`` askers and one writer for ``seconds`` through ``api`` ("gradio" or "rest")."""
    import httpx
    from gradio_client import Client

    questions = [q["question"] for q in load_seed_set()["questions"]]
    result = LoadResult()
    lock = threading.Lock()
    rest = f"{url.rstrip('/')}/api/v1"
    with httpx.Client(timeout=120) as h:
        seed_id = h.get(f"{rest}/articles").json()[0]["doc_id"]
        seed_text = h.get(f"{rest}/articles/{seed_id}").json()["text"]

    def ask_call():
        if api == "rest":
            h = httpx.Client(timeout=120)

            def call(question: str) -> dict:
                r = h.post(f"{rest}/ask", json={"question": question})
                if r.status_code != 200:
                    raise ValueError(f"HTTP {r.status_code}: {r.text[:100]}")
                return r.json()
            return call
        client = Client(url, verbose=False)
        return lambda question: client.predict(question, None, None, api_name="/ask")

    def asker(n: int) -> None:
        rng = random.Random(seed + n)
        call = ask_call()
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                ans = call(rng.choice(questions))
                if not isinstance(ans, dict) or "citations" not in ans:
                    raise ValueError(f"bad response {ans!r:.80}")
                inexact = sum(seed_text[c["start"]:c["end"]] != c["quote"]
                              for c in ans["citations"] + ans["related"] if c["doc_id"] == seed_id)
                with lock:
                    result.asks.append((time.perf_counter() - t) * 1000)
                    result.inexact += inexact
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                with lock:
                    result.errors.append(f"ask: {exc!r:.200}")

    def adder() -> None:
        client = None if api == "rest" else Client(url, verbose=False)
        h = httpx.Client(timeout=120)
        i = 0
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                text = (f"Load bulletin {i}\n\nThe council met for session {i} on Monday. "
                        f"It approved {i + 3} new bus routes.")
                if client is None:
                    r = h.post(f"{rest}/articles", json={"text": text, "title": f"Bulletin {i}"})
                    if r.status_code != 201:
                        raise ValueError(f"HTTP {r.status_code}: {r.text[:100]}")
                    doc = r.json()
                    if i % 2 and h.delete(f"{rest}/articles/{doc['doc_id']}").status_code != 200:
                        raise ValueError("remove failed")
                else:
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

    deadline = time.monotonic() + seconds
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
    """``python -m eval.bench.load``: load against a running server (or one it starts)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--api", choices=["both", "rest", "gradio"], default="both")
    ap.add_argument("--url", default=None, help="a running server (default: launch one)")
    ap.add_argument("--server", choices=["process", "thread"], default="process",
                    help="where a launched server runs (default: its own process)")
    args = ap.parse_args(argv)
    paths = ["rest", "gradio"] if args.api == "both" else [args.api]
    results = {}
    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            from ui.server import serve_process, start_in_background

            library = Path(tempfile.mkdtemp(prefix="qa-load-")) / "index"
            if args.server == "process":
                url = stack.enter_context(serve_process(library))
            else:
                running = start_in_background(library)
                stack.callback(running.close)
                url = running.url
        for api in paths:
            results[api] = run_load(url, args.users, args.seconds, api=api)
    summaries = {api: r.summary() for api, r in results.items()}
    where = args.url or f"server in {'its own process' if args.server == 'process' else 'this process'}"
    print(f"{args.users} askers + 1 writer, {args.seconds:.0f} s per path, {where}")
    print(f"{'':<20}" + "".join(f"{api:>12}" for api in paths))
    for k in next(iter(summaries.values())):
        cells = [summaries[api][k] for api in paths]
        print(f"{k:<20}" + "".join(f"{v:>12.1f}" if isinstance(v, float) else f"{v:>12}" for v in cells))
    if len(paths) == 2:
        ratio = summaries["rest"]["asks_per_second"] / max(summaries["gradio"]["asks_per_second"], 1e-9)
        print(f"REST / Gradio asks per second: {ratio:.2f}x")
    for api, r in results.items():
        for e in r.errors[:3]:
            print(f"error ({api}):", e)
    return 0 if not any(r.errors or r.inexact for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
