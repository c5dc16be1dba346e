"""The re-ranker's fit (called by ``python -m eval.train``): each SQuAD v1.1 train article indexed
as the engine indexes it, the engine's own candidates for its questions, and the models tried
on them (logistic, MLP, listwise MLP), the best by hit@1 on held-out articles kept.

A candidate is positive when it lies in the question's paragraph and holds a gold answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.squad import SquadArticle, SquadQuestion, contains_answer
from eval.train.reader_data import LOW_OVERLAP
from index.embed import Embedder
from index.store import ArticleIndex
from qa.answer import make_citation
from qa.features import FEATURES
from qa.models import ScoringModel
from qa.qencoder import question_embedder
from qa.retrieve import Candidates, retrieve


@dataclass
class ArticleRun:
    """Candidates of the chosen questions of one article, with the index they came from."""

    article: SquadArticle
    questions: list[SquadQuestion]
    index: ArticleIndex
    cands: list[Candidates]


def run_article(
    article: SquadArticle,
    embedder: Embedder,
    max_answerable: int | None = None,
    max_unanswerable: int | None = None,
) -> ArticleRun:
    """Index one train article (paragraphs held out) and gather its questions' candidates."""
    index = ArticleIndex(embedder=embedder)
    index.add_document(article.text, doc_id=article.title[:200].replace("/", "_"))
    answerable = [q for q in article.questions if not q.impossible][:max_answerable]
    unanswerable = [q for q in article.questions if q.impossible][:max_unanswerable]
    questions = answerable + unanswerable
    vectors = question_embedder(index.config, embedder)([q.question for q in questions])
    cands = [retrieve(index, v, q.question) for q, v in zip(questions, vectors)]
    return ArticleRun(article, questions, index, cands)


def is_answer_sentence(run: ArticleRun, q: SquadQuestion, row: int) -> bool:
    """The label of every fit here: sentence ``row`` lies in the question's paragraph and holds
    a gold answer."""
    lo, hi = run.article.paragraph_spans[q.paragraph]
    s = run.index.sentences[row]
    return lo <= s.start < hi and contains_answer(s.text, q.answers)


def reranker_rows(run: ArticleRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and question ids of every candidate of an article's answerable questions."""
    xs, ys, gs = [], [], []
    for qi, (q, c) in enumerate(zip(run.questions, run.cands)):
        if q.impossible or not len(c.rows):
            continue
        for row, f in zip(c.rows, c.features):
            xs.append(f)
            ys.append(is_answer_sentence(run, q, int(row)))
            gs.append(qi)
    return np.asarray(xs), np.asarray(ys, dtype=int), np.asarray(gs)


_OVERLAP = FEATURES.index("overlap")  # the same share as eval.train.reader_data.overlap


def question_weights(y: np.ndarray, groups: np.ndarray, x: np.ndarray, low_weight: float) -> np.ndarray:
    """Per row: ``low_weight`` for the candidates of a question whose best answer sentence holds
    at most :data:`LOW_OVERLAP` of its stems, else 1."""
    w = np.ones(len(y))
    if low_weight == 1.0:
        return w
    for g in np.unique(groups):
        ix = np.flatnonzero(groups == g)
        pos = ix[y[ix] == 1]
        if len(pos) and x[pos, _OVERLAP].max() <= LOW_OVERLAP:
            w[ix] = low_weight
    return w


def is_low_overlap(c: Candidates, run: ArticleRun, q: SquadQuestion) -> bool:
    """Whether every answer sentence among ``c`` holds at most :data:`LOW_OVERLAP` of the
    question's stems (False when none is among them)."""
    ov = [f[_OVERLAP] for row, f in zip(c.rows, c.features) if is_answer_sentence(run, q, int(row))]
    return bool(ov) and max(ov) <= LOW_OVERLAP


def hit_at_1(runs: list[ArticleRun], model: ScoringModel, low_only: bool = False) -> float:
    """Evidence hit@1 of ``model`` alone on the answerable questions (``low_only``: only those
    asked in other words than their answer sentence, see :func:`is_low_overlap`)."""
    hits = total = 0
    for run in runs:
        for q, c in zip(run.questions, run.cands):
            if q.impossible or (low_only and not is_low_overlap(c, run, q)):
                continue
            total += 1
            if len(c.rows):
                top = int(c.rows[int(np.argmax(model.predict(c.features)))])
                hits += contains_answer(make_citation(run.index, top, 0).quote, q.answers)
    return hits / max(total, 1)


def fit_listwise(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, scaler, weights: np.ndarray | None = None,
    epochs: int = 30,
) -> ScoringModel:
    """An MLP trained listwise: softmax over each question's candidates, cross-entropy against
    its positive candidates, so it learns to put the answering sentence first. Its logits are
    then Platt-scaled to probabilities (folded into the last layer)."""
    import torch

    torch.manual_seed(0)
    xs = torch.tensor(scaler.transform(x), dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    lists = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    lists = [ix for ix in lists if y[ix].any()]
    list_weight = [1.0 if weights is None else float(weights[ix[0]]) for ix in lists]
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 1),
    )
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(lists)), max(len(lists) // 64, 1)):
            loss = torch.zeros(())
            for b in batch:
                ix = torch.as_tensor(lists[b])
                logits = net(xs[ix]).squeeze(-1)
                target = yt[ix] / yt[ix].sum()
                loss = loss - list_weight[b] * (target * torch.log_softmax(logits, 0)).sum()
            opt.zero_grad()
            (loss / sum(list_weight[b] for b in batch)).backward()
            opt.step()
    with torch.no_grad():
        logits = net(xs).squeeze(-1).numpy().astype(np.float64)
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=100.0).fit(logits[:, None], y)  # calibrated on the true mix
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    weights = [m.weight.detach().numpy().T.astype(np.float64) for m in layers]
    biases = [m.bias.detach().numpy().astype(np.float64) for m in layers]
    weights[-1], biases[-1] = weights[-1] * a, biases[-1] * a + b
    scale = np.where(scaler.scale_ == 0, 1.0, scaler.scale_)
    return ScoringModel(
        list(FEATURES), scaler.mean_.copy(), scale, weights, biases, {"kind": "mlp-listwise-32-16"}
    )


def fit_reranker(
    train: list[ArticleRun], held_out: list[ArticleRun], low_weight: float = 1.0
) -> ScoringModel:
    """Fit the listwise re-ranker on ``fit``, choosing its settings on ``select``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    parts = [reranker_rows(r) for r in train]
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    groups = np.concatenate([p[2] + 100_000 * i for i, p in enumerate(parts)])
    w = question_weights(y, groups, x, low_weight)
    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    best: tuple[float, ScoringModel, float] | None = None
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
        ("listwise", None),
    ]:
        if clf is None:
            model = fit_listwise(x, y, groups, scaler, w)  # all ones: as unweighted
        else:
            # unweighted fits exactly as before (sklearn's MLP fits differently given any weights)
            clf.fit(xs, y, **({"sample_weight": w} if low_weight != 1.0 else {}))
            model = ScoringModel.from_sklearn(scaler, clf, list(FEATURES), {"kind": name})
        score, other = hit_at_1(held_out, model), hit_at_1(held_out, model, low_only=True)
        print(
            f"  re-ranker {name:10s}: hit@1 on {len(held_out)} held-out train articles = {score:.3f} "
            f"(in other words: {other:.3f})",
            flush=True,
        )
        if best is None or score > best[0]:
            best = (score, model, other)
    assert best is not None
    best[1].info.update(
        {
            "fitted_on": f"SQuAD v1.1 train, {len(train)} articles, {len(y)} candidates",
            "held_out_hit_at_1": round(best[0], 4),
            "held_out_articles": len(held_out),
            "held_out_hit_at_1_other_words": round(best[2], 4),
            "low_overlap_weight": low_weight,
        }
    )
    return best[1]
