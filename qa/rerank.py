"""The second stage: the reader reads the re-ranker's best few candidates, and a small learned
model (``qa/models/final.json``) turns both scores into the final ranking; the reader's
evidence also joins the abstention model's features.

Features are produced as named columns and every model states the names it was fitted on
(checked when it loads, see :meth:`qa.models.ScoringModel.columns`), so a reordering here can
never silently mis-score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.reader import Reader, Reading

FINAL_FEATURES = (
    "rerank_logit",
    "rerank_gap",
    "rerank_position",
    "reader_evidence",
    "reader_span",
    "reader_null",
)
# Abstention features the reader adds to qa.abstain.ABSTAIN_FEATURES.
READER_ABSTAIN_FEATURES = (
    "final_p_top",
    "final_gap",
    "reader_evidence_top",
    "reader_evidence_max",
    "reader_null_top",
    "reader_span_top",
)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class ReadCandidates:
    """The candidates the reader read: positions into the candidate arrays, in stage-1 order,
    with one :class:`Reading` each and the named feature matrix of the final model."""

    positions: np.ndarray
    readings: list[Reading]
    features: np.ndarray  # columns: FINAL_FEATURES


def read_top(
    reader: Reader,
    question: str,
    text_of: Callable[[int], str],
    probs: np.ndarray,
    k: int,
    first_k: int | None = None,
    more_below: float = 0.0,
) -> ReadCandidates:
    """Read the best candidates by re-ranker probability (``text_of(i)`` is the text of
    candidate ``i``): the best ``first_k`` (default ``k``), then, only when none of them holds
    an answer with evidence of at least ``more_below``, the rest of the best ``k``. Easy
    questions pay for ``first_k`` readings; the ones whose answer the re-ranker ranked lower
    get the reader's look further down."""
    order = np.argsort(-probs, kind="stable")[:k]
    first = min(first_k or k, len(order))
    readings = reader.read(question, [text_of(int(i)) for i in order[:first]])
    if first < len(order) and max((r.evidence for r in readings), default=-np.inf) < more_below:
        readings += reader.read(question, [text_of(int(i)) for i in order[first:]])
    else:
        order = order[:first]
    best = _logit(float(probs[order[0]])) if len(order) else 0.0
    rows = []
    for pos, (i, r) in enumerate(zip(order, readings)):
        lg = _logit(float(probs[i]))
        rows.append([lg, lg - best, 1.0 / (1 + pos), r.evidence, r.span_score, r.null_score])
    feats = np.asarray(rows, dtype=np.float64).reshape(len(order), len(FINAL_FEATURES))
    return ReadCandidates(order, readings, feats)


def as_if_read(
    read: ReadCandidates, k: int, first_k: int | None = None, more_below: float = 0.0
) -> ReadCandidates:
    """What :func:`read_top` with these settings would have read, from a reading of at least
    ``k`` candidates (in fitting and evaluation, every question is read once to the largest k;
    the features of a candidate do not depend on how many others were read)."""
    first = min(first_k or k, k)
    head = read.readings[:first]
    if max((r.evidence for r in head), default=-np.inf) >= more_below:
        k = first
    return ReadCandidates(read.positions[:k], read.readings[:k], read.features[:k])


def final_probs(probs: np.ndarray, read: ReadCandidates, read_probs: np.ndarray) -> np.ndarray:
    """Final score of every candidate: the final model's probability for those read; the ones
    not read keep their re-ranker probability and order, scaled down only as far as needed to
    stay below every candidate that was read (never up: an unread sentence scored 0.1 by the
    re-ranker must not look as likely as the one read, or every answer would cite it too)."""
    out = np.asarray(probs, dtype=np.float64).copy()
    if not len(read.positions):
        return out
    out[read.positions] = read_probs
    rest = np.ones(len(out), dtype=bool)
    rest[read.positions] = False
    if rest.any():
        floor = float(read_probs.min()) * 0.999
        top_rest = float(out[rest].max())
        if top_rest > floor:  # same order, below
            out[rest] *= floor / top_rest
    return out


def reader_abstain_features(final: np.ndarray, read: ReadCandidates) -> dict[str, float]:
    """The reader's abstention features by name (the keys are :data:`READER_ABSTAIN_FEATURES`)."""
    if not len(read.positions):
        return dict(zip(READER_ABSTAIN_FEATURES, (0.0, 0.0, -10.0, -10.0, 10.0, -10.0), strict=True))
    order = np.argsort(-final, kind="stable")
    top = int(order[0])
    second = float(final[order[1]]) if len(order) > 1 else 0.0
    where = {int(p): j for j, p in enumerate(read.positions)}
    r = read.readings[where.get(top, 0)]
    values = (
        float(final[top]),
        float(final[top]) - second,
        r.evidence,
        max(x.evidence for x in read.readings),
        r.null_score,
        r.span_score,
    )
    return dict(zip(READER_ABSTAIN_FEATURES, values, strict=True))
