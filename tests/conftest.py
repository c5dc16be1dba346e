"""Shared fixtures: the real bundled model (loaded once), the seed article, temp data dirs."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_ID = "000_8d973b813353023c"
SEED_PATH = ROOT / "seeds" / f"{SEED_ID}.txt"

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Caches and the default library live in temp dirs, never in the user's home."""
    base = tmp_path_factory.mktemp("qa-home")
    os.environ["QA_CACHE_DIR"] = str(base / "cache")
    os.environ["QA_INDEX_DIR"] = str(base / "index")


@pytest.fixture(scope="session")
def embedder():
    from index.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_service(embedder):
    """The service on the bundled article, shared read-only by tests that only ask."""
    from qa import QAService

    return QAService.from_seeds()


@pytest.fixture
def fresh_service(embedder, seed_text):
    """A private service holding the seed article, for tests that change the index."""
    from qa import QAService

    svc = QAService()
    svc.add_document(seed_text, doc_id=SEED_ID)
    return svc


ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, embedder):
    """The real app, launched once per test run on a free loopback port."""
    from ui.server import start_in_background

    running = start_in_background(tmp_path_factory.mktemp("ui-library") / "index")
    yield running.url
    running.close()


@contextlib.contextmanager
def serve_process(path: Path, *args: str):
    """``qa serve`` in its own process on a free port; yields its URL once it answers."""
    from ui.server import serve_process as serve

    with serve(path, *args) as url:
        yield url


def tamper(library: Path, sql: str, *args) -> None:
    """Change a library's store behind its back (as damage or an older version would)."""
    import sqlite3

    conn = sqlite3.connect(library / "library.sqlite")
    with conn:
        conn.execute(sql, args)
    conn.close()


def small_disk(tmp_path: Path) -> Path | None:
    """A 3 MB tmpfs (needs root); None where mounting is not allowed. Unmount with
    ``umount -l`` when done."""
    import subprocess

    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                          capture_output=True, check=False)
    return mnt if done.returncode == 0 else None


def fill(disk: Path) -> Path:
    """Fill what is left of ``disk`` with one file (unbuffered: a buffered file would fail
    again when closed); returns it."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler
