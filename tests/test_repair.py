"""Repair and damage: the library's files damaged every way we can think of.

The scenario of issue 11 (a removed article must never come back, an intact one must never be
dropped), then a matrix: every file kind of a saved library x {truncate, flip bytes, delete,
replace with a directory, make read-only} -> open gives a typed one-line error or recovers;
rebuild restores every intact article and never resurrects a removed one. Then a full disk.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess

import numpy as np
import pytest

from index.errors import QAError, StorageError
from index.store import ArticleIndex
from tests.conftest import fill, small_disk, tamper

ARTICLES = {
    "a-port": "The port handles three million tonnes of cargo a year. Its new crane arrived in June.",
    "b-tram": "The tram line opened in May. It carries twenty thousand riders on a weekday.",
    "c-ferry": "The ferry to the island runs twice a day. It was built in 1990 by a local yard.",
    "d-gone": "The old bridge was closed for repairs. Engineers found cracks in two of its piers.",
}
LIVE = {"a-port", "b-tram", "c-ferry"}


@pytest.fixture(scope="module")
def template(tmp_path_factory, embedder):
    """A library built in three saves: a-port; b-tram and d-gone; c-ferry, removing d-gone."""
    path = tmp_path_factory.mktemp("template") / "lib"
    index = ArticleIndex(embedder=embedder)
    index.add_document(ARTICLES["a-port"], doc_id="a-port")
    index.save(path)
    index.add_document(ARTICLES["b-tram"], doc_id="b-tram")
    index.add_document(ARTICLES["d-gone"], doc_id="d-gone")
    index.save()
    index.add_document(ARTICLES["c-ferry"], doc_id="c-ferry")
    index.remove_document("d-gone")
    index.save()
    return path


def _copy(template, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(template, lib)
    return lib


def test_rebuild_keeps_intact_articles_and_never_resurrects(template, tmp_path, embedder):
    lib = _copy(template, tmp_path)
    tamper(lib, "UPDATE documents SET text = replace(text, 'tram', 'trap') WHERE doc_id = 'b-tram'")
    _, restored, problems = ArticleIndex.rebuild(lib, embedder=embedder)
    assert restored == ["a-port", "c-ferry"]  # the intact c-ferry is kept, d-gone stays removed
    assert problems == ["b-tram: damaged: its text does not match its hash; not restored"]
    assert set(ArticleIndex.open(lib).documents) == {"a-port", "c-ferry"}
    # deleting the derived files and rebuilding again brings nothing back either
    (lib / "cache.json").unlink()
    _, restored, _ = ArticleIndex.rebuild(lib, embedder=embedder)
    assert restored == ["a-port", "c-ferry"]


def test_a_removed_article_stays_removed_when_its_id_comes_back(template, tmp_path, embedder):
    lib = _copy(template, tmp_path)
    index = ArticleIndex.open(lib, embedder=embedder)
    index.add_document("A new text under the old id. It says something else.", doc_id="d-gone")
    index.remove_document("d-gone")
    (lib / "cache.json").unlink()
    _, restored, _ = ArticleIndex.rebuild(lib, embedder=embedder)
    assert restored == sorted(LIVE)


def _flip(f):
    data = bytearray(f.read_bytes())
    for at in range(len(data) // 3, len(data), max(1, len(data) // 7)):
        data[at] ^= 0xFF
    f.write_bytes(bytes(data))


def _truncate(f):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _directory(f):
    f.unlink()
    f.mkdir()
    (f / "x").write_text("x")


def _read_only(f):
    f.chmod(0o444)
    f.parent.chmod(0o555)


DAMAGES = {"truncate": _truncate, "flip": _flip, "delete": lambda f: f.unlink(), "directory": _directory,
           "read-only": _read_only}
KINDS = ["library.sqlite", "config.json", "cache.json", "seg-*.npz", "svec-*.npy", "pvec-*.npy",
         "sentences-*.faiss", "passages-*.faiss"]


def test_damage_matrix(template, tmp_path, embedder):
    stats = {"cases": 0, "opened": 0, "typed errors": 0, "rebuilt": 0, "restored": 0, "resurrected": 0}
    failures = []
    for kind in KINDS:
        for name, damage in DAMAGES.items():
            case = tmp_path / f"{kind.replace('*', 'x')}-{name}"
            case.mkdir()
            lib = _copy(template, case)
            targets = sorted(lib.glob(kind))
            damage(targets[-1])  # the newest segment, when there are several
            stats["cases"] += 1
            try:
                opened = ArticleIndex.open(lib, embedder=embedder)
                if opened.verifying is not None:  # the vector files' checksums, after open
                    opened.verifying.join()
                docs = set(opened.documents)
                stats["opened"] += 1
                if docs != LIVE:
                    failures.append(f"{kind} {name}: opened with {sorted(docs)}")
            except QAError as exc:
                stats["typed errors"] += 1
                if "\n" in str(exc) or str(lib) in str(exc):
                    failures.append(f"{kind} {name}: message {exc!s:.200}")
            except Exception as exc:  # noqa: BLE001 - the point: anything untyped is a failure
                failures.append(f"{kind} {name}: open raised {type(exc).__name__}: {exc}")
            lib.chmod(0o755)
            try:
                _, restored, problems = ArticleIndex.rebuild(lib, embedder=embedder)
                stats["rebuilt"] += 1
                stats["restored"] += len(set(restored) & LIVE)
                stats["resurrected"] += "d-gone" in restored
                if kind == "library.sqlite":
                    print(f"library.sqlite {name}: restored {restored}, problems {problems}")
                lost = LIVE - set(restored)
                if kind != "library.sqlite" and lost:
                    failures.append(f"{kind} {name}: rebuild lost {sorted(lost)}")
                if "d-gone" in restored:
                    failures.append(f"{kind} {name}: d-gone came back")
                if set(ArticleIndex.open(lib, embedder=embedder).documents) != set(restored):
                    failures.append(f"{kind} {name}: opens with other articles than restored")
            except QAError as exc:
                stats["typed errors"] += 1
                print(f"{kind} {name}: rebuild: {exc}")
                if kind != "library.sqlite":
                    failures.append(f"{kind} {name}: rebuild refused: {exc}")
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{kind} {name}: rebuild raised {type(exc).__name__}: {exc}")
    print(f"\ndamage matrix: {stats}")
    assert failures == []
    assert stats["resurrected"] == 0
    assert stats["cases"] == len(KINDS) * len(DAMAGES)


def test_a_full_disk_changes_nothing(template, tmp_path, embedder):
    disk = small_disk(tmp_path)
    if disk is None:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        lib = _copy(template, disk)
        index = ArticleIndex.open(lib, embedder=embedder)
        filler = fill(disk)
        big = " ".join(f"Sentence {i} of a long report on the harbour." for i in range(3000))
        with pytest.raises(StorageError, match="cannot write the library: database or disk is full"):
            index.add_document(big, doc_id="big")
        assert set(index.documents) == LIVE  # memory as it was
        with pytest.raises(StorageError):
            index.remove_document("a-port")
        assert set(index.documents) == LIVE
        os.unlink(filler)
        assert set(ArticleIndex.open(lib, embedder=embedder).documents) == LIVE
        small = "The harbour report was published on Friday. It runs to forty pages."
        index.add_document(small, doc_id="small")  # and it works once there is room again
        assert set(ArticleIndex.open(lib, embedder=embedder).documents) == LIVE | {"small"}
    finally:
        index = None  # close the store's connection before the file system goes
        gc.collect()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_damaged_vector_file_is_found_after_open_and_its_vectors_read_from_the_store(
        template, tmp_path, embedder, caplog, capsys):
    from index import cache

    lib = _copy(template, tmp_path)
    want = ArticleIndex.open(lib, embedder=embedder)
    want.verifying.join()
    good = want.sentence_vectors.copy()
    vfile = sorted(lib.glob("svec-*.npy"))[-1]
    data = bytearray(vfile.read_bytes())
    data[-5] ^= 0xFF  # inside the last vector: the header still parses, the map opens
    vfile.write_bytes(bytes(data))

    index = ArticleIndex.open(lib, embedder=embedder)
    index.verifying.join()  # verified in the background; here, waited for
    said = caplog.text + capsys.readouterr().err  # (the qa logger goes to stderr once the CLI ran)
    assert f"{vfile.name} does not match its checksum; its vectors are read from the store" in said
    np.testing.assert_array_equal(index.sentence_vectors.copy(), good)
    index.save()  # and the derived files are rewritten
    again = ArticleIndex.open(lib, embedder=embedder)
    assert cache.verify_vectors(again) == []
    np.testing.assert_array_equal(again.sentence_vectors.copy(), good)


def test_a_salvaged_store_keeps_the_articles_details(template, tmp_path, embedder):
    from index.units import ArticleDetails

    lib = _copy(template, tmp_path)
    tamper(lib, "INSERT INTO details SELECT code, 'Jane Roe', '2026-11-30' FROM documents "
                "WHERE doc_id = 'a-port' AND removed IS NULL")
    tamper(lib, "UPDATE meta SET value = '99' WHERE key = 'schema'")  # the store will not open
    _, restored, problems = ArticleIndex.rebuild(lib, embedder=embedder)
    assert restored == sorted(LIVE) and "damaged" in problems[0]
    reopened = ArticleIndex.open(lib)
    assert reopened.details("a-port") == ArticleDetails("Jane Roe", "2026-11-30")
    assert reopened.details("b-tram") == ArticleDetails()
