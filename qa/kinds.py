"""What kind of question a question is: a reason ("why"), a manner or process ("how did"), a
definition ("what is X?", "who is X?"), a person, a number, a date, a place, yes or no, or other.

Hand-written rules on the question's first words, because the kind is what its wh-word and the
words after it say; no library on this machine classifies questions. The engine uses the kind to
compose an answer (a reason question leads with the sentence that states the cause) and
``qa eval`` reports every figure per kind. ``qa.features.question_type`` is the re-ranker's own,
older split (its models were fitted on it) and stays as it is.
"""

from __future__ import annotations

import re

KINDS = ("reason", "manner", "definition", "person", "number", "date", "place", "yesno", "other")
EXPLANATION_KINDS = frozenset({"reason", "manner"})

_AUX = (r"(is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|may|might|"
        r"must)")
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("reason", re.compile(
        r"\bwhy\b|\bhow come\b|\bfor what (reason|purpose)\b|\bwhat for\b|"
        r"\bwhat (caused|causes|led to|leads to|prompted|motivated|drove|forced|made)\b|"
        r"\bwhat (was|is|were|are) the (main |chief |primary )?(reason|reasons|cause|causes|motive|"
        r"purpose|obstacle)\b")),
    ("number", re.compile(
        r"\bhow (many|much|long|far|old|large|big|tall|high|fast|often|wide|deep|heavy|"
        r"frequently|early|late|soon)\b|"
        r"\bwhat (percentage|percent|proportion|number|amount|fraction|size|share|rate)\b")),
    ("manner", re.compile(
        r"\bhow\b(?! (many|much|long|far|old|large|big|tall|high|fast|often|wide|deep|heavy))|"
        r"\bin what (way|manner)\b|\bby what (means|method)\b|\bwhat (method|means|way)\b")),
    ("date", re.compile(
        r"\bwhen\b|\b(what|which|in what) (year|years|date|time|century|decade|month|day|"
        r"period|era|season)\b")),
    ("place", re.compile(
        r"\bwhere\b|\b(what|which|in what) (country|city|place|region|area|state|town|continent|"
        r"river|location|nation|capital|province|county)\b")),
    ("definition", re.compile(
        r"^(what|who)(\s+(is|are|was|were)|'s|’s)\s+(a\s+|an\s+|the\s+)?"
        r"[\w'’.,-]+(\s+[\w'’.,-]+){0,4}\s*\??$")),
    ("person", re.compile(
        r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which) (person|man|woman|people|group|"
        r"organi[sz]ation|company|official|officials|leader|team|party|king|president|minister)\b")),
    ("yesno", re.compile(rf"^{_AUX}\b")),
]
# A definition question asks about the thing itself, not one of its attributes.
_NOT_DEFINITION = re.compile(r"^(what|who)\W+\w+\s+(the\s+)?(name|number|title|role|job|date|"
                             r"year|price|cost|size|capital|population)\b")


def question_kind(question: str) -> str:
    """The kind of ``question``: one of :data:`KINDS`."""
    q = " ".join(question.lower().split())
    for kind, pattern in _PATTERNS:
        if kind == "definition" and _NOT_DEFINITION.search(q):
            continue
        if pattern.search(q):
            return kind
    return "other"


def is_explanation(question: str) -> bool:
    """Whether ``question`` asks why or how something happened (a reason or a manner)."""
    return question_kind(question) in EXPLANATION_KINDS
