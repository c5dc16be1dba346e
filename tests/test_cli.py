"""The ``qa`` command: answers with numbered citations, library management, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from qa.cli import main
from tests.conftest import ROOT, SEED_ID


@pytest.fixture
def index_dir(tmp_path):
    return tmp_path / "library"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_prints_answer_and_numbered_citations(capsys, index_dir, seed_text, embedder):
    code, out, err = run(
        capsys, "--index-dir", str(index_dir), "ask", "How many rockets did Hamas fire on Sunday?"
    )
    assert code == 0, err
    start = seed_text.index("On Sunday, Hamas fired about 10 rockets")
    short, _, rest = out.partition(" [1]\n\n")
    assert short in ("about 10", "10") and rest.startswith("On Sunday, Hamas fired about 10 rockets")
    assert f"[1] {SEED_ID}, chars {start}–" in out
    at = seed_text.index(f"{short} rockets")
    assert f'Short answer, in [1]: {SEED_ID}, chars {at}–{at + len(short)}: "{short}"' in out
    assert (index_dir / "library.sqlite").exists()  # a new library starts from the seeds
    assert "new library at" in err and "seeded with the bundled article(s)" in err


def test_ask_json_is_machine_readable(capsys, index_dir, seed_text, embedder):
    code, out, _ = run(
        capsys, "--index-dir", str(index_dir), "ask", "--json", "Whom did Bill Burns meet in Doha?"
    )
    assert code == 0
    data = json.loads(out)
    assert data["abstained"] is False and 0 <= data["confidence"] <= 1
    for c in [*data["citations"], data["short"]]:
        assert seed_text[c["start"] : c["end"]] == c["quote"]
    assert "Al Thani" in data["short"]["quote"]


def test_index_add_list_remove(capsys, index_dir, tmp_path, embedder):
    art = tmp_path / "council.md"
    art.write_text(
        "# Council budget\n\nThe council approved a budget of 12 million euros on Tuesday.\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "add", str(art), "--id", "council")
    assert code == 0 and "added: " in out and "as council" in out
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "add", str(art), "--id", "council")
    assert "already indexed" in out
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "list", "--json")
    assert {d["doc_id"] for d in json.loads(out)} == {SEED_ID, "council"}
    code, out, _ = run(
        capsys, "--index-dir", str(index_dir), "ask", "--doc", "council", "How big is the council budget?"
    )
    assert code == 0 and "12 million euros" in out
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "remove", "council")
    assert code == 0 and "removed: council" in out
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "list")
    assert SEED_ID in out and "council" not in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["ask", "   "], "question is empty"),
        (["ask", "x" * 501], "the limit is 500"),
        (["index", "remove", "nope"], "unknown document id 'nope'"),
        (["ask", "--doc", "nope", "Why?"], "unknown document id 'nope'"),
        (["index", "add", "/definitely/missing.txt"], "no such file"),
    ],
)
def test_bad_input_gets_one_line_and_nonzero_exit(capsys, index_dir, argv, message, embedder):
    code, out, err = run(capsys, "--index-dir", str(index_dir), *argv)
    assert code == 2
    lines = err.strip().splitlines()
    # one error line; a new library may first say that it was seeded with the bundled article
    assert lines[-1].startswith("qa: error:") and message in lines[-1]
    assert [x for x in lines if "error" in x] == lines[-1:] and "Traceback" not in err
    assert all(x.startswith("qa: ") for x in lines)


def test_bad_file_adds_nothing_and_keeps_the_library(capsys, index_dir, tmp_path, embedder):
    good = tmp_path / "good.txt"
    good.write_text("The bridge reopened on Monday after repairs.", encoding="utf-8")
    binary = tmp_path / "bad.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    code, _, err = run(capsys, "--index-dir", str(index_dir), "index", "add", str(good), str(binary))
    assert code == 2 and "binary" in err
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "list", "--json")
    assert [d["doc_id"] for d in json.loads(out)] == [SEED_ID]


def test_corrupt_index_dir_is_reported_not_overwritten(capsys, index_dir, embedder):
    run(capsys, "--index-dir", str(index_dir), "index", "list")
    store = index_dir / "library.sqlite"
    store.write_bytes(b"broken" * 100)
    code, _, err = run(capsys, "--index-dir", str(index_dir), "ask", "Why did the talks stall?")
    assert code == 2 and "library.sqlite is damaged" in err and "qa index rebuild" in err
    assert str(index_dir) not in err  # no server paths in messages
    assert store.read_bytes() == b"broken" * 100


def test_damaged_derived_file_is_remade_silently(capsys, index_dir, embedder):
    run(capsys, "--index-dir", str(index_dir), "index", "list")
    next(index_dir.glob("passages-*.faiss")).write_bytes(b"broken")
    code, out, err = run(capsys, "--index-dir", str(index_dir), "ask", "Why did the talks stall?")
    assert code == 0 and "[1]" in out and "re-made from the store" in err


def test_console_script_runs_in_a_fresh_process(tmp_path):
    env = {**os.environ, "QA_INDEX_DIR": str(tmp_path / "lib")}
    exe = os.path.join(os.path.dirname(sys.executable), "qa")
    proc = subprocess.run([exe, "ask", ""], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip() == "qa: error: question is empty"


def test_index_rebuild_restores_a_damaged_library(capsys, index_dir, tmp_path, embedder):
    other = tmp_path / "council.txt"
    other.write_text("The city council approved a new budget on Tuesday. Critics said it ignores housing.")
    run(capsys, "--index-dir", str(index_dir), "index", "add", "--id", "council", str(other))
    conn = sqlite3.connect(index_dir / "library.sqlite")
    with conn:
        conn.execute("UPDATE documents SET text = 'tampered' WHERE doc_id = 'council'")
    conn.close()
    code, _, err = run(capsys, "--index-dir", str(index_dir), "index", "list")
    assert code == 2 and "council damaged in the store" in err
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "rebuild")
    assert code == 0 and "1 article(s) restored" in out
    assert "not restored: council: damaged: its text does not match its hash" in out
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "list")
    assert code == 0 and SEED_ID in out and "council" not in out


def test_compact_after_removing(capsys, index_dir, tmp_path, embedder):
    other = tmp_path / "council.txt"
    other.write_text("The city council approved a new budget on Tuesday. Critics said it ignores housing.")
    run(capsys, "--index-dir", str(index_dir), "index", "add", str(other))
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "list", "--json")
    added = next(d["doc_id"] for d in json.loads(out) if d["doc_id"] != SEED_ID)
    run(capsys, "--index-dir", str(index_dir), "index", "remove", added)
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "compact")
    assert code == 0 and "37 sentence rows -> 35" in out
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "ask", "Why did the talks stall?")
    assert code == 0 and "[1]" in out


def test_terminal_escapes_in_stored_titles_are_shown_not_obeyed(capsys, index_dir, embedder):
    run(capsys, "--index-dir", str(index_dir), "index", "list")
    conn = sqlite3.connect(index_dir / "library.sqlite")  # as an older version may have stored it
    with conn:
        conn.execute("UPDATE documents SET title = 'Red \x1b[31mALERT\x1b]0;pwned\x07'")
    conn.close()
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "index", "list")
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "Red \\x1b[31mALERT\\x1b]0;pwned\\x07" in out


def test_a_poison_id_from_the_command_line_is_refused(index_dir, tmp_path, embedder):
    good = tmp_path / "good.txt"
    good.write_text("The bridge reopened on Monday. Traffic was light.")
    exe = os.path.join(os.path.dirname(sys.executable), "qa")
    # an invalid byte in argv reaches Python as a lone surrogate
    proc = subprocess.run([exe.encode(), b"--index-dir", str(index_dir).encode(), b"index", b"add",
                           b"--id", b"bad\xffid", str(good).encode()], capture_output=True, timeout=300)
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    assert proc.returncode == 2 and err[-1].startswith("qa: error: document id")
    listed = subprocess.run([exe, "--index-dir", str(index_dir), "index", "list", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert [d["doc_id"] for d in json.loads(listed.stdout)] == [SEED_ID]


def test_index_dir_that_is_a_file_gets_one_line(capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("mine")
    code, _, err = run(capsys, "--index-dir", str(f), "index", "list")
    assert code == 2 and err.startswith("qa: error: no index in afile/") and f.read_text() == "mine"
