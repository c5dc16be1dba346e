"""Question-level evidence for calibrated abstention: how well the best sentence answers."""

from __future__ import annotations

import math

import numpy as np

from qa.features import FEATURES, QTYPES
from qa.retrieve import Candidates

ABSTAIN_FEATURES = (
    "p_top",
    "p_gap",
    "p_top3_mean",
    "dense_max",
    "bm25_max_log",
    "overlap_idf_top",
    "overlap_ctx_top",
    "type_match_top",
    "typed_question",
    "passage_dense_top",
    "proximity_top",
    "question_terms_log",
    "missing_name_top",
    "missing_number_top",
    "missing_idf_top",
    "missing_idf_best_passage",
)
_F = {name: i for i, name in enumerate(FEATURES)}


def abstention_features(cands: Candidates, probs: np.ndarray) -> dict[str, float]:
    """The question-level features by name (the keys are :data:`ABSTAIN_FEATURES`); all zeros
    when nothing was found."""
    if len(probs) == 0:
        return dict.fromkeys(ABSTAIN_FEATURES, 0.0)
    order = np.argsort(-probs, kind="stable")
    top = cands.features[order[0]]
    second = float(probs[order[1]]) if len(order) > 1 else 0.0
    type_match = max(top[_F[f"match_{t}"]] for t in QTYPES)
    typed = max(top[_F[f"q_{t}"]] for t in QTYPES)
    values = (
        float(probs[order[0]]),
        float(probs[order[0]]) - second,
        float(np.mean(probs[order[:3]])),
        float(cands.dense.max()),
        math.log1p(float(cands.bm25.max())),
        float(top[_F["overlap_idf"]]),
        float(top[_F["overlap_context"]]),
        float(type_match),
        float(typed),
        float(top[_F["passage_dense"]]),
        float(top[_F["proximity"]]),
        math.log1p(len(cands.question.stems)),
        float(top[_F["missing_name"]]),
        float(top[_F["missing_number"]]),
        float(top[_F["missing_idf"]]),
        float(cands.features[:, _F["missing_idf"]].min()),
    )
    return dict(zip(ABSTAIN_FEATURES, values, strict=True))
