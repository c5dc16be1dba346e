"""Fit what sits on the reading model: the final ranker (re-ranker score + the reader's
evidence, ``qa/models/final.json``) and the abstention model with the reader's features
(``abstainer.json``). Called by ``python -m eval.train`` on the same SQuAD v1.1 train articles
and splits as the re-ranker; the reader itself was fitted on other train articles
(``eval.train.reader``), so its scores here are those of unseen text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from eval.crossfit import Policy, article_half
from eval.squad import contains_answer
from eval.train.fit_rerank import is_answer_sentence
from qa.abstain import ABSTAIN_FEATURES, abstention_features
from qa.answer import make_citation
from qa.models import ScoringModel
from qa.reader import Reader
from qa.rerank import (
    FINAL_FEATURES,
    ReadCandidates,
    as_if_read,
    final_probs,
    read_top,
    reader_abstain_features,
)
from qa.service import ABSTAIN_WITH_READER


@dataclass
class ReadRun:
    """One article's questions with the re-ranker's probabilities and the reader's readings of
    each question's best candidates (as a policy says)."""

    run: object  # eval.train.pipeline.ArticleRun
    probs: list[np.ndarray]
    reads: list[ReadCandidates]


def fixed(k: int) -> Policy:
    """Always read the best ``k``."""
    return (k, k, 0.0)


def read_runs(runs: list, reranker: ScoringModel, reader: Reader, policy: Policy) -> list[ReadRun]:
    """Every run's questions read by ``reader`` as ``policy`` says."""
    out = []
    for n, run in enumerate(runs, 1):
        probs, reads = [], []
        sentences = run.index.sentences
        for q, c in zip(run.questions, run.cands):
            p = reranker.predict(c.features) if len(c.rows) else np.zeros(0)
            probs.append(p)
            text_of = lambda i, rows=c.rows, s=sentences: s[int(rows[i])].text  # noqa: E731
            reads.append(
                read_top(reader, q.question, text_of, p, *policy)
                if len(p)
                else ReadCandidates(np.zeros(0, dtype=np.int64), [], np.zeros((0, len(FINAL_FEATURES))))
            )
        out.append(ReadRun(run, probs, reads))
        print(f"\r  read: {n}/{len(runs)} articles", end="", flush=True)
    print()
    return out


def final_rows(rr: list[ReadRun]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and question groups of every read candidate of answerable questions."""
    xs, ys, gs, g = [], [], [], 0
    for r in rr:
        for q, c, read in zip(r.run.questions, r.run.cands, r.reads):
            g += 1
            if q.impossible or not len(read.positions):
                continue
            for pos, f in zip(read.positions, read.features):
                xs.append(f)
                ys.append(is_answer_sentence(r.run, q, int(c.rows[pos])))
                gs.append(g)
    return np.asarray(xs), np.asarray(ys, dtype=int), np.asarray(gs)


def final_hit_at_1(rr: list[ReadRun], model: ScoringModel | None, policy: Policy) -> float:
    """Evidence hit@1 (the first citation holds a gold answer) reading as ``policy`` says; with
    ``model=None``, the re-ranker alone."""
    hits = total = 0
    for r in rr:
        for q, c, p, read in zip(r.run.questions, r.run.cands, r.probs, r.reads):
            if q.impossible:
                continue
            total += 1
            if not len(p):
                continue
            scores = p
            if model is not None and policy[0] > 0:
                rk = as_if_read(read, *policy)
                scores = final_probs(p, rk, model.predict(rk.features))
            top = int(c.rows[int(np.argmax(scores))])
            hits += contains_answer(make_citation(r.run.index, top, 0).quote, q.answers)
    return hits / max(total, 1)


def fit_final(fit: list[ReadRun], select: list[ReadRun], policy: Policy) -> ScoringModel:
    """Logistic regression and a small MLP on FINAL_FEATURES; the one with the better hit@1 on
    the ``select`` articles (reading as ``policy`` says) is kept."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    x, y, _ = final_rows(fit)
    scaler = StandardScaler().fit(x)
    best: tuple[float, ScoringModel] | None = None
    for name, clf in [
        ("logistic", LogisticRegression(C=1.0, max_iter=2000)),
        ("mlp-16", MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-3, max_iter=300,
                                 early_stopping=True, random_state=0)),
    ]:
        clf.fit(scaler.transform(x), y)
        model = ScoringModel.from_sklearn(scaler, clf, list(FINAL_FEATURES), {"kind": name})
        score = final_hit_at_1(select, model, policy)
        print(f"  final ranker {name:9s}: hit@1 on {len(select)} select articles = {score:.3f}", flush=True)
        if best is None or score > best[0]:
            best = (score, model)
    assert best is not None
    best[1].info.update({"fitted_on": f"SQuAD v1.1 train, {len(fit)} articles, {len(y)} read candidates",
                         "select_hit_at_1": round(best[0], 4), "read_policy": list(policy)})
    return best[1]


def abstention_rows(
    rr: list[ReadRun], final: ScoringModel | None, policy: Policy
) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the abstention features (with the reader's when ``final`` is given; the
    columns are ABSTAIN_WITH_READER or ABSTAIN_FEATURES) and whether the text answers it."""
    xs, ys = [], []
    for r in rr:
        for q, c, p, read in zip(r.run.questions, r.run.cands, r.probs, r.reads):
            feats = abstention_features(c, p)
            names = ABSTAIN_FEATURES
            if final is not None:
                names = ABSTAIN_WITH_READER
                rk = as_if_read(read, *policy)
                scores = final_probs(p, rk, final.predict(rk.features)) if len(p) else p
                feats.update(reader_abstain_features(scores, rk))
            xs.append([feats[n] for n in names])
            ys.append(not q.impossible)
    return np.asarray(xs), np.asarray(ys, dtype=int)


def ask_squad2(reranker: ScoringModel, final: ScoringModel, reader: Reader, embedder,
               half: int | None = None) -> Iterator[tuple]:
    """Every question of the public SQuAD 2.0 split (of its ``half`` when given) asked
    article-level as ``qa eval`` asks it: ``(article, question, service, candidates, scored)``
    per question, one service per article (the same models and embedder throughout)."""
    from eval.squad import SQUAD2_DEV, load_articles
    from qa.retrieve import retrieve
    from qa.service import QAService

    articles = [a for a in load_articles(SQUAD2_DEV) if half is None or article_half(a.title) == half]
    for a, art in enumerate(articles):
        svc = QAService(reranker=reranker, final=final, reader=reader)
        svc.index.embedder = embedder
        svc.add_document(art.text, doc_id=art.title[:200].replace("/", "_"))
        vectors = svc.embed_questions([q.question for q in art.questions])
        for q, v in zip(art.questions, vectors):
            cands = retrieve(svc.index, v, q.question)
            yield art, q, svc, cands, svc.score(q.question, cands)
        print(f"\r  SQuAD 2.0 public split: {a + 1}/{len(articles)} articles", end="", flush=True)
    print()


def squad2_rows(reranker: ScoringModel, final: ScoringModel, reader: Reader, embedder,
                half: int | None = None) -> tuple:
    """The abstention features (ABSTAIN_WITH_READER) of every question of the public SQuAD 2.0
    split, or of its ``half`` (:func:`ask_squad2`); labels (answerable) and the half
    (:func:`article_half`) of each question's article, for cross-fitting."""
    xs, ys, gs = [], [], []
    for art, q, _, _, scored in ask_squad2(reranker, final, reader, embedder, half):
        xs.append([scored.features.get(n, 0.0) for n in ABSTAIN_WITH_READER])
        ys.append(not q.impossible)
        gs.append(article_half(art.title))
    return np.asarray(xs), np.asarray(ys, dtype=int), np.asarray(gs)
