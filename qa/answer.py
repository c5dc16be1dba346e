"""Compose an extractive answer from ranked sentences: every answer sentence is a verbatim quote
with its citation, or an abstention that lists the closest passages only as related."""

from __future__ import annotations

import re

import numpy as np

from index.config import Config
from index.store import ArticleIndex
from qa.types import Citation

ABSTAIN_TEXT = (
    "The article does not say. The closest passages are listed as related, not as support."
)

# A sentence whose subject lives in the sentence before: a quote closed by "he said", or one
# that opens with a pronoun. Its citation then starts at the previous sentence.
_NEEDS_CONTEXT = re.compile(
    r"^\W*(he|she|they|it|this|that|these|those|his|her|their)\b"
    r"|[,.!?][”\"’']?\s+(he|she|they)\s+(said|added|told|says|continued|warned)\b",
    re.IGNORECASE,
)


def citation_span(index: ArticleIndex, row: int) -> tuple[int, int]:
    """Character span to cite for sentence ``row``: itself, plus its predecessor if needed."""
    sent = index.sentences[row]
    start = sent.start
    if _NEEDS_CONTEXT.search(sent.text) and row > 0:
        prev = index.sentences[row - 1]
        if prev.doc_id == sent.doc_id:
            start = prev.start
    return start, sent.end


def make_citation(index: ArticleIndex, row: int, score: float) -> Citation:
    doc_id = index.sentences[row].doc_id
    start, end = citation_span(index, row)
    text = index.document_text(doc_id)
    return Citation(doc_id, start, end, text[start:end], round(float(score), 4))


def pick_sentences(probs: np.ndarray, config: Config) -> list[int]:
    """Positions (into ``probs``) of the answer sentences, best first: the best one, then up to
    ``max_answer_sentences - 1`` more that score nearly as well."""
    order = np.argsort(-probs, kind="stable")
    if not len(order):
        return []
    best = float(probs[order[0]])
    chosen = [int(order[0])]
    for i in order[1 : config.max_answer_sentences]:
        if probs[i] >= config.second_sentence_ratio * best and probs[i] >= 0.5:
            chosen.append(int(i))
    return chosen


def compose(
    index: ArticleIndex,
    rows: np.ndarray,
    probs: np.ndarray,
    abstained: bool,
    config: Config,
) -> tuple[str, list[Citation], list[Citation]]:
    """Answer text, its citations (best first) and related passages."""
    if abstained:
        order = np.argsort(-probs, kind="stable")[: config.related_count]
        related = [make_citation(index, int(rows[i]), probs[i]) for i in order]
        return ABSTAIN_TEXT, [], related
    citations: list[Citation] = []
    for i in pick_sentences(probs, config):
        c = make_citation(index, int(rows[i]), probs[i])
        if any(c.doc_id == o.doc_id and c.start < o.end and o.start < c.end for o in citations):
            continue  # already said by an earlier citation
        citations.append(c)
    parts = [f"{' '.join(c.quote.split())} [{n}]" for n, c in enumerate(citations, 1)]
    return " ".join(parts), citations, []
