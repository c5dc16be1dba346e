"""The engine as LlamaIndex components: a retriever and a query engine to drop into a pipeline.

    from qa import QAService
    from qa.llamaindex import GroundedQueryEngine, GroundedRetriever

    svc = QAService.from_seeds()
    nodes = GroundedRetriever(svc).retrieve("Why did the ceasefire talks stall?")
    response = GroundedQueryEngine(svc).query("How many rockets did Hamas fire on Sunday?")
    brief = summary_nodes(svc, "000_8d973b813353023c")  # the article guide's summary

The retriever's nodes are the engine's ranked citations (or, when it abstains, its related
passages, marked as such): ``TextNode``s whose ``start_char_idx``/``end_char_idx`` are exact
offsets into the article ``ref_doc_id``, so ``text == article[start:end]``. A citation that is
one whole sentence carries the id ``ArticleIndex.nodes`` gives that sentence
(``"<doc_id>:s<n>"``), so LlamaIndex's evaluators can compare against those.

This is the only module of ``qa/`` that imports LlamaIndex's retriever and query-engine classes.
"""

from __future__ import annotations

from collections.abc import Iterable

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from qa.service import QAService
from qa.types import Answer, Citation

__all__ = ["GroundedQueryEngine", "GroundedRetriever", "answer_nodes", "summary_nodes"]


def answer_nodes(svc: QAService, answer: Answer, include_related: bool = True) -> list[NodeWithScore]:
    """The answer's citations as scored nodes, best first; when it abstained, its related
    passages (``metadata["role"] == "related"``) if ``include_related``."""
    if answer.abstained:
        items, role = (answer.related if include_related else []), "related"
    else:
        items, role = answer.citations, "citation"
    return [NodeWithScore(node=_node(svc, c, role, rank, {"abstained": answer.abstained,
                                                          "confidence": answer.confidence}),
                          score=c.score)
            for rank, c in enumerate(items, 1)]


def summary_nodes(svc: QAService, doc_id: str) -> list[TextNode]:
    """The article guide's summary (``QAService.guide``) as nodes, in article order
    (``metadata["role"] == "summary"``), with exact offsets like every other node here.

    :raises UnknownDocumentError: no article with this id.
    """
    return [_node(svc, c, "summary", rank, {}) for rank, c in enumerate(svc.guide(doc_id).summary, 1)]


def _node(svc: QAService, c: Citation, role: str, rank: int, extra: dict) -> TextNode:
    hidden = ["rank", *extra]
    node = TextNode(
        id_=_sentence_id(svc, c) or f"{c.doc_id}:{c.start}-{c.end}",
        text=c.quote,
        start_char_idx=c.start,
        end_char_idx=c.end,
        metadata={"doc_id": c.doc_id, "role": role, "rank": rank, **extra},
        excluded_embed_metadata_keys=["role", *hidden],
        excluded_llm_metadata_keys=hidden,
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=c.doc_id)
    return node


def _sentence_id(svc: QAService, c: Citation) -> str | None:
    """``"<doc_id>:s<n>"`` when the citation is exactly sentence ``n`` of its article."""
    s_rows, _ = svc.index.rows_of([c.doc_id])
    for row in s_rows:
        sentence = svc.index.sentences[int(row)]
        if (sentence.start, sentence.end) == (c.start, c.end):
            return f"{c.doc_id}:s{sentence.index}"
    return None


class GroundedRetriever(BaseRetriever):
    """Retrieve the sentences that answer a query, with exact character offsets.

    :param svc: the engine (e.g. ``QAService.open_library(path)``).
    :param doc_ids: ask only these articles (default: the whole library).
    :param include_related: when the engine abstains, return its related passages (marked
        ``role="related"``, not support) instead of nothing.
    """

    def __init__(self, svc: QAService, doc_ids: Iterable[str] | None = None, include_related: bool = True,
                 callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.svc = svc
        self.doc_ids = list(doc_ids) if doc_ids is not None else None
        self.include_related = include_related

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        answer = self.svc.ask(query_bundle.query_str, doc_ids=self.doc_ids)
        return answer_nodes(self.svc, answer, self.include_related)


class GroundedQueryEngine(BaseQueryEngine):
    """A query engine whose response is the grounded answer (no LLM): ``response.response`` is
    the answer text, ``source_nodes`` its citations, ``metadata`` has ``abstained``,
    ``confidence``, ``short`` and the full ``answer`` as a dict.

    :param svc: the engine.
    :param doc_ids: ask only these articles.
    """

    def __init__(self, svc: QAService, doc_ids: Iterable[str] | None = None,
                 callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.svc = svc
        self.doc_ids = list(doc_ids) if doc_ids is not None else None

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.svc.ask(query_bundle.query_str, doc_ids=self.doc_ids)
        return Response(
            response=answer.text,
            source_nodes=answer_nodes(self.svc, answer, include_related=False),
            metadata={"abstained": answer.abstained, "confidence": answer.confidence,
                      "short": answer.short.to_dict() if answer.short else None,
                      "answer": answer.to_dict()},
        )

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return self._query(query_bundle)

    def _get_prompt_modules(self) -> dict:
        return {}
