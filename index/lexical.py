"""BM25 over pre-tokenized texts (bm25s), scoring every row so features can read any of them."""

from __future__ import annotations

import bm25s
import numpy as np


class LexicalIndex:
    """BM25 scores of a query against every text in a fixed list of token lists."""

    def __init__(self, token_lists: list[list[str]]) -> None:
        self.size = len(token_lists)
        self._bm25 = bm25s.BM25()
        # bm25s cannot index an empty corpus; an empty index scores nothing.
        if self.size:
            self._bm25.index([toks or [""] for toks in token_lists], show_progress=False)
        vocab = self._bm25.vocab_dict if self.size else {}
        self._vocab = {tok for tok in vocab if tok}

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        known = [t for t in dict.fromkeys(query_tokens) if t in self._vocab]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
