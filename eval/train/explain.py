"""Fit the explanation ranker (``qa/models/explain.json``, see ``qa/explain.py``).

    python -m eval.train.explain [--articles 80] [--hold-out 0.3]

Data: the why and how questions (``qa.kinds``: reason and manner) of SQuAD v1.1 train articles
0..79 of ``eval.train``'s fixed shuffle, the articles neither the re-ranker nor the final ranker
was fitted on, and never a benchmark article or the seed article. Each article is indexed with
``--hold-out`` of its paragraphs removed (their questions become near-topic unanswerable ones);
every question is asked as the shipped engine asks it, the best ``--read-k`` candidates read,
and each read candidate labelled by whether it is the answer sentence.

A logistic regression on :data:`qa.explain.EXPLAIN_FEATURES` over the read candidates of the
answerable questions, reported by 2-fold cross-fitting over articles (hit@1 of the engine's own
ranking against the model's, per kind). The abstention shift: how far the threshold moves for
these questions, in logit, so that at most ``--refuse`` of their answerable ones are refused
(the global threshold's own rule), never upwards. About 6 minutes cold (embedding the
articles), 2 with the embedding cache.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.squad import CACHE, SQUAD11_TRAIN, hold_out_paragraphs, load_articles
from eval.train.fit_rerank import is_answer_sentence, run_article
from index.config import Config
from index.embed import CachedEmbedder
from qa.abstain import abstention_features
from qa.explain import EXPLAIN_FEATURES, feature_matrix
from qa.kinds import EXPLANATION_KINDS, question_kind
from qa.models import MODEL_DIR, ScoringModel
from qa.rerank import as_if_read, final_probs, read_top
from qa.service import QAService


@dataclass
class Asked:
    """One explanation question as the engine saw it: the features and labels of its read
    candidates, where the engine's own ranking put the answer, and its confidence."""

    article: int
    kind: str
    answerable: bool
    x: np.ndarray  # rows: read candidates, columns: EXPLAIN_FEATURES
    y: np.ndarray  # 1 where the read candidate is the answer sentence
    engine_hit: bool  # the engine's own first candidate is the answer sentence
    confidence: float


def ask_all(articles: int, hold_out: float, read_k: int) -> list[Asked]:
    """Every why/how question of the first ``articles`` train articles, asked of the shipped engine."""
    pool = load_articles(SQUAD11_TRAIN)
    random.Random(0).shuffle(pool)  # the shuffle of eval.train.pipeline
    embedder = CachedEmbedder(CACHE / "embeddings.npz")
    svc = QAService(config=Config(explain_read_k=0))  # the engine as it ranks every other question
    cfg = svc.config
    out: list[Asked] = []
    t = time.time()
    for a, art in enumerate(pool[:articles]):
        art = hold_out_paragraphs(art, hold_out, seed=a)
        picked = [q for q in art.questions if question_kind(q.question) in EXPLANATION_KINDS]
        if not picked:
            continue
        art = type(art)(art.title, art.text, art.paragraph_spans, tuple(picked))
        run = run_article(art, embedder)
        for q, cands in zip(run.questions, run.cands, strict=True):
            if not len(cands.rows):
                continue
            texts = [run.index.sentences[int(r)].text for r in cands.rows]
            probs = svc.reranker.predict(cands.features)
            full = read_top(svc.reader, q.question, lambda i, texts=texts: texts[i], probs, read_k, read_k)
            std = as_if_read(full, cfg.reader_top_k, cfg.reader_first_k, cfg.reader_more_below)
            final = final_probs(probs, std, svc.final.predict(std.features))
            confidence = svc.confidence(abstention_features(cands, probs), final, std)
            read_final = svc.final.predict(full.features)
            kind = question_kind(q.question)
            x = feature_matrix(kind, cands.question.stems, [texts[int(i)] for i in full.positions],
                               full.readings, read_final)
            y = np.asarray([is_answer_sentence(run, q, int(cands.rows[int(i)])) for i in full.positions])
            top = int(np.argmax(final))
            out.append(Asked(a, kind, not q.impossible, x, y.astype(int),
                             bool(is_answer_sentence(run, q, int(cands.rows[top]))), confidence))
        print(f"\r  train articles asked: {a + 1}/{articles} ({len(out)} questions)", end="", flush=True)
    embedder.save()
    print(f"  ({time.time() - t:.0f}s)")
    return out


def fit(asked: list[Asked]) -> ScoringModel:
    """The logistic model over the read candidates of the answerable questions of ``asked``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rows = [q for q in asked if q.answerable and q.y.any()]
    x = np.concatenate([q.x for q in rows])
    y = np.concatenate([q.y for q in rows])
    scaler = StandardScaler().fit(x)
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x), y)
    return ScoringModel.from_sklearn(scaler, clf, list(EXPLAIN_FEATURES), {"kind": "logistic"})


def hit_at_1(model: ScoringModel | None, asked: list[Asked]) -> dict[str, float]:
    """hit@1 per kind over the answerable questions: the engine's own ranking (``model`` None)
    or the model's choice among the read candidates."""
    out: dict[str, list[bool]] = {}
    for q in asked:
        if not q.answerable:
            continue
        hit = q.engine_hit if model is None else bool(q.y[int(np.argmax(model.predict(q.x)))])
        for key in (q.kind, "all"):
            out.setdefault(key, []).append(hit)
    return {k: round(float(np.mean(v)), 4) for k, v in sorted(out.items())}


def threshold_shift(asked: list[Asked], threshold: float, refuse: float) -> float:
    """The shift of the abstention threshold's logit (<= 0) that refuses at most ``refuse`` of
    the answerable questions of ``asked``."""
    conf = np.sort([q.confidence for q in asked if q.answerable])
    if not len(conf):
        return 0.0
    allowed = int(math.floor(refuse * len(conf)))
    at = min(max(float(conf[allowed]) - 1e-6, 1e-6), 1 - 1e-6)  # refuses the ``allowed`` lowest
    shift = math.log(at / (1 - at)) - math.log(threshold / (1 - threshold))
    return min(0.0, shift)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.train.explain``: fit and write ``qa/models/explain.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=80, help="train articles (of the fixed shuffle)")
    ap.add_argument("--hold-out", type=float, default=0.3, help="share of paragraphs removed")
    ap.add_argument("--refuse", type=float, default=0.10,
                    help="share of answerable why/how questions the shifted threshold may refuse")
    ap.add_argument("--read-k", type=int, default=4, help="candidates read and ranked per question")
    ap.add_argument("--out", type=Path, default=MODEL_DIR)
    args = ap.parse_args(argv)
    asked = ask_all(args.articles, args.hold_out, args.read_k)
    halves = [[q for q in asked if q.article % 2 == h] for h in (0, 1)]
    report = {"engine": hit_at_1(None, asked)}
    crossed = []
    for h in (0, 1):
        model = fit(halves[1 - h])
        crossed.append(hit_at_1(model, halves[h]))
    report["answer among the read (ceiling)"] = _ceiling(asked)
    report["explain (2-fold by article)"] = {
        k: round((crossed[0].get(k, 0) * _n(halves[0], k) + crossed[1].get(k, 0) * _n(halves[1], k))
                 / max(_n(asked, k), 1), 4) for k in report["engine"]}
    svc = QAService()
    shift = threshold_shift(asked, svc.threshold, args.refuse)
    una = [q.confidence for q in asked if not q.answerable]
    ans = [q.confidence for q in asked if q.answerable]
    lg = math.log(svc.threshold / (1 - svc.threshold))
    shifted = 1 / (1 + math.exp(-(lg + shift)))
    def refused(conf: list[float]) -> list[float]:
        return [round(float(np.mean(np.asarray(conf) < t)), 4) for t in (svc.threshold, shifted)]

    refusals = {"answerable refused": refused(ans), "unanswerable refused": refused(una)}
    model = fit(asked)
    model.info.update({
        "name": "explain",
        "fitted_on": f"SQuAD v1.1 train articles 0..{args.articles - 1} of eval.train's shuffle, "
                     f"{args.hold_out:.0%} of paragraphs held out; {sum(q.answerable for q in asked)} "
                     f"answerable and {len(una)} unanswerable why/how questions",
        "read_k": args.read_k,
        "threshold_shift": round(shift, 4),
        "hit_at_1": report,
        "refusals (threshold, shifted)": refusals,
        "command": "python -m eval.train.explain",
    })
    (args.out / "explain.json").write_text(model.to_json(), encoding="utf-8")
    print(json.dumps(model.info, indent=1))
    return 0


def _ceiling(asked: list[Asked]) -> dict[str, float]:
    out: dict[str, list[bool]] = {}
    for q in asked:
        if q.answerable:
            for key in (q.kind, "all"):
                out.setdefault(key, []).append(bool(q.y.any()))
    return {k: round(float(np.mean(v)), 4) for k, v in sorted(out.items())}


def _n(asked: list[Asked], kind: str) -> int:
    return sum(q.answerable and (kind == "all" or q.kind == kind) for q in asked)


if __name__ == "__main__":
    sys.exit(main())
