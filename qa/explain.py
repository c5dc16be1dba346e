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

A why/how answer whose runner-up is the sentence right after its first pick, read about as
strongly, leads with that sentence (:func:`next_sentence_leads`): the first states the event, the
next its cause or manner ("X happened. This was because ..."), and the event follows as context.

Hand-written features because no library scores "does this sentence explain rather than
restate"; the weights are learned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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


def next_sentence_leads(final: np.ndarray, read: ReadCandidates, rows: Sequence[int],
                        follows: Callable[[int, int], bool], margin: float) -> np.ndarray:
    """Final scores with the sentence right after the first pick leading, when the reader read it
    among the re-ranker's best 2 and its evidence is at most ``margin`` below the first pick's.

    ``rows[i]``: candidate ``i``'s sentence row; ``follows(a, b)``: row ``b`` is the sentence after
    row ``a`` in the same document. The two swap scores; every other candidate keeps its own.
    A rule, not a model (one setting, too few cases to fit one): hit@1 of the why/how questions
    of SQuAD v1.1 train articles 0..79 0.694 -> 0.714 at margin 1 (docs/models.md)."""
    if len(read.positions) < 2 or not len(final):
        return final
    top = int(np.argmax(final))
    head = [int(p) for p in read.positions[:2]]
    if top not in head:
        return final
    evidence = {int(p): r.evidence for p, r in zip(read.positions, read.readings, strict=True)}
    (other,) = [p for p in head if p != top]
    if not follows(int(rows[top]), int(rows[other])) or evidence[other] < evidence[top] - margin:
        return final
    out = np.asarray(final, dtype=np.float64).copy()
    out[top], out[other] = out[other], out[top]
    return out
