"""SQuAD 2.0 article-level benchmark: this engine against plain sentence retrieval baselines.

    python -m eval.squad_bench [--articles N] [--json PATH]

One index per article (all its paragraphs), every question asked through ``QAService.ask``.
Evidence hit@1: the first citation (or, when the engine abstains, the first related passage)
holds a gold answer under SQuAD's normalisation. Baselines use the same splitter and model:
plain dense sentence retrieval, plain BM25 sentence retrieval, and their reciprocal-rank fusion.

Nothing was fitted on these articles: the re-ranker and the abstention model were fitted on
SQuAD v1.1 train articles (``python -m eval.train``), so every figure is out of sample.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

from eval.squad import CACHE, SQUAD2_DEV, SquadArticle, contains_answer, load_articles
from index.embed import CachedEmbedder
from index.text import content_stems
from qa.service import QAService


@dataclass
class Row:
    article: int
    answerable: bool
    engine_hit: bool
    dense_hit: bool
    bm25_hit: bool
    rrf_hit: bool
    confidence: float
    max_dense: float
    abstained: bool
    cite_chars: int
    cite_sentences: int
    ask_ms: float


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):  # average ranks of ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def run_article(a_i: int, article: SquadArticle, svc: QAService) -> list[Row]:
    index = svc.index
    doc_id = svc.add_document(article.text, doc_id=article.title[:200].replace("/", "_"))
    d = index.derived
    rows = []
    vectors = index.embedder.encode([q.question for q in article.questions])
    for q, vec in zip(article.questions, vectors):
        t = time.perf_counter()
        ans = svc.ask(q.question)
        ask_ms = (time.perf_counter() - t) * 1000
        first = (ans.citations or ans.related)[0]
        dense = index.sentence_vectors @ vec
        bm25 = d.sentence_bm25.scores(content_stems(q.question))
        dense_top = int(np.argmax(dense))
        bm25_top = int(np.argmax(bm25)) if bm25.max() > 0 else -1
        dense_rank = np.argsort(-dense)
        bm25_rank = np.argsort(-bm25)
        fused = np.zeros(len(dense))
        fused[dense_rank] += 1 / (60 + np.arange(1, len(dense) + 1))
        if bm25.max() > 0:
            fused[bm25_rank] += 1 / (60 + np.arange(1, len(bm25) + 1))
        rrf_top = int(np.argmax(fused))

        def hit(row: int, answers: tuple[str, ...] = q.answers) -> bool:
            return row >= 0 and contains_answer(index.sentences[row].text, answers)

        first_sentences = sum(
            1 for s in index.sentences if s.doc_id == doc_id and first.start <= s.start < first.end
        )
        rows.append(
            Row(
                a_i,
                not q.impossible,
                (not q.impossible) and contains_answer(first.quote, q.answers),
                (not q.impossible) and hit(dense_top),
                (not q.impossible) and hit(bm25_top),
                (not q.impossible) and hit(rrf_top),
                ans.confidence,
                float(dense.max()),
                ans.abstained,
                len(first.quote),
                first_sentences,
                ask_ms,
            )
        )
    svc.remove_document(doc_id)
    return rows


def summarise(rows: list[Row], threshold: float) -> dict[str, float]:
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]
    labels = np.array([r.answerable for r in rows], dtype=int)
    conf = np.array([r.confidence for r in rows])
    ms = np.array([r.ask_ms for r in rows])
    return {
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "hit@1_engine": float(np.mean([r.engine_hit for r in ans])),
        "hit@1_dense_sentence": float(np.mean([r.dense_hit for r in ans])),
        "hit@1_bm25_sentence": float(np.mean([r.bm25_hit for r in ans])),
        "hit@1_rrf_dense_bm25_sentence": float(np.mean([r.rrf_hit for r in ans])),
        "first_citation_sentences_mean": float(np.mean([r.cite_sentences for r in ans])),
        "first_citation_chars_mean": float(np.mean([r.cite_chars for r in ans])),
        "auroc_unanswerable_engine": auroc(labels, conf),
        "auroc_unanswerable_max_similarity": auroc(labels, np.array([r.max_dense for r in rows])),
        "abstained_unanswerable": float(np.mean([r.abstained for r in una])),
        "false_abstention_answerable": float(np.mean([r.abstained for r in ans])),
        "ask_ms_p50": float(np.percentile(ms, 50)),
        "ask_ms_p95": float(np.percentile(ms, 95)),
    }


def run_bench(limit: int | None = None, progress: bool = True) -> tuple[dict, list[Row]]:
    """Ask every question of the first ``limit`` dev articles; (summary, per-question rows)."""
    embedder = CachedEmbedder(CACHE / "embeddings.npz")
    svc = QAService()
    svc.index._embedder = embedder
    articles = load_articles(SQUAD2_DEV, limit)
    rows: list[Row] = []
    t = time.time()
    for a_i, art in enumerate(articles):
        rows += run_article(a_i, art, svc)
        if progress:
            print(f"\r  {a_i + 1}/{len(articles)} articles, {len(rows)} questions "
                  f"({time.time() - t:.0f}s)", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    embedder.save()
    return summarise(rows, svc.threshold), rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=None, help="first N articles only")
    ap.add_argument("--json", default=None, help="write the summary here")
    args = ap.parse_args(argv)
    summary, _ = run_bench(args.articles)
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"summary": summary}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
