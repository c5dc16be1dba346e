"""Features of a (question, candidate sentence) pair for the learned re-ranker.

Hand-written because no library scores "does this sentence answer this question" from these
signals: dense and BM25 scores of the sentence and its passage, term overlap and proximity, and
whether the sentence holds the kind of thing asked for (a number for "how many", a date for
"when", a name for "who"/"where").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.text import Token, tokenize

QTYPES = ("number", "date", "person", "place", "reason")
_QTYPE_PATTERNS = [
    (
        "number",
        r"\bhow (many|much|long|far|old|large|big|tall|high|fast|often|wide|deep)\b|"
        r"\bwhat (percentage|percent|proportion|number|amount|fraction|size)\b",
    ),
    (
        "date",
        r"\bwhen\b|\b(what|which|in what) (year|years|date|time|century|decade|month|day|"
        r"period|era|season)\b",
    ),
    (
        "person",
        r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which) (person|man|woman|group|organi[sz]ation|"
        r"company|official|leader|team|party|king|president)\b",
    ),
    (
        "place",
        r"\bwhere\b|\b(what|which) (country|city|place|region|area|state|town|continent|"
        r"river|location|nation|capital)\b",
    ),
    (
        "reason",
        r"\bwhy\b|\bhow come\b|\bfor what reason\b|"
        r"\bwhat (caused|causes|led to|leads to|prompted|was the reason|is the reason|were the reasons)\b",
    ),
]
# Words that state a cause or an obstacle: the kind of thing a "why" question asks for.
_REASON_WORDS = {
    "because",
    "since",
    "due",
    "owing",
    "reason",
    "reasons",
    "cause",
    "caused",
    "causes",
    "obstacle",
    "obstacles",
    "blamed",
    "blame",
    "led",
    "result",
    "resulted",
    "therefore",
    "amid",
    "so",
    "after",
    "over",
    "forced",
    "order",
    "aimed",
    "thanks",
}
_NUMBER_WORDS = {
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "dozen",
    "dozens",
    "half",
    "percent",
}
_DATE_WORDS = {
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "century",
    "centuries",
    "decade",
    "decades",
    "today",
    "yesterday",
    "tomorrow",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "ago",
    "since",
    "during",
    "until",
    "bc",
    "ad",
    "spring",
    "summer",
    "autumn",
    "winter",
}
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})s?$|^\d{1,2}(st|nd|rd|th)$")

FEATURES = (
    "dense",
    "dense_gap",
    "dense_rank",
    "bm25",
    "bm25_rank",
    "passage_dense",
    "passage_bm25",
    "context_dense",
    "overlap",
    "overlap_idf",
    "overlap_context",
    "proximity",
    "log_length",
    "novelty",
    "match_number",
    "match_date",
    "match_person",
    "match_place",
    "q_number",
    "q_date",
    "q_person",
    "q_place",
    "rrf",
    "missing_name",
    "missing_number",
    "missing_idf",
    "match_reason",
    "q_reason",
)


class IdfLookup(Protocol):
    """Anything that gives a stem's idf weight: a dict, or the index's live-sentence idf."""

    def get(self, term: str, default: float, /) -> float:
        """The idf of ``term``, or ``default`` for a term never seen."""


@dataclass(frozen=True)
class QuestionInfo:
    """What the features need of a question: its stems with their idf weights, the kind of
    answer it asks for (:data:`QTYPES` or ``"other"``), and the names and numbers it mentions.
    """
    text: str
    stems: frozenset[str]
    weights: dict[str, float]  # idf weight of each question stem
    qtype: str  # one of QTYPES or "other"
    names: frozenset[str] = frozenset()  # stems of capitalised words after the first
    numbers: frozenset[str] = frozenset()


def question_type(question: str) -> str:
    """The kind of answer ``question`` asks for: one of :data:`QTYPES`, or ``"other"``."""
    q = question.lower()
    for name, pattern in _QTYPE_PATTERNS:
        if re.search(pattern, q):
            return name
    return "other"


def analyse_question(question: str, idf: IdfLookup, default_idf: float) -> QuestionInfo:
    """Analyse ``question`` once for all its candidates.

    :param idf: anything with ``get(stem, default)`` giving a stem's idf (a dict, or the index's).
    :param default_idf: the weight of a stem the index has never seen.
    """
    tokens = tokenize(question)
    stems = frozenset(t.stem for t in tokens if t.stem)
    weights = {s: idf.get(s, default_idf) for s in stems}
    names = frozenset(t.stem for t in tokens[1:] if t.stem and t.is_capitalized)
    numbers = frozenset(t.stem for t in tokens if t.stem and t.is_number)
    return QuestionInfo(question, stems, weights, question_type(question), names, numbers)


def _type_matches(tokens: list[Token], q: QuestionInfo) -> tuple[float, ...]:
    """Whether the sentence holds, outside the question's own words, each kind of answer."""
    number = date = name = reason = 0.0
    for i, t in enumerate(tokens):
        if t.stem and t.stem in q.stems:
            continue
        low = t.surface.lower()
        if t.is_number or low in _NUMBER_WORDS:
            number = 1.0
        if _YEAR.match(low) or low in _DATE_WORDS:
            date = 1.0
        if t.is_capitalized and i > 0 and t.stem:
            name = 1.0
        if low in _REASON_WORDS:
            reason = 1.0
    return number, date, name, name, reason


def _proximity(tokens: list[Token], q: QuestionInfo) -> float:
    """Matched question terms per token of the shortest window that holds all of them."""
    positions = [i for i, t in enumerate(tokens) if t.stem in q.stems]
    distinct = {tokens[i].stem for i in positions}
    if len(distinct) < 2:
        return float(len(distinct) > 0) * 0.5
    best = len(tokens)
    need = len(distinct)
    counts: dict[str, int] = {}
    lo = 0
    for pos in positions:
        counts[tokens[pos].stem] = counts.get(tokens[pos].stem, 0) + 1
        while len(counts) == need:
            best = min(best, pos - positions[lo] + 1)
            s = tokens[positions[lo]].stem
            counts[s] -= 1
            if not counts[s]:
                del counts[s]
            lo += 1
    return need / best


def sentence_features(
    q: QuestionInfo,
    tokens: list[Token],
    context_stems: set[str],
    dense: float,
    best_dense: float,
    dense_rank: int,
    bm25: float,
    best_bm25: float,
    bm25_rank: int,
    passage_dense: float,
    passage_bm25: float,
    context_dense: float,
    rrf: float,
) -> dict[str, float]:
    """The features of one candidate by name (the keys are :data:`FEATURES`)."""
    stems = {t.stem for t in tokens if t.stem}
    total_w = sum(q.weights.values()) or 1.0
    matched = stems & q.stems
    overlap = len(matched) / max(len(q.stems), 1)
    overlap_idf = sum(q.weights[s] for s in matched) / total_w
    overlap_ctx = sum(q.weights[s] for s in (stems | context_stems) & q.stems) / total_w
    novelty = len(stems - q.stems) / max(len(stems), 1)
    number, date, person, place, reason = _type_matches(tokens, q)
    qt = q.qtype
    around = stems | context_stems
    missing = q.stems - around
    top_idf = max(q.weights.values(), default=1.0) or 1.0
    values = (
        dense,
        dense - best_dense,
        1.0 / (1 + dense_rank),
        bm25 / best_bm25 if best_bm25 > 0 else 0.0,
        1.0 / (1 + bm25_rank),
        passage_dense,
        passage_bm25,
        context_dense,
        overlap,
        overlap_idf,
        overlap_ctx,
        _proximity(tokens, q),
        math.log1p(len(tokens)),
        novelty,
        number * (qt == "number"),
        date * (qt == "date"),
        person * (qt == "person"),
        place * (qt == "place"),
        float(qt == "number"),
        float(qt == "date"),
        float(qt == "person"),
        float(qt == "place"),
        rrf,
        len(q.names - around) / len(q.names) if q.names else 0.0,
        float(bool(q.numbers - around)),
        max((q.weights[s] for s in missing), default=0.0) / top_idf,
        reason * (qt == "reason"),
        float(qt == "reason"),
    )
    return dict(zip(FEATURES, values, strict=True))


def ranks(values: np.ndarray) -> np.ndarray:
    """0-based rank of each value, highest first."""
    order = np.argsort(-values, kind="stable")
    out = np.empty(len(values), dtype=np.int64)
    out[order] = np.arange(len(values))
    return out
