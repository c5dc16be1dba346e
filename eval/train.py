"""Fit the re-ranker and the abstention model on public SQuAD articles (never the seed article).

    python -m eval.train [--articles 100]

* Re-ranker: SQuAD v1.1 *train* articles (disjoint from every evaluated article). Candidates
  come from the engine's own hybrid retrieval; a candidate is positive when it lies in the
  question's paragraph and holds a gold answer. Reported on held-out train articles.
* Abstention: SQuAD 2.0 dev articles (the benchmark's public split has the only unanswerable
  questions). Fitted two-fold by article; the held-out predictions give the reported AUROC and
  the default threshold, then the shipped model is fitted on all 18 articles.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass

import numpy as np

from eval.squad import (
    CACHE,
    SQUAD2_DEV,
    SQUAD11_TRAIN,
    SquadArticle,
    contains_answer,
    load_articles,
)
from index.embed import CachedEmbedder, Embedder
from index.store import ArticleIndex
from qa.abstain import ABSTAIN_FEATURES, abstention_features
from qa.answer import make_citation
from qa.features import FEATURES
from qa.models import MODEL_DIR, ScoringModel
from qa.retrieve import Candidates, retrieve


@dataclass
class ArticleRun:
    """Candidates of every question of one article, with the index they came from."""

    article: SquadArticle
    index: ArticleIndex
    cands: list[Candidates]
    query_seconds: float


def run_article(
    article: SquadArticle, embedder: Embedder, max_questions: int | None = None
) -> ArticleRun:
    index = ArticleIndex(embedder=embedder)
    index.add_document(article.text, doc_id=article.title[:200].replace("/", "_"))
    questions = article.questions[:max_questions]
    vectors = embedder.encode([q.question for q in questions])
    t = time.perf_counter()
    cands = [retrieve(index, v, q.question) for q, v in zip(questions, vectors)]
    return ArticleRun(article, index, cands, time.perf_counter() - t)


def reranker_rows(run: ArticleRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and question ids of every candidate of an article's answerable questions."""
    xs, ys, gs = [], [], []
    for qi, (q, c) in enumerate(zip(run.article.questions, run.cands)):
        if q.impossible or not len(c.rows):
            continue
        lo, hi = run.article.paragraph_spans[q.paragraph]
        for row, f in zip(c.rows, c.features):
            s = run.index.sentences[row]
            xs.append(f)
            ys.append(lo <= s.start < hi and contains_answer(s.text, q.answers))
            gs.append(qi)
    return np.asarray(xs), np.asarray(ys, dtype=int), np.asarray(gs)


def hit_at_1(runs: list[ArticleRun], model: ScoringModel) -> float:
    hits = total = 0
    for run in runs:
        for q, c in zip(run.article.questions, run.cands):
            if q.impossible:
                continue
            total += 1
            if len(c.rows):
                top = int(c.rows[int(np.argmax(model.predict(c.features)))])
                hits += contains_answer(make_citation(run.index, top, 0).quote, q.answers)
    return hits / max(total, 1)


def fit_reranker(train: list[ArticleRun], held_out: list[ArticleRun]) -> ScoringModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    parts = [reranker_rows(r) for r in train]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    best: tuple[float, ScoringModel] | None = None
    for name, clf in [
        ("logistic", LogisticRegression(C=1.0, max_iter=2000)),
        (
            "mlp-32-16",
            MLPClassifier(
                hidden_layer_sizes=(32, 16),
                alpha=1e-3,
                max_iter=300,
                early_stopping=True,
                random_state=0,
            ),
        ),
    ]:
        clf.fit(xs, y)
        model = ScoringModel.from_sklearn(scaler, clf, list(FEATURES), {"kind": name})
        score = hit_at_1(held_out, model)
        print(
            f"  re-ranker {name:10s}: hit@1 on {len(held_out)} held-out train articles "
            f"= {score:.3f}",
            flush=True,
        )
        if best is None or score > best[0]:
            best = (score, model)
    assert best is not None
    best[1].info.update(
        {
            "fitted_on": f"SQuAD v1.1 train, {len(train)} articles, {len(y)} candidates",
            "held_out_hit_at_1": round(best[0], 4),
            "held_out_articles": len(held_out),
        }
    )
    return best[1]


def abstention_rows(
    runs: list[ArticleRun], reranker: ScoringModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per question: features, answerable?, answered correctly?, article number."""
    xs, answerable, correct, article = [], [], [], []
    for a_i, run in enumerate(runs):
        for q, c in zip(run.article.questions, run.cands):
            probs = reranker.predict(c.features) if len(c.rows) else np.zeros(0)
            xs.append(abstention_features(c, probs))
            hit = False
            if len(probs) and not q.impossible:
                top = int(c.rows[int(np.argmax(probs))])
                hit = contains_answer(make_citation(run.index, top, 0).quote, q.answers)
            answerable.append(not q.impossible)
            correct.append(hit)
            article.append(a_i)
    return (
        np.asarray(xs),
        np.asarray(answerable, dtype=int),
        np.asarray(correct, dtype=int),
        np.asarray(article),
    )


def fit_abstainer(x: np.ndarray, y: np.ndarray) -> ScoringModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x), y)
    return ScoringModel.from_sklearn(scaler, clf, list(ABSTAIN_FEATURES), {"kind": "logistic"})


def cross_fitted_confidence(x: np.ndarray, y: np.ndarray, article: np.ndarray) -> np.ndarray:
    """Confidence of each question from a model fitted on the other fold of articles."""
    out = np.zeros(len(y))
    fold = article % 2
    for f in (0, 1):
        model = fit_abstainer(x[fold != f], y[fold != f])
        out[fold == f] = model.predict(x[fold == f])
    return out


def best_threshold(conf: np.ndarray, answerable: np.ndarray, correct: np.ndarray) -> float:
    """Threshold maximising SQuAD 2.0-style accuracy: right answers plus right abstentions."""
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    accs = [
        (((conf >= t) & (correct == 1)).sum() + ((conf < t) & (answerable == 0)).sum()) / len(conf)
        for t in grid
    ]
    return float(grid[int(np.argmax(accs))])


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100, help="SQuAD v1.1 train articles to use")
    ap.add_argument("--questions", type=int, default=60, help="questions per train article")
    args = ap.parse_args(argv)
    embedder = CachedEmbedder(CACHE / "embeddings.npz")

    t = time.time()
    pool = load_articles(SQUAD11_TRAIN)
    random.Random(0).shuffle(pool)
    pool = pool[: args.articles]
    n_val = max(len(pool) // 5, 1)
    runs = []
    for i, art in enumerate(pool):
        runs.append(run_article(art, embedder, args.questions))
        print(f"\r  train articles indexed: {i + 1}/{len(pool)}", end="", flush=True)
    print(f"  ({time.time() - t:.0f}s)")
    reranker = fit_reranker(runs[n_val:], runs[:n_val])
    (MODEL_DIR / "reranker.json").write_text(reranker.to_json(), encoding="utf-8")
    embedder.save()

    t = time.time()
    dev = [run_article(a, embedder) for a in load_articles(SQUAD2_DEV)]
    print(f"  dev articles indexed: {len(dev)} ({time.time() - t:.0f}s)")
    embedder.save()
    x, answerable, correct, article = abstention_rows(dev, reranker)
    conf = cross_fitted_confidence(x, correct, article)
    threshold = best_threshold(conf, answerable, correct)
    auroc = roc_auc_score(answerable, conf)
    print(
        f"  abstention (2-fold by article): AUROC answerable-vs-not {auroc:.3f}, "
        f"threshold {threshold:.2f}"
    )
    abstainer = fit_abstainer(x, correct)
    abstainer.info.update(
        {
            "fitted_on": "SQuAD 2.0 dev public split, 18 articles; label = top citation holds a "
            "gold answer",
            "threshold": threshold,
            "cross_fitted_auroc_unanswerable": round(float(auroc), 4),
        }
    )
    (MODEL_DIR / "abstainer.json").write_text(abstainer.to_json(), encoding="utf-8")
    print(f"  wrote {MODEL_DIR}/reranker.json and abstainer.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
