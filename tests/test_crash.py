"""Crash safety: SIGKILL a writer at random points; the index always opens with the old or the
new set of documents, and no committed article is ever lost.

Kills per run: ``QA_CRASH_KILLS`` (default 8; the long form in docs/reliability.md uses 50).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from index.store import ArticleIndex
from tests.conftest import ARTIFACTS, ROOT, SEED_ID
from tests.crash_writer import article


def test_sigkill_during_writes_never_loses_or_breaks_the_index(fresh_service, seed_text, tmp_path):
    path = tmp_path / "idx"
    fresh_service.save(path)
    kills = int(os.environ.get("QA_CRASH_KILLS", "8"))
    rng = random.Random(1234)
    committed: list[str] = []
    stats = {"kills": 0, "recoveries": 0, "documents_lost": 0, "commits": 0, "in_flight_kept": 0}
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_writer", str(path), str(len(committed))],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda p=proc, out=lines: out.extend(p.stdout), daemon=True)
        assert proc.stdout.readline().strip() == "ready"
        reader.start()
        time.sleep(rng.uniform(0.0, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(timeout=5)
        stats["kills"] += 1
        done = [ln.split()[1] for ln in lines if ln.startswith("committed")]
        committed += done
        stats["commits"] += len(done)

        index = ArticleIndex.open(path)  # must open: old or new set, never a broken one
        stats["recoveries"] += 1
        expected = {SEED_ID, *committed}
        in_flight = f"doc-{len(committed)}"
        assert expected <= set(index.documents) <= expected | {in_flight}
        if in_flight in index.documents:  # killed after the rename, before "committed" printed
            committed.append(in_flight)
            stats["in_flight_kept"] += 1
        assert index.document_text(SEED_ID) == seed_text
        for doc_id in committed:
            n = int(doc_id.split("-")[1])
            assert index.document_text(doc_id) == article(n)
        assert len(index.sentences) == len(index.sentence_vectors)
    stats["documents_lost"] = 0  # every assertion above held
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "crash-test.json").write_text(json.dumps(stats, indent=1))
    assert stats["kills"] == stats["recoveries"] == kills
