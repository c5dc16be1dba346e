"""What a question and its conversation must be before the engine sees them: checked and
cleaned here, with one clear ``InvalidQuestionError`` for anything else."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from index.errors import InvalidQuestionError


def clean_question(question: object, max_chars: int) -> str:
    """The question with control characters turned into spaces, or an InvalidQuestionError."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"question must be text, got {type(question).__name__}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidQuestionError("question contains invalid characters") from None
    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidQuestionError("question is empty")
    if len(cleaned) > max_chars:
        raise InvalidQuestionError(f"question has {len(cleaned)} characters; the limit is {max_chars}")
    return cleaned


def clean_history(history: object, max_chars: int) -> list[tuple[str, str]]:
    """The conversation so far as (question, answer) pairs of text, each cut to a sane length,
    or an InvalidQuestionError naming what is wrong."""
    if history is None:
        return []
    if isinstance(history, str | bytes) or not isinstance(history, Iterable):
        raise InvalidQuestionError("history must be a list of (question, answer) pairs")
    turns: list[tuple[str, str]] = []
    for turn in history:
        if not isinstance(turn, Sequence) or isinstance(turn, str) or len(turn) != 2:
            raise InvalidQuestionError("history must be a list of (question, answer) pairs")
        q, a = turn
        if not isinstance(q, str) or not isinstance(a, str):
            raise InvalidQuestionError("history questions and answers must be text")
        turns.append((q[: max_chars * 4], a[:5000]))
    return turns
