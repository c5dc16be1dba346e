"""Word tokens for lexical scoring: one tokenizer shared by BM25, features and follow-ups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

# Numbers keep their inner separators ("1,000", "3.5"); words keep inner apostrophes.
WORD_RE = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | {"also", "would", "could", "said", "say", "says"}
_STEMMER = Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Token:
    """One word of a text: its surface form, its stem (``""`` for a stopword), its offsets."""

    surface: str
    stem: str
    start: int
    end: int

    @property
    def is_capitalized(self) -> bool:
        """Whether the word starts with a capital letter."""
        return self.surface[:1].isupper()

    @property
    def is_number(self) -> bool:
        """Whether the word starts with a digit."""
        return self.surface[:1].isdigit()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Lower-cased stem of a word, or ``""`` when it is a stopword."""
    lower = word.lower().replace("’", "'")
    if lower in STOPWORDS:
        return ""
    return _STEMMER.stemWord(lower)


def tokenize(text: str) -> list[Token]:
    """The words of ``text`` with their stems and offsets (stopwords get the stem ``""``)."""
    return [Token(m.group(), stem(m.group()), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def content_stems(text: str) -> list[str]:
    """Stems of the content words of ``text`` in order (stopwords dropped): BM25's tokens."""
    return [t.stem for t in tokenize(text) if t.stem]
