"""Resolve a follow-up question against the conversation so far.

Rule-based and cheap (no generator is available offline): a question that leans on the
conversation (a pronoun such as "he" or "it", or too few words of its own) is searched together
with the names from the previous question, or failing that the previous answer. A why or how
follow-up ("Why?", "Why did they do that?") asks about the previous answer's event, so it is
searched together with the sentence that answer cited first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.text import STOPWORDS, content_stems
from qa.answer import ABSTAIN_TEXT
from qa.kinds import is_explanation

_ANAPHORA = {
    "he",
    "she",
    "him",
    "his",
    "her",
    "hers",
    "they",
    "them",
    "their",
    "theirs",
    "it",
    "its",
    "these",
    "those",
    "there",
    "such",
    "the group",
    "the official",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z’'-]*")
_NAME_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:of\s+|al-\s*|bin\s+)?[A-Z][\w’'.-]*)*")
_QUESTION_WORDS = {
    "who",
    "what",
    "when",
    "where",
    "why",
    "how",
    "which",
    "whom",
    "whose",
    "is",
    "are",
    "was",
    "did",
    "does",
    "do",
    "can",
    "mr",
    "mrs",
    "ms",
}


def names(text: str) -> list[str]:
    """Capitalised runs of words that are not question words or stopwords, in order, unique."""
    found: dict[str, None] = {}
    for m in _NAME_RUN.finditer(text):
        words = m.group().rstrip(".").split()
        while words and words[0].lower().strip("’'") in _QUESTION_WORDS | STOPWORDS:
            words = words[1:]
        if words:
            found[" ".join(words)] = None
    return list(found)


def needs_context(question: str) -> bool:
    """Whether ``question`` leans on the conversation: a pronoun ("he", "it", "the group"),
    or fewer than two content words of its own.
    """
    lowered = question.lower()
    words = set(_WORD.findall(lowered))
    if words & _ANAPHORA or any(" " in a and a in lowered for a in _ANAPHORA):
        return True
    return len(content_stems(question)) < 2


def answered_event(answer: str) -> str | None:
    """The sentence an answer cited first, without its citation marker (after the short
    answer's line, when there is one); None for an abstention."""
    if not answer or answer.startswith(ABSTAIN_TEXT.split(".")[0]):
        return None
    body = answer.split("\n\n", 1)[-1]
    first = re.split(r"\s*\[\d+\]", body, maxsplit=1)[0].strip()
    return first[:300] or None


def resolve(question: str, history: Sequence[tuple[str, str]] | None) -> str:
    """The text to search for ``question`` given earlier ``(question, answer)`` turns."""
    if not history or not needs_context(question):
        return question
    if is_explanation(question):
        event = answered_event(history[-1][1])
        if event:
            return f"{question} ({event})"
    for prev_q, prev_a in reversed(history):
        context = names(prev_q)
        if not context and not prev_a.startswith(ABSTAIN_TEXT.split(".")[0]):
            context = names(re.sub(r"\[\d+\]", "", prev_a))[:3]
        if not context:
            context = [w for w in _WORD.findall(prev_q) if w.lower() not in STOPWORDS][:4]
        if context:
            return f"{question} ({', '.join(context)})"
    return question
