"""Several processes writing one library at once: child writers, the CLI and a running server.

Every acknowledged add is in the library afterwards, every acknowledged remove stays removed,
the library opens, and the server sees the other processes' articles without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from gradio_client import Client

from index.store import ArticleIndex
from tests.conftest import ROOT, SEED_ID, serve_process
from tests.library_writer import article

QA = os.path.join(os.path.dirname(sys.executable), "qa")


def _writer(path, prefix: str, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.library_writer", str(path), prefix, str(count)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _acknowledged(lines: list[str]) -> tuple[set[str], set[str]]:
    added = {ln.split()[1] for ln in lines if ln.startswith("added ")}
    removed = {ln.split()[1] for ln in lines if ln.startswith("removed ")}
    return added, removed


@pytest.mark.parametrize("writers", [2, 4])
def test_processes_writing_one_library_lose_nothing(fresh_service, tmp_path, writers):
    path = tmp_path / "lib"
    fresh_service.save(path)
    procs = [_writer(path, f"w{k}", 6) for k in range(writers - 1)]
    # the CLI is one of the writers: two adds in one call, then a remove
    files = []
    for n in range(3):
        f = tmp_path / f"cli-{n}.txt"
        f.write_text(article("cli", n), encoding="utf-8")
        files.append(f)
    cli = [subprocess.run([QA, "--index-dir", str(path), "index", "add", *map(str, files[:2])],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)]
    cli.append(subprocess.run([QA, "--index-dir", str(path), "index", "add", "--id", "cli-x", str(files[2])],
                              capture_output=True, text=True, timeout=600, cwd=ROOT))
    cli.append(subprocess.run([QA, "--index-dir", str(path), "index", "remove", "cli-x"],
                              capture_output=True, text=True, timeout=600, cwd=ROOT))
    outputs = [p.communicate(timeout=600) for p in procs]
    for (out, err), p in zip(outputs, procs, strict=True):
        assert p.returncode == 0 and out.strip().endswith("done"), err[-2000:]
    for c in cli:
        assert c.returncode == 0, c.stderr
    added, removed = set(), set()
    for out, _ in outputs:
        a, r = _acknowledged(out.splitlines())
        added, removed = added | a, removed | r
    cli_lines = [ln for c in cli[:2] for ln in c.stdout.splitlines()]
    cli_added = {ln.split(" as ")[1] for ln in cli_lines if ln.startswith("added")}
    assert len(cli_added) == 3 and "cli-x" in cli_added
    added |= cli_added
    removed.add("cli-x")
    index = ArticleIndex.open(path)
    assert set(index.documents) == {SEED_ID} | (added - removed)
    assert len(index.sentence_index) == index.live_sentences
    for doc_id in added - removed - cli_added:
        prefix, n = doc_id.split("-")
        assert index.document_text(doc_id) == article(prefix, int(n))


def test_processes_opening_a_library_of_the_bundled_model_at_once_upgrade_it_losing_nothing(
        seed_text, embedder, tmp_path):
    """A library embedded with the bundled all-MiniLM-L6-v2 is embedded again when opened
    (``index/cache.py``); two writers opening it at the same moment both upgrade it, and every
    acknowledged add and remove holds, every vector then this encoder's."""
    from dataclasses import replace

    import numpy as np

    from index.config import Config
    from index.embed import BUNDLED_NAME, Embedder, bundled_model_path

    path = tmp_path / "lib"
    old = ArticleIndex(replace(Config(), model_name=BUNDLED_NAME), Embedder(bundled_model_path()))
    old.add_document(seed_text, doc_id=SEED_ID)
    old.save(path)
    procs = [_writer(path, f"u{k}", 4) for k in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    added, removed = set(), set()
    for (out, err), p in zip(outputs, procs, strict=True):
        assert p.returncode == 0 and out.strip().endswith("done"), err[-2000:]
        a, r = _acknowledged(out.splitlines())
        added, removed = added | a, removed | r
    index = ArticleIndex.open(path)
    assert index.config.model_name == Config().model_name != BUNDLED_NAME
    assert set(index.documents) == {SEED_ID} | (added - removed) and len(added) == 8
    live = [i for i, s in enumerate(index.sentences) if s.doc_id in index.documents]
    assert len(live) == index.live_sentences
    texts = [index.sentences[i].text for i in live]
    np.testing.assert_allclose(index.sentence_vectors[live], embedder.encode(texts), atol=1e-5)


@pytest.fixture
def server(fresh_service, tmp_path):
    """A real ``qa serve`` process on the library ``tmp_path/lib``."""
    path = tmp_path / "lib"
    fresh_service.save(path)
    with serve_process(path) as url:
        yield path, url


def test_server_and_other_processes_share_one_library(server):
    path, url = server
    client = Client(url, verbose=False)
    writer = _writer(path, "w0", 6)
    served: list[str] = []

    def add_through_the_server() -> None:
        for n in range(4):
            r = client.predict(article("srv", n), f"srv {n}", f"srv-{n}", api_name="/add_article")
            served.append(r["doc_id"])

    t = threading.Thread(target=add_through_the_server)
    t.start()
    out, err = writer.communicate(timeout=600)
    t.join(timeout=600)
    assert writer.returncode == 0, err[-2000:]
    added, removed = _acknowledged(out.splitlines())
    expected = {SEED_ID, *served, *(added - removed)}
    assert len(served) == 4
    listed = {d["doc_id"] for d in client.predict(api_name="/list_articles")}
    assert listed == expected  # the server took in the other process's commits
    assert set(ArticleIndex.open(path).documents) == expected
    # and answers from them without a restart
    ans = client.predict("How many new permits did bulletin 4 of the w0 desk count?", None, ["w0-4"],
                         api_name="/ask")
    assert "31" in (ans["citations"] or ans["related"])[0]["quote"]
