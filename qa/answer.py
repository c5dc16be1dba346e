"""Compose an extractive answer from ranked sentences: every answer sentence is a verbatim quote
with its citation, or an abstention that lists the closest passages only as related."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from index.config import Config
from index.pdf import page_of
from index.split import Sentence
from qa.rerank import ReadCandidates
from qa.types import Citation


class SentenceSource(Protocol):
    """What composing an answer reads of the index (:class:`index.store.ArticleIndex` is one):
    sentence rows with their offsets, a document's text, and whether two rows share a document."""

    @property
    def sentences(self) -> Sequence[Sentence]:
        """Every sentence row, dead rows included (rows are stable)."""

    def document_text(self, doc_id: str) -> str:
        """The whole text of document ``doc_id``, which citations index into."""

    def same_document(self, row_a: int, row_b: int) -> bool:
        """Whether sentence rows ``row_a`` and ``row_b`` belong to one document."""


ABSTAIN_TEXT = "The article does not say. The closest passages are listed as related, not as support."

# A sentence whose subject lives in the sentence before: a quote closed by "he said", or one
# that opens with a pronoun. Its citation then starts at the previous sentence.
_NEEDS_CONTEXT = re.compile(
    r"^\W*(he|she|they|it|this|that|these|those|his|her|their)\b"
    r"|[,.!?][”\"’']?\s+(he|she|they)\s+(said|added|told|says|continued|warned)\b",
    re.IGNORECASE,
)


# Questions whose answer is a whole sentence, not a short span: why/for what reason, and yes/no.
_WHOLE_SENTENCE = re.compile(
    r"^\W*(why|how come|for what reason|what (caused|causes|led to|was the reason|is the reason)"
    r"|(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must)\s)",
    re.IGNORECASE,
)
_EDGE = " \t\n.,;:!?“”\"‘’'()[]—–-"


def wants_short(question: str) -> bool:
    """Whether a short answer (a name, number, date, phrase) fits the question."""
    return not _WHOLE_SENTENCE.search(question)


def short_answer(
    index: SentenceSource,
    rows: np.ndarray,
    probs: np.ndarray,
    read: ReadCandidates,
    question: str,
    config: Config,
    kind: str = "other",
) -> Citation | None:
    """The reader's span in the best candidate, as a citation of its exact characters (trimmed
    of surrounding punctuation and quotation marks); None when the question wants a whole
    sentence, when the best candidate was not read, when the reader's evidence is below
    ``config.short_min_evidence``, or when the span is most of its sentence. A reason question
    (``kind``, :mod:`qa.kinds`) gets the cause phrase when the reader finds one with evidence of
    at least ``config.explain_short_min_evidence``; a yes/no question never a short answer."""
    reason = kind == "reason"
    if not len(probs) or (not wants_short(question) and not reason):
        return None
    top = int(np.argmax(probs))
    where = [j for j, p in enumerate(read.positions) if int(p) == top]
    if not where:
        return None
    reading = read.readings[where[0]]
    if reading.evidence < (config.explain_short_min_evidence if reason else config.short_min_evidence):
        return None
    sent = index.sentences[int(rows[top])]
    lo, hi = reading.start, reading.end
    while lo < hi and sent.text[lo] in _EDGE:
        lo += 1
    while hi > lo and sent.text[hi - 1] in _EDGE:
        hi -= 1
    if hi <= lo or hi - lo > config.short_max_share * len(sent.text):
        return None
    start, end = sent.start + lo, sent.start + hi
    score = 1.0 / (1.0 + math.exp(-max(min(reading.evidence, 30.0), -30.0)))
    return cite(sent.doc_id, index.document_text(sent.doc_id), start, end, score)


def defined_span(index: SentenceSource, rows: np.ndarray, defined: tuple[int, int, int]) -> Citation:
    """The apposition that answers a definition question, as a citation of its characters
    (``defined``: candidate position and offsets inside its sentence, ``qa/define.py``)."""
    position, lo, hi = defined
    sent = index.sentences[int(rows[position])]
    start, end = sent.start + lo, sent.start + hi
    return cite(sent.doc_id, index.document_text(sent.doc_id), start, end, 1.0)


def citation_span(index: SentenceSource, first: int, last: int) -> tuple[int, int]:
    """Characters to cite for sentences ``first..last``: plus the sentence before ``first`` when
    ``first`` needs it to be understood (a quote closed by "he said", a leading pronoun)."""
    sent = index.sentences[first]
    start = sent.start
    if _NEEDS_CONTEXT.search(sent.text) and index.same_document(first, first - 1):
        start = index.sentences[first - 1].start
    return start, index.sentences[last].end


def make_citation(index: SentenceSource, row: int, score: float, last: int | None = None) -> Citation:
    """A citation of sentence ``row`` (through ``last``, when given) with its exact characters:
    its span from :func:`citation_span`, the quote cut from the document text, ``score`` rounded.
    """
    doc_id = index.sentences[row].doc_id
    start, end = citation_span(index, row, row if last is None else last)
    return cite(doc_id, index.document_text(doc_id), start, end, score)


def cite(doc_id: str, text: str, start: int, end: int, score: float) -> Citation:
    """The citation of ``text[start:end]``: the quote cut from the text, ``score`` rounded, and
    the page it starts on when the text has pages (``index.pdf.page_of``)."""
    return Citation(doc_id, start, end, text[start:end], round(float(score), 4), page_of(text, start))


def pick_sentences(
    index: SentenceSource, rows: np.ndarray, probs: np.ndarray, config: Config
) -> list[tuple[int, int, float]]:
    """Answer sentences as ``(first_row, last_row, score)``, best first. The best sentence is
    joined with its neighbour in the same paragraph when the neighbour scores nearly as well
    (the answer spans both);
    up to ``max_answer_sentences - 1`` more sentences follow when they score nearly as well."""
    order = np.argsort(-probs, kind="stable")
    if not len(order):
        return []
    best = float(probs[order[0]])
    top = int(rows[order[0]])
    first = last = top
    rest = [int(i) for i in order[1:]]
    if rest:
        r2 = int(rows[rest[0]])
        a, b = index.sentences[r2], index.sentences[top]
        same_paragraph = a.doc_id == b.doc_id and a.paragraph == b.paragraph
        if same_paragraph and abs(r2 - top) == 1 and probs[rest[0]] >= config.second_sentence_ratio * best:
            first, last = min(top, r2), max(top, r2)
            rest = rest[1:]
    chosen = [(first, last, best)]
    for i in rest[: config.max_answer_sentences - 1]:
        if probs[i] >= config.second_sentence_ratio * best and probs[i] >= 0.5:
            chosen.append((int(rows[i]), int(rows[i]), float(probs[i])))
    return chosen


def _without_overlaps(cites: list[Citation]) -> list[Citation]:
    kept: list[Citation] = []
    for c in cites:
        if not any(c.doc_id == o.doc_id and c.start < o.end and o.start < c.end for o in kept):
            kept.append(c)
    return kept


def compose(
    index: SentenceSource,
    rows: np.ndarray,
    probs: np.ndarray,
    abstained: bool,
    config: Config,
    short: Citation | None = None,
) -> tuple[str, list[Citation], list[Citation]]:
    """Answer text, its citations (best first) and related passages: the next best sentences,
    or, when abstaining, the passages the answer would have cited. The text leads with the
    short answer when there is one (cited [1]: it lies inside the first citation)."""
    picked = _without_overlaps(
        [
            make_citation(index, first, score, last)
            for first, last, score in pick_sentences(index, rows, probs, config)
        ]
    )
    order = np.argsort(-probs, kind="stable")[: config.related_count + len(picked)]
    pool = _without_overlaps(picked + [make_citation(index, int(rows[i]), probs[i]) for i in order])
    if abstained:
        return ABSTAIN_TEXT, [], pool[: config.related_count]
    parts = [f"{' '.join(c.quote.split())} [{n}]" for n, c in enumerate(picked, 1)]
    lead = f"{' '.join(short.quote.split())} [1]\n\n" if short is not None else ""
    return lead + " ".join(parts), picked, pool[len(picked) :][: config.related_count]
