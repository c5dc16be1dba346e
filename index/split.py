"""Split an article into sentences and overlapping retrieval passages, keeping offsets.

pysbd finds the sentence boundaries (it keeps "U.S." and quotations whole); this module only maps
them back to exact offsets in the original text, one paragraph at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd

from index.clean import content_spans

_PARAGRAPH = re.compile(r"[^\r\n]+")
_LEADING_MARKUP = re.compile(r"^(?:[#>*+\-]+\s+|\d+[.)]\s+)+")
_HAS_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document: ``text == document_text[start:end]``."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    paragraph: int


@dataclass(frozen=True)
class Passage:
    """A window of consecutive sentences, the unit of first-stage retrieval."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    first_sentence: int
    last_sentence: int  # inclusive


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def _paragraph_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside one paragraph ``text[start:end]``, trimmed of space and markup."""
    para = text[start:end]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in _segmenter().segment(para):
        stripped = piece.strip()
        if not stripped:
            continue
        found = para.find(stripped, cursor)
        if found < 0:  # pysbd altered the text; fall back to the rest of the paragraph
            found, stripped = cursor, para[cursor:].strip()
        s, e = found, found + len(stripped)
        cursor = e
        markup = _LEADING_MARKUP.match(para, s, e)
        if markup:
            s = markup.end()
        if not _HAS_WORD.search(para, s, e):
            continue
        # A "sentence" that starts in lower case continues the previous one ("won. do not").
        if spans and para[s].islower():
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return [(start + s, start + e) for s, e in spans]


def split_sentences(doc_id: str, text: str) -> list[Sentence]:
    """Sentences of ``text`` outside its boilerplate, paragraph by paragraph."""
    sentences: list[Sentence] = []
    paragraph = 0
    for lo, hi in content_spans(text):
        for m in _PARAGRAPH.finditer(text, lo, hi):
            spans = _paragraph_sentences(text, m.start(), m.end())
            for s, e in spans:
                sentences.append(Sentence(doc_id, len(sentences), s, e, text[s:e], paragraph))
            if spans:
                paragraph += 1
    return sentences


def make_passages(sentences: list[Sentence], text: str, size: int = 3, overlap: int = 1) -> list[Passage]:
    """Windows of ``size`` sentences, each sharing ``overlap`` sentences with the next."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"bad passage settings: size={size}, overlap={overlap}")
    passages: list[Passage] = []
    stride = size - overlap
    for first in range(0, max(len(sentences) - overlap, 1), stride):
        window = sentences[first : first + size]
        if not window:
            break
        s, e = window[0].start, window[-1].end
        passages.append(Passage(window[0].doc_id, len(passages), s, e, text[s:e], first, window[-1].index))
    return passages
