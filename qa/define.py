"""Definitions: "What is X?" and "Who is X?" answered by the apposition that defines X where the
article names it ("Bill Burns, director of the Central Intelligence Agency, met ...").

A rule, because an apposition is a matter of punctuation and word order that the one-sentence
reader scores unevenly (it answered "Who is Bill Burns?" and refused "What is Rafah?" though the
article says "Rafah, the southernmost city of the Gaza Strip"). Its precision on the public
SQuAD 2.0 split and SQuAD v1.1 train articles is in ``docs/models.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_QUESTION = re.compile(
    r"^\s*(?:what|who)(?:\s+(?:is|are|was|were)|['’]s)\s+(?:(?:a|an|the)\s+)?(?P<x>[^?]+?)\s*\??\s*$",
    re.IGNORECASE,
)
# What an apposition never starts with: a relative or a conjunction ("Rafah, where ...",
# "Netanyahu, who ..."), a verb of saying, a number or a list going on.
_NOT_START = frozenset({
    "who", "whom", "whose", "which", "that", "where", "when", "while", "and", "or", "but", "said",
    "says", "told", "as", "if", "because", "so", "then", "however", "also", "not", "he", "she", "it",
    "they", "we", "i", "you", "his", "her", "its", "their", "is", "was", "are", "were", "has", "had",
    "have", "will", "would", "could", "can", "including", "such", "with", "in", "on", "at", "for",
    "usually", "often", "consists", "contains", "includes", "covers", "became", "remains",
})
_SAYING = re.compile(r"\b(said|says|told|added|according)\b", re.IGNORECASE)


def definition_subject(question: str) -> str | None:
    """X of "What is X?" / "Who is X?" (without a leading article) when X is a name (holds a
    capitalised word), else None."""
    m = _QUESTION.match(question)
    if not m:
        return None
    x = m.group("x").strip(" .,;:!“”\"'")
    named = any(w[:1].isupper() for w in x.split())  # a name the article may define, not "the winner"
    return x if named and 0 < len(x.split()) <= 6 else None


def apposition(sentence: str, subject: str) -> tuple[int, int] | None:
    """Offsets in ``sentence`` of the phrase that defines ``subject`` right after it
    ("<subject>, <phrase>," or "<subject>, <phrase>." at the end), else None."""
    for m in re.finditer(rf"(?<!\w){re.escape(subject)}(?!\w)", sentence, re.IGNORECASE):
        rest = sentence[m.end():]
        a = re.match(r",\s+", rest)
        if not a:
            continue
        start = m.end() + a.end()
        stop = re.search(r"[,.;:!?”\")]|\s[-–—]\s", sentence[start:])
        end = start + (stop.start() if stop else len(sentence) - start)
        phrase = sentence[start:end].strip()
        words = phrase.split()
        if not 1 <= len(words) <= 12 or words[0].lower().strip("“\"'") in _NOT_START:
            continue
        if not (words[0][:1].islower() or words[0].lower() in {"the", "a", "an"}):
            continue
        first = words[0].lower()
        if _SAYING.search(phrase) or re.search(r"\d", first) or first.endswith(("ed", "ing")):
            continue  # "<X>, opened in 1916", "<X>, beating ...": a clause, not what X is
        closed = end < len(sentence) and sentence[end] in ",.;:"
        if closed:
            return start, start + len(phrase)
    return None


def defined_candidate(question: str, texts: Sequence[str], final: np.ndarray
                      ) -> tuple[np.ndarray, int, int, int] | None:
    """For a definition question, the best-ranked candidate (``texts``, scored ``final``) that
    defines its subject by an apposition: the scores with it first, its position and the
    apposition's offsets in its sentence; None when no candidate does. (The rule held the gold
    answer 11 of the 12 times it fired on SQuAD v1.1 train articles 0..79.)"""
    subject = definition_subject(question)
    if subject is None:
        return None
    for j in np.argsort(-final, kind="stable"):
        span = apposition(texts[int(j)], subject)
        if span is not None:
            scores = final.copy()
            scores[j] = min(1.0, float(final.max()) + 1e-3)
            return scores, int(j), *span
    return None
