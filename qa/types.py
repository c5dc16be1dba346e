"""What crosses the API boundary: citations and answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """Exact support for an answer sentence: ``quote == document_text(doc_id)[start:end]``;
    ``page`` (from 1) for an article with pages (a PDF), else None."""

    doc_id: str
    start: int
    end: int
    quote: str
    score: float
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The citation as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """An extractive answer. When ``abstained`` is true, ``citations`` is empty and ``related``
    lists the closest passages, which are shown as related reading, not as support.

    ``short`` is the shortest span of the article that answers (a name, a number, a date, a
    phrase, a reason question's cause), inside citation [1]; ``None`` when abstaining, for
    yes/no questions, and when the reader finds no phrase inside the sentence. ``kind`` is the
    question's kind (``qa.kinds.KINDS``: reason, manner, definition, person, ...)."""

    question: str
    text: str
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    resolved_question: str = ""
    short: Citation | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    kind: str = "other"

    def to_dict(self) -> dict[str, Any]:
        """The answer as a JSON-ready dict (citations and timings included)."""
        return asdict(self)
