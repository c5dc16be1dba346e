"""The systems an eval compares, each turning a question into one metrics record.

* ``engine``: this project's ``QAService.ask``.
* ``engine_no_reader``: the same without its reading model (``reader_top_k=0``): the re-ranker
  and the lexical abstention model only, as the engine was before the reader.
* ``bm25_sentence`` / ``dense_sentence``: plain sentence retrieval with the same splitter and
  model, top sentence as the answer.
* ``llamaindex_default``: the pipeline a user builds first: ``VectorStoreIndex`` with its
  default ``SentenceSplitter``, FAISS, the same embedding model, ``similarity_top_k=2``; its
  two retrieved chunks are what it "cites".
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from index.store import ArticleIndex
from index.text import content_stems
from qa.service import QAService

SYSTEMS = ("engine", "engine_no_reader", "bm25_sentence", "dense_sentence", "llamaindex_default")


def _ev(doc_id: str, start: int, end: int, text: str) -> dict[str, Any]:
    return {"doc_id": doc_id, "start": start, "end": end, "quote": text[start:end]}


class Engine:
    """The engine itself, as a system of the eval."""
    def __init__(self, svc: QAService, name: str = "engine") -> None:
        self.svc, self.name = svc, name

    def answer(self, question: str, history: list | None = None) -> dict[str, Any]:
        """The engine's answer, as a record the metrics read."""
        t = time.perf_counter()
        ans = self.svc.ask(question, history=history)
        ms = (time.perf_counter() - t) * 1000
        evidence = [c.to_dict() for c in [*ans.citations, *ans.related]]
        return {
            "text": ans.text,
            "abstained": ans.abstained,
            "confidence": ans.confidence,
            "evidence": evidence,
            "n_citations": len(ans.citations),
            "short": ans.short.quote if ans.short is not None else None,
            "latency_ms": ms,
        }


class SentenceBaseline:
    """Top sentences by one score; never abstains; confidence = the top score."""

    def __init__(self, index: ArticleIndex, kind: str) -> None:
        self.index, self.kind = index, kind
        self.name = f"{kind}_sentence"

    def answer(self, question: str, history: list | None = None) -> dict[str, Any]:
        """The best sentences by this baseline's score, as a record."""
        t = time.perf_counter()
        if self.kind == "dense":
            scores = self.index.sentence_vectors @ self.index.embedder.encode_one(question)
        else:
            scores = self.index.sentence_bm25_scores(content_stems(question))
        top = np.argsort(-scores, kind="stable")[:3]
        ms = (time.perf_counter() - t) * 1000
        sents = [self.index.sentences[i] for i in top]
        evidence = [_ev(s.doc_id, s.start, s.end, self.index.document_text(s.doc_id)) for s in sents]
        return {
            "text": f"{sents[0].text} [1]" if sents else "",
            "abstained": False,
            "confidence": float(scores[top[0]]) if len(top) else 0.0,
            "evidence": evidence,
            "n_citations": 1 if sents else 0,
            "latency_ms": ms,
        }


def plain_llamaindex(texts: dict[str, str], embedder: Any) -> Any:
    """LlamaIndex with its defaults: ``VectorStoreIndex`` (default ``SentenceSplitter``) over a
    FAISS ``IndexFlatIP``, embedding with the engine's own encoder."""
    import faiss
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.faiss import FaissVectorStore

    from index.embed import llama_embedding

    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(embedder.dimension))
    return VectorStoreIndex.from_documents(
        [Document(text=t, id_=d) for d, t in texts.items()],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=llama_embedding(embedder),
    )


class LlamaIndexDefault:
    """``VectorStoreIndex`` (default ``SentenceSplitter``) over FAISS, ``similarity_top_k=2``."""

    name = "llamaindex_default"

    def __init__(self, texts: dict[str, str], embedder: Any, query_embedder: Any = None) -> None:
        from index.embed import llama_embedding

        self.texts = texts
        index = plain_llamaindex(texts, embedder)
        self.retriever = index.as_retriever(
            similarity_top_k=2, embed_model=llama_embedding(query_embedder or embedder)
        )

    def answer(self, question: str, history: list | None = None) -> dict[str, Any]:
        """Plain LlamaIndex retrieval's best chunks, as a record."""
        t = time.perf_counter()
        nodes = self.retriever.retrieve(question)
        ms = (time.perf_counter() - t) * 1000
        evidence = []
        for n in nodes:
            doc_id = n.node.ref_doc_id
            text = self.texts[doc_id]
            start = n.node.start_char_idx
            if start is None or text[start : start + len(n.node.text)] != n.node.text:
                start = text.find(n.node.text)
            evidence.append(_ev(doc_id, start, start + len(n.node.text), text))
        body = " ".join(f"{' '.join(e['quote'].split())} [{i}]" for i, e in enumerate(evidence, 1))
        return {
            "text": body,
            "abstained": False,
            "confidence": float(nodes[0].score) if nodes else 0.0,
            "evidence": evidence,
            "n_citations": len(evidence),
            "latency_ms": ms,
        }


def build_systems(svc: QAService, texts: dict[str, str], index_embedder: Any = None) -> list[Any]:
    """Every system over the same documents (``svc`` must already hold ``texts``).
    ``index_embedder`` embeds the LlamaIndex baseline's chunks (default: the service's)."""
    return [
        Engine(svc),
        Engine(QAService(svc.index, reader_top_k=0), "engine_no_reader"),
        SentenceBaseline(svc.index, "bm25"),
        SentenceBaseline(svc.index, "dense"),
        LlamaIndexDefault(texts, index_embedder or svc.index.embedder, svc.index.embedder),
    ]
