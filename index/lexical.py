"""BM25 (Lucene variant, the bm25s default) that takes additions and removals in place.

Written by hand because bm25s (and rank_bm25) bake idf and document length into the scores when
they index, so one added or removed article means re-indexing the whole corpus. Here the
index keeps raw term frequencies in sparse segments (scipy CSC, one column per term) and scores
at query time with the current document frequencies, so adding appends a segment and removing
marks rows dead; scores equal bm25s's on the live rows (tests/test_lexical.py checks that).
Small segments are merged into larger ones, Lucene-style, so a query touches few of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

K1 = 1.5
B = 0.75


@dataclass
class _Segment:
    start: int  # first row
    tf: sp.csc_matrix  # rows x terms (terms known when the segment was made)


class LexicalIndex:
    """BM25 scores of a query against every row; rows are appended and never renumbered."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.terms: list[str] = []
        self.df = np.zeros(0, dtype=np.int64)
        self.lengths = np.zeros(0, dtype=np.float32)
        self.alive = np.zeros(0, dtype=bool)
        self.segments: list[_Segment] = []
        self._live_length = 0.0
        self._live_count = 0

    @property
    def size(self) -> int:
        """The number of rows, dead ones included."""
        return len(self.alive)

    @property
    def live(self) -> int:
        """The number of live rows."""
        return self._live_count

    def add(self, token_lists: list[list[str]]) -> None:
        """Append one row per token list."""
        if not token_lists:
            return
        rows, cols = [], []
        for r, toks in enumerate(token_lists):
            for t in toks:
                tid = self.vocab.get(t)
                if tid is None:
                    tid = self.vocab[t] = len(self.terms)
                    self.terms.append(t)
                rows.append(r)
                cols.append(tid)
        n = len(token_lists)
        tf = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(self.terms))
        )
        tf.sum_duplicates()
        self._append(tf, np.array([len(t) for t in token_lists], dtype=np.float32))

    def _append(self, tf: sp.csr_matrix, lengths: np.ndarray) -> None:
        if len(self.df) < len(self.terms):
            self.df = np.concatenate([self.df, np.zeros(len(self.terms) - len(self.df), np.int64)])
        present = np.bincount(tf.indices, minlength=len(self.terms))
        self.df[: len(present)] += present
        self.segments.append(_Segment(self.size, tf.tocsc()))
        self.lengths = np.concatenate([self.lengths, lengths])
        self.alive = np.concatenate([self.alive, np.ones(len(lengths), dtype=bool)])
        self._live_count += len(lengths)
        self._live_length += float(lengths.sum())
        self._merge()

    def _merge(self) -> None:
        # Merge while the newest segment is at least a quarter of the one before: O(log n)
        # segments, each row rewritten O(log n) times over the life of the index.
        while len(self.segments) > 1 and self.segments[-1].tf.shape[0] * 4 >= self.segments[-2].tf.shape[0]:
            b, a = self.segments.pop(), self.segments.pop()
            width = len(self.terms)
            merged = sp.vstack([_widen(a.tf, width), _widen(b.tf, width)], format="csc")
            self.segments.append(_Segment(a.start, merged))

    def remove(self, rows: np.ndarray) -> None:
        """Mark ``rows`` dead: they score 0 and no longer count in df or the mean length."""
        rows = np.asarray([r for r in np.asarray(rows, dtype=np.int64) if self.alive[r]], dtype=np.int64)
        if not len(rows):
            return
        for seg in self.segments:
            local = rows[(rows >= seg.start) & (rows < seg.start + seg.tf.shape[0])] - seg.start
            if len(local):
                terms = seg.tf[local].tocoo().col
                np.subtract.at(self.df, terms, 1)
        self.alive[rows] = False
        self._live_count -= len(rows)
        self._live_length -= float(self.lengths[rows].sum())

    def idf(self, term_ids: np.ndarray) -> np.ndarray:
        """BM25's idf of each term id over the live rows: log(1 + (n - df + 0.5) / (df + 0.5))."""
        n = self._live_count
        df = self.df[term_ids].astype(np.float64)
        return np.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every row (0 for dead rows and rows sharing no term)."""
        out = np.zeros(self.size, dtype=np.float32)
        ids = np.array(
            [self.vocab[t] for t in dict.fromkeys(query_tokens) if t in self.vocab], dtype=np.int64
        )
        ids = ids[self.df[ids] > 0] if len(ids) else ids
        if not len(ids) or not self._live_count:
            return out
        avgdl = self._live_length / self._live_count
        # Only the rows holding a query term are touched: no pass over the whole index.
        for tid, w in zip(ids, self.idf(ids)):
            for seg in self.segments:
                if tid >= seg.tf.shape[1]:
                    continue
                lo, hi = seg.tf.indptr[tid], seg.tf.indptr[tid + 1]
                if lo == hi:
                    continue
                rows = seg.tf.indices[lo:hi] + seg.start
                tf = seg.tf.data[lo:hi]
                norm = K1 * (1 - B + B * self.lengths[rows] / avgdl)
                out[rows] += (w * tf / (tf + norm) * self.alive[rows]).astype(np.float32)
        return out

    # -- persistence: one CSR matrix of term frequencies over all rows ----------------------
    def to_arrays(self, start: int = 0) -> dict[str, np.ndarray]:
        """Rows ``start:`` as arrays (their term frequencies and lengths; terms by name)."""
        width = len(self.terms)
        parts = [_widen(s.tf, width) for s in self.segments if s.start + s.tf.shape[0] > start]
        first = min((s.start for s in self.segments if s.start + s.tf.shape[0] > start), default=start)
        tf = sp.vstack(parts, format="csr")[start - first :] if parts else sp.csr_matrix((0, width))
        used = np.unique(tf.indices)
        remap = np.full(width, -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return {
            "data": tf.data.astype(np.float32),
            "indices": remap[tf.indices].astype(np.int32),
            "indptr": tf.indptr.astype(np.int64),
            "terms": np.array([self.terms[i] for i in used], dtype=str),
            "lengths": self.lengths[start:],
        }

    def add_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Append rows saved by :meth:`to_arrays`."""
        terms = [str(t) for t in arrays["terms"]]
        for t in terms:
            if t not in self.vocab:
                self.vocab[t] = len(self.terms)
                self.terms.append(t)
        local = np.array([self.vocab[t] for t in terms], dtype=np.int64)
        indices = local[arrays["indices"]] if len(arrays["indices"]) else arrays["indices"]
        lengths = np.asarray(arrays["lengths"], dtype=np.float32)
        tf = sp.csr_matrix((arrays["data"], indices, arrays["indptr"]), shape=(len(lengths), len(self.terms)))
        self._append(tf, lengths)


def _widen(m: sp.spmatrix, width: int) -> sp.spmatrix:
    if m.shape[1] == width:
        return m
    m = m.tocsc() if isinstance(m, sp.csc_matrix) else m.tocsr()
    m.resize((m.shape[0], width))
    return m
