"""Hybrid retrieval: dense (FAISS) and BM25 over sentences and passages, fused, then one feature
row per candidate sentence for the re-ranker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.store import ArticleIndex
from index.text import content_stems
from qa.features import FEATURES, QuestionInfo, analyse_question, ranks, sentence_features


@dataclass(frozen=True)
class Candidates:
    """Candidate sentences (rows of ``index.sentences``) with their feature matrix, whose
    columns are :data:`qa.features.FEATURES` by name."""

    question: QuestionInfo
    rows: np.ndarray
    features: np.ndarray
    dense: np.ndarray
    bm25: np.ndarray


def top_positive(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> list[int]:
    """Rows of the ``k`` best positive scores (among ``allowed`` rows), best first, ties in row
    order. Only rows sharing a term with the question are ranked: at 100k articles a few
    thousand of 486k sentence rows, and a partition of the whole array cost 0.9 ms a call."""
    mask = scores > 0
    if allowed is not None:
        mask &= allowed
    rows = np.flatnonzero(mask)
    if k <= 0 or not len(rows):
        return []
    if len(rows) > k:  # the k-th best score, then ties at it taken in row order
        kth = -np.partition(-scores[rows], k - 1)[k - 1]
        above, at = rows[scores[rows] > kth], rows[scores[rows] == kth]
        rows = np.concatenate([above, at[: k - len(above)]])
    return rows[np.argsort(-scores[rows], kind="stable")].tolist()


def _rrf(rankings: list[list[int]], k: int) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank + 1)
    return fused


def retrieve(
    index: ArticleIndex,
    query_vector: np.ndarray,
    query_text: str,
    doc_ids: set[str] | None = None,
) -> Candidates:
    """Candidate sentences for a question, each with one feature row."""
    cfg = index.config
    stems = content_stems(query_text)
    allowed_s = allowed_p = None
    if doc_ids is not None:
        s_rows, p_rows = index.rows_of(doc_ids)
        allowed_s = np.zeros(len(index.sentences), dtype=bool)
        allowed_p = np.zeros(len(index.passages), dtype=bool)
        allowed_s[s_rows] = allowed_p[p_rows] = True

    # Sentence level: the vector index for dense (filtered by document), BM25 scores.
    dense_s = [h.row for h in index.search_sentences(query_vector, cfg.dense_top_k, doc_ids)]
    bm25_all = index.sentence_bm25_scores(stems)
    bm25_s = top_positive(bm25_all, cfg.bm25_top_k, allowed_s)

    # Passage level: dense and BM25 fused by reciprocal rank; their sentences join the pool.
    dense_p = [h.row for h in index.search_passages(query_vector, cfg.passage_top_k * 2, doc_ids)]
    pbm25_all = index.passage_bm25_scores(stems)
    bm25_p = top_positive(pbm25_all, cfg.passage_top_k * 2, allowed_p)
    fused_p = _rrf([dense_p, bm25_p], cfg.rrf_k)
    top_p = sorted(fused_p, key=lambda r: -fused_p[r])[: cfg.passage_top_k]

    pool = dict.fromkeys(dense_s + bm25_s)
    for prow in top_p:
        pool.update(dict.fromkeys(index.passage_sentence_rows(prow)))
    rows = np.fromiter(pool, dtype=np.int64, count=len(pool))
    q = analyse_question(query_text, index.idf, index.idf.default)
    if not len(rows):
        return Candidates(q, rows, np.zeros((0, 0)), np.zeros(0), np.zeros(0))

    # Every vector the features need is read in one call per table (a library's vectors may be
    # read from its files row by row): the candidates, their neighbours, their passages.
    neighbours_of = {int(r): [int(x) for x in (r - 1, r + 1) if index.same_document(r, x)] for r in rows}
    s_rows = np.unique(np.concatenate([rows, np.fromiter(
        (x for ns in neighbours_of.values() for x in ns), dtype=np.int64)]))
    s_dense = dict(zip(s_rows.tolist(), (index.sentence_vectors[s_rows] @ query_vector).tolist(),
                       strict=True))
    dense = np.asarray([s_dense[int(r)] for r in rows], dtype=np.float32)
    bm25 = bm25_all[rows]
    passages_of = {int(r): index.passages_of_sentence(int(r)) for r in rows}
    p_rows = np.unique(np.fromiter((p for ps in passages_of.values() for p in ps), dtype=np.int64))
    passage_dense_all = dict(zip(p_rows.tolist(), (index.passage_vectors[p_rows] @ query_vector).tolist(),
                                 strict=True))
    pbm25_max = float(pbm25_all.max()) if len(pbm25_all) else 0.0
    sentence_rrf = _rrf([dense_s, bm25_s], cfg.rrf_k)
    dense_rank, bm25_rank = ranks(dense), ranks(bm25)
    best_dense, best_bm25 = float(dense.max()), float(bm25.max())
    feats = []
    for i, r in enumerate(rows):
        neighbours = neighbours_of[int(r)]
        ctx_stems = {s for x in neighbours for s in index.sentence_stems(x)}
        ctx_dense = max((s_dense[x] for x in neighbours), default=0.0)
        passages = passages_of[int(r)]
        named = sentence_features(
            q,
            index.sentence_tokens(int(r)),
            ctx_stems,
            float(dense[i]),
            best_dense,
            int(dense_rank[i]),
            float(bm25[i]),
            best_bm25,
            int(bm25_rank[i]),
            max((passage_dense_all[p] for p in passages), default=0.0),
            max((float(pbm25_all[p]) for p in passages), default=0.0) / pbm25_max
            if pbm25_max > 0
            else 0.0,
            ctx_dense,
            sentence_rrf.get(int(r), 0.0) * cfg.rrf_k,
        )
        feats.append([named[name] for name in FEATURES])
    return Candidates(q, rows, np.asarray(feats, dtype=np.float32), dense, bm25)
