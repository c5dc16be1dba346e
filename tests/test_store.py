"""The index: FAISS against a numpy oracle, persistence, idempotence, removal, corruption."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from index.config import Config
from index.errors import CorruptIndexError, IndexNotFoundError, InvalidDocumentError
from index.store import ArticleIndex
from index.table import FileRows, VectorTable
from index.vectors import FaissVectors
from tests.conftest import tamper

OTHER = (
    "The city council approved a new budget on Tuesday. It raises spending on parks by 4 percent.\n"
    "Critics said the plan ignores housing."
)


class CountingEmbedder:
    """Wraps the real embedder and counts calls, to prove what is (not) re-embedded."""

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.dimension = inner, 0, inner.dimension

    def encode(self, texts, show_progress=False):
        self.calls += 1
        return self.inner.encode(texts)

    def encode_one(self, text):
        return self.encode([text])[0]


@pytest.mark.parametrize("n,d,k", [(1, 3, 1), (7, 5, 3), (33, 17, 10), (130, 384, 129)])
def test_faiss_search_equals_numpy_oracle(n, d, k):
    rng = np.random.default_rng(n)
    vecs = rng.normal(size=(n, d)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    query = rng.normal(size=d).astype(np.float32)
    table = VectorTable(d, vecs)
    faiss_index = FaissVectors(table, ann_threshold=10**9)
    faiss_index.add(table.live_rows(), vecs)
    hits = faiss_index.search(query, k)
    oracle = np.argsort(-(vecs @ query), kind="stable")[:k]
    assert [h.row for h in hits] == oracle.tolist()
    np.testing.assert_allclose([h.score for h in hits], (vecs @ query)[oracle], atol=1e-5)


def test_seed_sentence_search_equals_brute_force(fresh_service, embedder):
    index = fresh_service.index
    q = embedder.encode_one("Why did the ceasefire talks stall?")
    hits = index.search_sentences(q, 5)
    brute = np.argsort(-(index.sentence_vectors @ q))[:5]
    assert [h.row for h in hits] == brute.tolist()
    # the answer ("The main obstacle in the talks...") is among them, sentences saying *that* the
    # talks stalled beside it: why the engine re-ranks and reads
    assert any(index.sentences[h.row].text.startswith("The main obstacle in the talks") for h in hits)


def test_readding_the_same_text_changes_nothing(fresh_service, seed_text):
    index = fresh_service.index
    before = (len(index.sentences), len(index.passages), len(index.sentence_index))
    assert fresh_service.add_document(seed_text) == "000_8d973b813353023c"
    assert fresh_service.add_document(seed_text, doc_id="000_8d973b813353023c") == ("000_8d973b813353023c")
    after = (len(index.sentences), len(index.passages), len(index.sentence_index))
    assert before == after == (35, 17, 35)


def test_same_id_different_text_is_refused_and_keeps_the_original(fresh_service, seed_text):
    with pytest.raises(InvalidDocumentError, match="already holds a different text"):
        fresh_service.add_document(OTHER, doc_id="000_8d973b813353023c")
    assert fresh_service.document_text("000_8d973b813353023c") == seed_text


def test_save_and_open_round_trip_without_reembedding(fresh_service, embedder, tmp_path):
    fresh_service.add_document(OTHER, doc_id="council")
    path = fresh_service.save(tmp_path / "idx")
    counting = CountingEmbedder(embedder)
    reopened = ArticleIndex.open(path, embedder=counting)
    assert counting.calls == 0
    src = fresh_service.index
    assert reopened.sentences == src.sentences and reopened.passages == src.passages
    np.testing.assert_array_equal(reopened.sentence_vectors, src.sentence_vectors)
    np.testing.assert_array_equal(reopened.passage_vectors, src.passage_vectors)
    assert {d: r.text for d, r in reopened.documents.items()} == {d: r.text for d, r in src.documents.items()}
    config = json.loads((path / "config.json").read_text())
    assert config["model_name"] == Config().model_name
    assert config["model_name"].startswith("all-MiniLM-L6-v2-qa-dual-")
    assert config["dimension"] == 384 and config["passage_sentences"] == 3
    cache = json.loads((path / "cache.json").read_text())
    name = cache["name"]
    segment = {f"seg-{name}.npz", f"svec-{name}.npy", f"pvec-{name}.npy"}
    assert [s["files"].keys() for s in cache["segments"]] == [segment]
    assert set(cache["vectors"]["files"]) == {f"sentences-{name}.faiss", f"passages-{name}.faiss"}
    assert {f.name for f in path.iterdir()} == {"library.sqlite", "config.json", "cache.json",
                                                *cache["vectors"]["files"], *segment}
    # the vectors are read from the derived files row by row, not into memory
    assert [type(c) for c in reopened.sentence_table.chunks] == [FileRows]
    assert reopened.sentence_table.tail_start == len(reopened.sentences)


def test_remove_takes_rows_out_in_place_without_re_embedding(fresh_service, embedder):
    fresh_service.add_document(OTHER, doc_id="council")
    index = fresh_service.index
    vectors = index.sentence_vectors.copy()
    counting = CountingEmbedder(embedder)
    index.embedder = counting
    fresh_service.remove_document("council")
    index.embedder = embedder
    assert counting.calls == 0
    assert set(index.documents) == {"000_8d973b813353023c"}
    assert len(index.sentence_index) == index.live_sentences == 35
    np.testing.assert_array_equal(index.sentence_vectors, vectors)  # rows are not renumbered
    q = embedder.encode_one("city council budget parks")
    assert all(index.sentences[h.row].doc_id != "council" for h in index.search_sentences(q, 40))
    assert index.sentence_bm25.scores(["council", "budget"])[35:].max() == 0


def test_incremental_save_writes_only_the_new_segment(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    first = json.loads((path / "cache.json").read_text())
    fresh_service.add_document(OTHER, doc_id="council")
    fresh_service.save()  # bound since the first save: no path needed
    second = json.loads((path / "cache.json").read_text())
    assert second["segments"][0] == first["segments"][0]  # the old segment is not rewritten
    assert [s["docs"] for s in second["segments"]] == [1, 1]
    fresh_service.remove_document("council")
    fresh_service.save()
    third = json.loads((path / "cache.json").read_text())
    assert third["segments"] == second["segments"] and third["dead"] == [2]  # by store code
    reopened = ArticleIndex.open(path)
    assert set(reopened.documents) == {"000_8d973b813353023c"}
    assert len(reopened.sentence_index) == 35
    # the same id can come back with another text, in new rows
    reopened.add_document(OTHER + " Updated.", doc_id="council")
    again = ArticleIndex.open(path)  # durable without a save
    assert again.document_text("council").endswith("Updated.")
    assert len(again.sentence_index) == again.live_sentences


def test_adds_and_removes_are_durable_without_save(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    fresh_service.add_document(OTHER, doc_id="council")
    assert set(ArticleIndex.open(path).documents) == {"000_8d973b813353023c", "council"}
    fresh_service.remove_document("000_8d973b813353023c")
    assert set(ArticleIndex.open(path).documents) == {"council"}


def test_missing_index_dir(tmp_path):
    with pytest.raises(IndexNotFoundError, match="not a directory"):
        ArticleIndex.open(tmp_path / "nope")


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: next(p.glob("sentences-*.faiss")).write_bytes(b"garbage"),
        lambda p: next(p.glob("seg-*.npz")).unlink(),
        lambda p: (p / "cache.json").write_text("{not json"),
        lambda p: (p / "cache.json").unlink(),
        lambda p: (p / "config.json").write_text("[]"),
    ],
    ids=["faiss-garbage", "segment-deleted", "cache-garbage", "cache-deleted", "config-garbage"],
)
def test_damaged_derived_files_are_remade_from_the_store(fresh_service, embedder, tmp_path, damage):
    fresh_service.add_document(OTHER, doc_id="council")
    path = fresh_service.save(tmp_path / "idx")
    damage(path)
    counting = CountingEmbedder(embedder)
    reopened = ArticleIndex.open(path, embedder=counting)
    assert counting.calls == 0  # vectors come from the store: nothing is embedded again
    assert set(reopened.documents) == {"000_8d973b813353023c", "council"}
    np.testing.assert_array_equal(reopened.sentence_vectors, fresh_service.index.sentence_vectors)
    assert len(reopened.sentence_index) == reopened.live_sentences
    assert json.loads((path / "cache.json").read_text())["generation"] == reopened.generation


def test_files_of_an_unfinished_save_are_ignored_then_cleaned(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    # A writer killed before replacing cache.json leaves files it does not name.
    (path / "seg-000009-dead00.npz").write_bytes(b"half")
    (path / "cache.json.tmp").write_text("{")
    (path / "notes.txt").write_text("mine")  # not ours: never deleted
    reopened = ArticleIndex.open(path)
    assert set(reopened.documents) == {"000_8d973b813353023c"}
    reopened.add_document(OTHER, doc_id="council")
    reopened.save()
    names = {f.name for f in path.iterdir()}
    assert "seg-000009-dead00.npz" not in names and "cache.json.tmp" not in names
    assert "notes.txt" in names


def test_damaged_article_text_is_named_then_repaired_without_it(fresh_service, seed_text, tmp_path):
    fresh_service.add_document(OTHER, doc_id="council")
    path = fresh_service.save(tmp_path / "idx")
    tamper(path, "UPDATE documents SET text = replace(text, 'budget', 'bludget') WHERE doc_id = ?",
            "council")
    with pytest.raises(CorruptIndexError, match="council damaged in the store.*qa index rebuild"):
        ArticleIndex.open(path)
    _, restored, problems = ArticleIndex.rebuild(path)
    assert restored == ["000_8d973b813353023c"]
    assert problems == ["council: damaged: its text does not match its hash; not restored"]
    reopened = ArticleIndex.open(path)
    assert set(reopened.documents) == {"000_8d973b813353023c"}
    assert reopened.document_text("000_8d973b813353023c") == seed_text


def test_damaged_vectors_are_embedded_again_by_rebuild(fresh_service, tmp_path):
    fresh_service.add_document(OTHER, doc_id="council")
    path = fresh_service.save(tmp_path / "idx")
    tamper(path, "UPDATE documents SET vectors = zeroblob(100) WHERE doc_id = ?", "council")
    (path / "cache.json").unlink()
    with pytest.raises(CorruptIndexError, match="council damaged"):
        ArticleIndex.open(path)
    _, restored, problems = ArticleIndex.rebuild(path)
    assert restored == ["000_8d973b813353023c", "council"]
    assert problems == ["council: offsets or vectors damaged; split and embedded again"]
    np.testing.assert_allclose(ArticleIndex.open(path).sentence_vectors,
                               fresh_service.index.sentence_vectors, atol=1e-5)


def test_rebuild_reads_the_previous_format(fresh_service, seed_text, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    record = fresh_service.documents()[0]
    (old / "texts.jsonl").write_text(json.dumps({"doc_id": record.doc_id, "title": record.title,
                                                 "content_hash": record.content_hash, "text": seed_text}))
    (old / "manifest.json").write_text(json.dumps({"files": {}}))
    (old / "config.json").write_text(json.dumps({"version": 1}))
    with pytest.raises(CorruptIndexError, match="older format.*qa index rebuild"):
        ArticleIndex.open(old)
    _, recovered, _ = ArticleIndex.rebuild(old)
    assert recovered == [record.doc_id] and not (old / "texts.jsonl").exists()
    assert not (old / "manifest.json").exists()
    assert ArticleIndex.open(old).document_text(record.doc_id) == seed_text


def test_rebuild_of_the_previous_format_skips_removed_and_bad_lines(fresh_service, seed_text, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    lines = [{"doc_id": d, "title": d, "content_hash": hashlib.sha256(t.encode()).hexdigest(), "text": t}
             for d, t in (("gone", OTHER), ("kept", seed_text))]
    lines.append({"doc_id": "x", "title": "x", "content_hash": "0", "text": "tampered"})
    (old / "seg-000002-aaaaaa.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (old / "manifest.json").write_text(json.dumps({"format": 2, "segments": [
        {"name": "seg-000002-aaaaaa", "files": {}}], "removed": [0]}))
    _, recovered, problems = ArticleIndex.rebuild(old)
    assert recovered == ["kept"]
    assert problems == ["seg-000002-aaaaaa.jsonl line 3: text does not match its hash"]


def test_rebuild_with_no_library_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexNotFoundError, match="no library.sqlite"):
        ArticleIndex.rebuild(tmp_path / "empty")


def test_library_of_the_bundled_model_is_embedded_again_on_open(fresh_service, embedder, tmp_path):
    """A library whose vectors came from the bundled all-MiniLM-L6-v2 (before the encoder
    fine-tuned here) opens with every article kept and every vector re-made by this encoder."""
    from index.embed import BUNDLED_NAME, Embedder, bundled_model_path

    fresh_service.add_document(OTHER, doc_id="council")
    src = fresh_service.index
    bundled = Embedder(bundled_model_path())
    old = ArticleIndex(replace(src.config, model_name=BUNDLED_NAME), bundled)
    for doc in src.documents.values():
        old.add_document(doc.text, doc_id=doc.doc_id, title=doc.title)
    path = old.save(tmp_path / "idx")
    assert json.loads((path / "config.json").read_text())["model_name"] == BUNDLED_NAME
    assert not np.allclose(old.sentence_vectors, src.sentence_vectors, atol=1e-3)
    counting = CountingEmbedder(embedder)
    upgraded = ArticleIndex.open(path, embedder=counting)
    assert counting.calls == 2  # each article once
    assert upgraded.config.model_name == src.config.model_name == Config().model_name
    assert {d: r.text for d, r in upgraded.documents.items()} == {d: r.text for d, r in src.documents.items()}
    assert upgraded.sentences == src.sentences
    np.testing.assert_allclose(upgraded.sentence_vectors, src.sentence_vectors, atol=1e-5)
    counting.calls = 0
    assert ArticleIndex.open(path, embedder=counting).config.model_name == src.config.model_name
    assert counting.calls == 0  # once


def test_library_of_an_unknown_model_is_embedded_again_too(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    config = json.loads((path / "config.json").read_text())
    config["model_name"] = "some/other-model"
    tamper(path, "UPDATE meta SET value = ? WHERE key = 'config'", json.dumps(config))
    reopened = ArticleIndex.open(path)
    assert reopened.config.model_name == Config().model_name
    assert set(reopened.documents) == set(fresh_service.index.documents)


def test_compact_drops_dead_rows_without_re_embedding(fresh_service, embedder, tmp_path):
    fresh_service.add_document(OTHER, doc_id="council")
    index = fresh_service.index
    index.remove_document("000_8d973b813353023c")
    counting = CountingEmbedder(embedder)
    index.embedder = counting
    small = index.compact()
    assert counting.calls == 0
    assert len(small.sentences) == small.live_sentences == index.live_sentences == 3
    q = embedder.encode_one("What did critics say about the plan?")
    old = [(index.sentences[h.row].start, h.score) for h in index.search_sentences(q, 3)]
    new = [(small.sentences[h.row].start, h.score) for h in small.search_sentences(q, 3)]
    assert [s for s, _ in old] == [s for s, _ in new]
    np.testing.assert_allclose([x for _, x in old], [x for _, x in new], rtol=1e-5)
    path = small.save(tmp_path / "small")
    assert ArticleIndex.open(path).document_text("council") == OTHER


def test_nodes_carry_offsets_into_the_document(fresh_service, seed_text):
    nodes = fresh_service.index.nodes("000_8d973b813353023c")
    assert [n.metadata["kind"] for n in nodes].count("sentence") == 35 and len(nodes) == 35 + 17
    assert all(seed_text[n.start_char_idx : n.end_char_idx] == n.text for n in nodes)
    assert {n.ref_doc_id for n in nodes} == {"000_8d973b813353023c"}


def test_save_compacts_by_itself_past_the_dead_row_threshold(fresh_service, tmp_path, monkeypatch):
    from index import cache

    monkeypatch.setattr(cache, "MIN_DEAD_ROWS", 10)
    path = fresh_service.save(tmp_path / "idx")
    fresh_service.add_document(OTHER, doc_id="council")
    fresh_service.save()
    size = (path / "library.sqlite").stat().st_size
    fresh_service.remove_document("000_8d973b813353023c")  # 35 of 38 sentence rows now dead
    fresh_service.save()
    index = fresh_service.index
    assert len(index.sentences) == index.live_sentences == 3  # memory holds live rows only
    manifest = json.loads((path / "cache.json").read_text())
    assert len(manifest["segments"]) == 1 and manifest["dead"] == []
    assert (path / "library.sqlite").stat().st_size < size  # the removed text's pages went back
    assert fresh_service.ask("What did critics say about the plan?").citations[0].doc_id == "council"
    reopened = ArticleIndex.open(path)
    assert set(reopened.documents) == {"council"} and len(reopened.sentences) == 3


def test_a_question_never_waits_for_a_write_transaction(tmp_path):
    """While a writer of this process holds the store (waiting for another process's write lock,
    inserting, committing with fsync), ``changed()`` (asked before every question) answers at
    once; once the writer is done it reports what other connections committed meanwhile."""
    import sqlite3
    import threading

    from index.library import DATABASE, LibraryDB

    db = LibraryDB.create(tmp_path / DATABASE, "{}")
    db.changed()
    inside, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.writing():
            inside.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    assert inside.wait(30)
    answered = []
    asker = threading.Thread(target=lambda: answered.append(db.changed()))
    asker.start()
    asker.join(30)  # a deadlock guard, not a timing: it blocked until release before
    release.set()
    t.join(30)
    assert answered == [False]
    other = sqlite3.connect(tmp_path / DATABASE, isolation_level=None)
    other.execute("INSERT OR REPLACE INTO meta VALUES ('probe', 'another process')")
    other.close()
    assert db.changed() is True and db.changed() is False
