"""The index: FAISS against a numpy oracle, persistence, idempotence, removal, corruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.errors import CorruptIndexError, IndexNotFoundError, InvalidDocumentError
from index.store import ArticleIndex, _file_sha256, _flat_store, _search

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
    hits = _search(_flat_store(d, vecs), query, k)
    oracle = np.argsort(-(vecs @ query), kind="stable")[:k]
    assert [h.row for h in hits] == oracle.tolist()
    np.testing.assert_allclose([h.score for h in hits], (vecs @ query)[oracle], atol=1e-5)


def test_seed_sentence_search_equals_brute_force(fresh_service, embedder):
    index = fresh_service.index
    q = embedder.encode_one("Why did the ceasefire talks stall?")
    hits = index.search_sentences(q, 5)
    brute = np.argsort(-(index.sentence_vectors @ q))[:5]
    assert [h.row for h in hits] == brute.tolist()
    # Plain dense retrieval ranks the headline first: why the engine adds BM25 and a re-ranker.
    assert hits[0].row == 0


def test_readding_the_same_text_changes_nothing(fresh_service, seed_text):
    index = fresh_service.index
    before = (len(index.sentences), len(index.passages), index.sentence_store.client.ntotal)
    assert fresh_service.add_document(seed_text) == "000_8d973b813353023c"
    assert fresh_service.add_document(seed_text, doc_id="000_8d973b813353023c") == ("000_8d973b813353023c")
    after = (len(index.sentences), len(index.passages), index.sentence_store.client.ntotal)
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
    assert config["model_name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert config["dimension"] == 384 and config["passage_sentences"] == 3
    manifest = json.loads((path / "manifest.json").read_text())
    assert set(manifest["files"]) == {
        "docstore.json", "sentences.faiss", "passages.faiss", "texts.jsonl", "config.json"
    }


def test_remove_rebuilds_vectors_without_touching_the_rest(fresh_service, embedder):
    fresh_service.add_document(OTHER, doc_id="council")
    index = fresh_service.index
    kept = index.sentence_vectors[:35].copy()
    fresh_service.remove_document("council")
    assert set(index.documents) == {"000_8d973b813353023c"}
    assert index.sentence_store.client.ntotal == 35
    np.testing.assert_array_equal(index.sentence_vectors, kept)
    q = embedder.encode_one("city council budget parks")
    assert all(index.sentences[h.row].doc_id != "council" for h in index.search_sentences(q, 35))


def test_missing_index_dir(tmp_path):
    with pytest.raises(IndexNotFoundError, match="does not exist"):
        ArticleIndex.open(tmp_path / "nope")


@pytest.mark.parametrize(
    "damage,message",
    [
        (
            lambda p: (p / "sentences.faiss").write_bytes(b"garbage"),
            "sentences.faiss does not match",
        ),
        (lambda p: (p / "docstore.json").unlink(), "docstore.json is missing"),
        (lambda p: (p / "manifest.json").write_text("{not json"), "cannot read"),
    ],
)
def test_corrupt_index_names_what_is_wrong(fresh_service, tmp_path, damage, message):
    path = fresh_service.save(tmp_path / "idx")
    damage(path)
    with pytest.raises(CorruptIndexError, match=message):
        ArticleIndex.open(path)


def test_interrupted_save_is_recovered_from_the_previous_copy(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    # A crash between "move old aside" and "move new in" leaves only the old copy aside.
    path.rename(tmp_path / ".idx.old")
    reopened = ArticleIndex.open(tmp_path / "idx")
    assert set(reopened.documents) == {"000_8d973b813353023c"}


def test_damaged_texts_file_is_named(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    (path / "texts.jsonl").write_text("{}\n")
    with pytest.raises(CorruptIndexError, match="texts.jsonl does not match its checksum"):
        ArticleIndex.open(path)


@pytest.mark.parametrize("lost", ["docstore.json", "sentences.faiss", "manifest.json"])
def test_rebuild_restores_from_stored_texts(fresh_service, seed_text, tmp_path, lost):
    fresh_service.add_document(OTHER, doc_id="council")
    path = fresh_service.save(tmp_path / "idx")
    (path / lost).unlink()
    with pytest.raises((CorruptIndexError, IndexNotFoundError)):
        ArticleIndex.open(path)
    _, recovered, problems = ArticleIndex.rebuild(path)
    assert recovered == ["000_8d973b813353023c", "council"] and problems == []
    reopened = ArticleIndex.open(path)
    assert reopened.document_text("000_8d973b813353023c") == seed_text
    assert reopened.document_text("council") == OTHER
    np.testing.assert_allclose(reopened.sentence_vectors, fresh_service.index.sentence_vectors,
                               atol=1e-5)


def test_rebuild_falls_back_to_the_docstore_and_reports_bad_lines(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    (path / "texts.jsonl").write_text('{"doc_id": "x", "text": "tampered", "content_hash": "0"}\n')
    _, recovered, problems = ArticleIndex.rebuild(path)
    assert recovered == ["000_8d973b813353023c"]
    assert problems == ["texts.jsonl line 1: text does not match its hash"]


def test_rebuild_with_nothing_readable_says_so(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    (path / "texts.jsonl").unlink()
    (path / "docstore.json").write_text("garbage")
    with pytest.raises(CorruptIndexError, match="no readable source texts"):
        ArticleIndex.rebuild(path)


def test_index_from_another_model_is_refused_with_a_way_out(fresh_service, tmp_path):
    path = fresh_service.save(tmp_path / "idx")
    config = json.loads((path / "config.json").read_text())
    manifest = json.loads((path / "manifest.json").read_text())
    config["model_name"] = "some/other-model"
    (path / "config.json").write_text(json.dumps(config))
    manifest["files"]["config.json"] = _file_sha256(path / "config.json")
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match="embedded with some/other-model.*qa index rebuild"):
        ArticleIndex.open(path)
    ArticleIndex.rebuild(path)
    assert ArticleIndex.open(path).config.model_name == "sentence-transformers/all-MiniLM-L6-v2"
