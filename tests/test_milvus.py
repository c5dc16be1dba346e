"""The Milvus backend (LlamaIndex's MilvusVectorStore) against Milvus Lite, embedded, on disk."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from index.config import Config
from index.store import ArticleIndex
from qa.service import QAService

pytest.importorskip("milvus_lite")

OTHER = (
    "The city council approved a new budget on Tuesday. It raises spending on parks by 4 percent.\n"
    "Critics said the plan ignores housing."
)
SEED_ID = "000_8d973b813353023c"


@pytest.fixture()
def milvus_index(tmp_path, embedder, seed_text):
    index = ArticleIndex.create(tmp_path / "lib", Config(vector_uri="milvus.db"), embedder=embedder)
    index.add_document(seed_text, doc_id=SEED_ID)
    index.add_document(OTHER, doc_id="council")
    return index


def test_milvus_search_matches_faiss(milvus_index, fresh_service, embedder):
    assert milvus_index.sentence_index.kind == "milvus"
    assert (milvus_index.root / "milvus.db").exists()
    fresh_service.add_document(OTHER, doc_id="council")
    for question in ("Why did the ceasefire talks stall?", "What did the council approve?"):
        q = embedder.encode_one(question)
        got = milvus_index.search_sentences(q, 5)
        want = fresh_service.index.search_sentences(q, 5)
        assert [h.row for h in got] == [h.row for h in want]
        np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-4)


def test_milvus_filter_and_remove(milvus_index, embedder, monkeypatch):
    # make Milvus do the filtering (config is frozen: a copy with the limit at 0)
    monkeypatch.setattr(milvus_index, "config", dataclasses.replace(milvus_index.config, exact_filter_rows=0))
    q = embedder.encode_one("budget for parks")
    hits = milvus_index.search_sentences(q, 5, doc_ids=["council"])
    assert hits and {milvus_index.sentences[h.row].doc_id for h in hits} == {"council"}
    milvus_index.remove_document("council")
    assert len(milvus_index.sentence_index) == milvus_index.live_sentences == 35
    assert all(milvus_index.sentences[h.row].doc_id == SEED_ID for h in milvus_index.search_sentences(q, 40))


def test_milvus_library_answers_like_faiss_and_survives_reopen(milvus_index, fresh_service):
    path = milvus_index.save(milvus_index.root)
    fresh_service.add_document(OTHER, doc_id="council")
    question = "Why did the ceasefire talks stall?"
    reopened = QAService.open(path)
    assert reopened.index.sentence_index.kind == "milvus"
    a, b = reopened.ask(question), fresh_service.ask(question)
    assert (a.text, [c.start for c in a.citations]) == (b.text, [c.start for c in b.citations])


def test_rows_in_milvus_the_store_lacks_are_dropped_on_open(milvus_index, embedder):
    path = milvus_index.save(milvus_index.root)
    # as if a writer died after adding to Milvus and before its commit: Milvus has a stray row
    stray = len(milvus_index.sentence_table) + 5
    milvus_index.sentence_index.add(np.array([stray]), embedder.encode(["stray"]), ["x"])
    assert len(milvus_index.sentence_index) == 35 + 3 + 1
    del milvus_index
    reopened = ArticleIndex.open(path, embedder=embedder)
    assert "x" not in reopened.documents
    assert len(reopened.sentence_index) == reopened.live_sentences == 38


def test_service_create_with_a_milvus_uri(tmp_path, seed_text, embedder):
    svc = QAService.create(tmp_path / "lib", Config(vector_uri=str(tmp_path / "elsewhere.db")))
    svc.index.embedder = embedder
    svc.add_document(seed_text, doc_id=SEED_ID)
    assert (tmp_path / "elsewhere.db").exists() and len(svc.index.sentence_index) == 35
    svc.save(tmp_path / "lib")
    assert QAService.open(tmp_path / "lib").ask("Who is Mousa Abu Marzouk?").citations


def test_new_library_from_environment_uses_milvus_lite(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("QA_VECTOR_URI", "milvus.db")
    svc = QAService.open_library(tmp_path / "lib")
    assert svc.index.sentence_index.kind == "milvus" and (tmp_path / "lib" / "milvus.db").exists()
    assert not svc.ask("Why did the ceasefire talks stall?").abstained
