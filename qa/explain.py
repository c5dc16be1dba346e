"""Ranking for explanation questions (why, how): the sentence that states the cause or the manner
first, not the one that repeats the question's event.

For a reason or manner question the reader reads a few more candidates (``Config.explain_read_k``)
and a small learned model (``qa/models/explain.json``, fitted by ``python -m eval.train.explain``
on SQuAD v1.1 train articles) scores each of them from the final ranker's score, the reader's
evidence, whether the sentence or the reader's span holds a cue of a cause or a manner
("because", "in order to", "the main obstacle", "by", "through") outside the question's own
words, and how much of the sentence only repeats the question (its share of stems the question
has). The model also carries a shift of the abstention threshold for these questions, fitted so
that they are refused as often as the rest on the data it was fitted on.

Hand-written features because no library scores "does this sentence explain rather than
restate"; the weights are learned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from index.text import tokenize
from qa.reader import Reading
from qa.rerank import ReadCandidates, final_probs

if TYPE_CHECKING:
    from qa.models import ScoringModel

EXPLAIN_FEATURES = (
    "final_logit",
    "final_gap",
    "reader_evidence",
    "cue",
    "span_cue",
    "restate",
    "new_stems",
    "question_cover",
    "reason",
    "cue_reason",
)

# Words that mark a cause or a purpose ("why"), and a manner or means ("how"), in a sentence.
REASON_CUES = frozenset({
    "because", "since", "due", "owing", "thanks", "reason", "reasons", "cause", "caused", "causes",
    "causing", "obstacle", "obstacles", "blamed", "blame", "blames", "led", "lead", "leads",
    "result", "resulted", "resulting", "therefore", "thus", "hence", "so", "forced", "forcing",
    "order", "aimed", "aim", "aiming", "purpose", "sought", "seeking", "fear", "fears", "feared",
    "concern", "concerns", "prevent", "ensure", "avoid", "allow", "allowing", "after", "amid",
    "as", "motivated", "driven", "response", "protest", "intended", "intent", "goal", "wanted",
})
MANNER_CUES = frozenset({
    "by", "through", "via", "using", "use", "used", "with", "responded", "response", "method",
    "methods", "means", "way", "ways", "manner", "process", "technique", "techniques", "describing",
    "described", "called", "as", "in", "procedure", "steps", "step",
})


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def explanation_features(kind: str, question_stems: frozenset[str], sentence: str,
                         reading: Reading, final_p: float, best_final_p: float) -> list[float]:
    """The named features (:data:`EXPLAIN_FEATURES`) of one read candidate of a reason or
    manner question."""
    cues = REASON_CUES if kind == "reason" else MANNER_CUES
    tokens = tokenize(sentence)
    stems = [t.stem for t in tokens if t.stem]
    cue = any(t.surface.lower() in cues and (not t.stem or t.stem not in question_stems) for t in tokens)
    before = sentence[max(0, reading.start - 25) : reading.end].lower()
    span_cue = any(t.surface.lower() in cues for t in tokenize(before))
    distinct = set(stems)
    restate = len(distinct & question_stems) / len(distinct) if distinct else 1.0
    cover = len(distinct & question_stems) / len(question_stems) if question_stems else 0.0
    reason = float(kind == "reason")
    lg = _logit(final_p)
    return [lg, lg - _logit(best_final_p), reading.evidence, float(cue), float(span_cue), restate,
            math.log1p(len(distinct - question_stems)), cover, reason, float(cue) * reason]


def feature_matrix(kind: str, question_stems: frozenset[str], sentences: list[str],
                   readings: list[Reading], final_ps: np.ndarray) -> np.ndarray:
    """:func:`explanation_features` of every read candidate, as rows."""
    best = float(np.max(final_ps)) if len(final_ps) else 0.5
    rows = [explanation_features(kind, question_stems, s, r, float(p), best)
            for s, r, p in zip(sentences, readings, final_ps, strict=True)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(EXPLAIN_FEATURES))


def explained_probs(explainer: ScoringModel, final_model: ScoringModel, kind: str,
                    question_stems: frozenset[str], texts: Sequence[str], probs: np.ndarray,
                    read: ReadCandidates) -> np.ndarray:
    """Final scores of a why/how question's candidates: the explanation model's for those read,
    the rest below them in the re-ranker's order."""
    x = feature_matrix(kind, question_stems, [texts[int(i)] for i in read.positions], read.readings,
                       final_model.predict(read.features))
    return final_probs(probs, read, explainer.predict(x))


def shifted_threshold(threshold: float, explainer: ScoringModel | None) -> float:
    """The abstention threshold for why/how questions: ``threshold`` shifted in logit by the
    explanation model's ``threshold_shift``, fitted so that they are refused no more often than
    the global threshold's rule allows (at most 10 % of the answerable ones it was fitted on)."""
    shift = float(explainer.info.get("threshold_shift", 0.0)) if explainer is not None else 0.0
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(math.log(t / (1 - t)) + shift)))
