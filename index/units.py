"""The rows an :class:`~index.store.ArticleIndex` holds, as integer columns: which document
each sentence and passage row belongs to and its character offsets, batches of rows on their way
in, and the views that turn a row back into a :class:`Sentence` or :class:`Passage` on demand.
Internal to ``index/`` (the store, the derived-file cache and repair share them).

:class:`IndexRows` is the part of an ``ArticleIndex`` that ``cache.py`` and ``repair.py`` work
on: they take the index as an argument and never import ``store.py``, which imports them."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index.lexical import LexicalIndex
from index.library import StoredDocument, pack_units, unpack_units, unpack_vectors
from index.split import Passage, Sentence
from index.text import content_stems, tokenize

if TYPE_CHECKING:
    from index.config import Config
    from index.library import LibraryDB
    from index.table import VectorTable
    from index.vectors import VectorBackend

S_COLS = ("doc", "index", "start", "end", "paragraph")
P_COLS = ("doc", "index", "start", "end", "first", "last")


@dataclass(frozen=True)
class ArticleDetails:
    """What a web page says of itself, kept with the article: its author and publication
    date as the page gives them (empty when it gives none)."""

    author: str = ""
    published: str = ""

    def __bool__(self) -> bool:
        return bool(self.author or self.published)


@dataclass(frozen=True)
class DocumentRecord:
    """One article as the index holds it: id, title, text of record, content hash, source."""

    doc_id: str
    title: str
    text: str
    content_hash: str
    source: str = ""

    @property
    def public_source(self) -> str:
        """The source as a client of a server may see it: the URL it was fetched from, or the
        file's name, never the folder it was read from on the server's machine."""
        if self.source.startswith(("http://", "https://")):
            return self.source
        return re.split(r"[\\/]", self.source)[-1]


@dataclass
class DocRows:
    """Where a document's rows are: sentences ``s_lo:s_hi``, passages ``p_lo:p_hi``."""

    record: DocumentRecord
    s_lo: int
    s_hi: int
    p_lo: int
    p_hi: int
    alive: bool = True
    code: int = 0  # its row in the store (0: not stored)


@dataclass
class Batch:
    """Documents split and embedded, ready to append: offset columns whose ``doc`` is the
    position in ``records`` (rows of one document contiguous and in order), and vectors."""

    records: list[DocumentRecord]
    s_cols: dict[str, np.ndarray]
    p_cols: dict[str, np.ndarray]
    s_vecs: np.ndarray
    p_vecs: np.ndarray
    s_lex: dict[str, np.ndarray] | None = None  # saved BM25 rows (when loading)
    p_lex: dict[str, np.ndarray] | None = None
    codes: list[int] | None = None  # the records' rows in the store
    tokens: tuple[list[list[str]], list[list[str]]] | None = None  # BM25 terms, when made early

    def tokenize(self) -> tuple[list[list[str]], list[list[str]]]:
        """BM25 terms of every sentence and passage (done before taking the index's lock)."""
        s_texts = unit_texts(self.records, self.s_cols)
        return ([[t.stem for t in tokenize(x) if t.stem] for x in s_texts],
                [content_stems(x) for x in unit_texts(self.records, self.p_cols)])

    @classmethod
    def of_stored(cls, docs: list[StoredDocument], dimension: int) -> Batch:
        """Stored rows (with their blobs) as a batch: nothing is split or embedded again."""
        records, s_rows, p_rows, s_vecs, p_vecs = [], [], [], [], []
        for d, doc in enumerate(docs):
            records.append(DocumentRecord(doc.doc_id, doc.title, doc.text or "", doc.content_hash,
                                          doc.source))
            s, p = unpack_units(doc)
            sv, pv = unpack_vectors(doc, dimension)
            s_rows.append(np.column_stack([np.full(len(s), d), s]))
            p_rows.append(np.column_stack([np.full(len(p), d), p]))
            s_vecs.append(sv)
            p_vecs.append(pv)
        def stack(rows: list[np.ndarray], width: int) -> np.ndarray:
            return np.concatenate(rows) if rows else np.zeros((0, width), dtype=np.int64)
        s_all, p_all = stack(s_rows, len(S_COLS)), stack(p_rows, len(P_COLS))
        return cls(records, {n: s_all[:, i] for i, n in enumerate(S_COLS)},
                   {n: p_all[:, i] for i, n in enumerate(P_COLS)},
                   stack(s_vecs, dimension).astype(np.float32), stack(p_vecs, dimension).astype(np.float32),
                   codes=[d.code for d in docs])

    def subset(self, keep: list[int]) -> Batch:
        """The batch with only documents ``keep`` (renumbered in order)."""
        position = np.full(len(self.records), -1, dtype=np.int64)
        position[keep] = np.arange(len(keep))
        s_sel, p_sel = position[self.s_cols["doc"]] >= 0, position[self.p_cols["doc"]] >= 0
        s_cols = {n: c[s_sel] for n, c in self.s_cols.items()}
        p_cols = {n: c[p_sel] for n, c in self.p_cols.items()}
        s_cols["doc"], p_cols["doc"] = position[s_cols["doc"]], position[p_cols["doc"]]
        tokens = None
        if self.tokens is not None:
            tokens = ([t for t, k in zip(self.tokens[0], s_sel, strict=True) if k],
                      [t for t, k in zip(self.tokens[1], p_sel, strict=True) if k])
        return Batch([self.records[d] for d in keep], s_cols, p_cols,
                      self.s_vecs[s_sel], self.p_vecs[p_sel], tokens=tokens)

    def stored(self, d: int) -> tuple[int, int, bytes, bytes]:
        """Document ``d``'s rows as the store keeps them: counts, offsets blob, vectors blob."""
        s_sel, p_sel = self.s_cols["doc"] == d, self.p_cols["doc"] == d
        return packed({n: c[s_sel] for n, c in self.s_cols.items()},
                      {n: c[p_sel] for n, c in self.p_cols.items()}, self.s_vecs[s_sel], self.p_vecs[p_sel])

    @classmethod
    def of_units(cls, records: list[DocumentRecord], sentences: list[list[Sentence]],
                 passages: list[list[Passage]], s_vecs: np.ndarray, p_vecs: np.ndarray) -> Batch:
        """A batch from freshly split sentences and passages and their vectors."""
        s_rows = [(d, u.index, u.start, u.end, u.paragraph) for d, us in enumerate(sentences) for u in us]
        p_rows = [(d, u.index, u.start, u.end, u.first_sentence, u.last_sentence)
                  for d, us in enumerate(passages) for u in us]
        return cls(records, columns(S_COLS, s_rows), columns(P_COLS, p_rows), s_vecs, p_vecs)


def packed(s_cols: dict[str, np.ndarray], p_cols: dict[str, np.ndarray], s_vecs: np.ndarray,
           p_vecs: np.ndarray) -> tuple[int, int, bytes, bytes]:
    """One document's rows (its slice of the columns and vectors) as the store keeps them:
    sentence and passage counts, the offsets blob and the vectors blob."""
    s = np.column_stack([s_cols[n] for n in S_COLS[1:]])
    p = np.column_stack([p_cols[n] for n in P_COLS[1:]])
    vecs = np.concatenate([s_vecs, p_vecs]).astype("<f4")
    return len(s), len(p), pack_units(s, p), vecs.tobytes()


def columns(names: Sequence[str], rows: list[tuple]) -> dict[str, np.ndarray]:
    """Rows of integers as named columns."""
    table = np.asarray(rows, dtype=np.int64).reshape(-1, len(names))
    return {n: table[:, i] for i, n in enumerate(names)}


class Columns:
    """Integer columns that grow by appending (one numpy array per column)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.data = {n: np.zeros(0, dtype=np.int64) for n in names}

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))

    def extend(self, values: dict[str, np.ndarray]) -> None:
        """Append rows given as one array per column."""
        for n in self.data:
            self.data[n] = np.concatenate([self.data[n], np.asarray(values[n], dtype=np.int64)])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]


class IndexRows(Protocol):
    """What the derived-file cache and repair read and change of an index: its rows, vector
    tables and backends, and its binding to the store (``index.store.ArticleIndex`` is the one
    implementation). Callers hold ``write_lock`` and ``lock`` as the store's methods do."""

    config: Config
    lock: Any
    write_lock: threading.Lock
    doc_rows: list[DocRows]
    s_cols: Columns
    p_cols: Columns
    sentence_table: VectorTable
    passage_table: VectorTable
    sentence_index: VectorBackend
    passage_index: VectorBackend
    by_code: dict[int, int]
    max_code: int
    db: LibraryDB | None
    derived: tuple[str, int] | None
    unverified: list
    verifying: threading.Thread | None

    def __init__(self, config: Config | None = None, embedder: Any = None, root: Any = None, *,
                 _connect: bool = True) -> None: ...
    @property
    def generation(self) -> int:
        """The store generation the rows reflect."""
    @property
    def live_sentences(self) -> int:
        """Sentence rows of live articles."""
    def attach(self, db: LibraryDB, generation: int) -> None:
        """Bind to a store at a generation."""
    def append_rows(self, batch: Batch) -> None:
        """Append a batch's rows (under ``lock``)."""
    def kill_rows(self, position: int, backends: bool = True) -> None:
        """Mark a document's rows dead (under ``lock``)."""
    def sync(self) -> bool:
        """Take in the store's changes since (under ``lock``)."""
    def new_backends(self, overwrite: bool) -> tuple[VectorBackend, VectorBackend]:
        """The vector backends the config names."""
    def doc_of_rows(self, kind: str) -> list[str]:
        """The document id of every row of a kind."""


class UnitView(Sequence):
    """``index.sentences[row]`` / ``index.passages[row]``: a Sentence or Passage made on demand
    from the offset columns and the document text (dead rows included: rows are stable)."""

    def __init__(self, owner: IndexRows, kind: str) -> None:
        self._owner, self._kind = owner, kind

    def __len__(self) -> int:
        return len(self._owner.s_cols if self._kind == "s" else self._owner.p_cols)

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        o = self._owner
        if self._kind == "s":
            c = o.s_cols.data
            doc = o.doc_rows[int(c["doc"][row])].record
            s, e = int(c["start"][row]), int(c["end"][row])
            return Sentence(doc.doc_id, int(c["index"][row]), s, e, doc.text[s:e], int(c["paragraph"][row]))
        c = o.p_cols.data
        doc = o.doc_rows[int(c["doc"][row])].record
        s, e = int(c["start"][row]), int(c["end"][row])
        return Passage(doc.doc_id, int(c["index"][row]), s, e, doc.text[s:e],
                       int(c["first"][row]), int(c["last"][row]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class Idf:
    """Smoothed idf of a stem over live sentences: log(1 + n/df)."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self._lex = lexical

    @property
    def default(self) -> float:
        """The idf of a term never seen: that of a term seen once, n/1."""
        return float(np.log(1 + max(self._lex.live, 1)))

    def get(self, term: str, default: float) -> float:
        """The idf of ``term``, or ``default`` for a term no live sentence has."""
        tid = self._lex.vocab.get(term)
        df = int(self._lex.df[tid]) if tid is not None and tid < len(self._lex.df) else 0
        return float(np.log(1 + self._lex.live / df)) if df > 0 else default


class NoVectors:
    """Stands in for the vector backend while saved rows load (the saved FAISS file or the
    Milvus collection already holds their vectors)."""

    kind = "none"

    def add(self, rows, vectors, doc_ids) -> None:
        """Nothing to add: the saved vector index already holds these rows."""
        pass

    def remove(self, rows) -> None:
        """Nothing to remove."""
        pass


def unit_texts(records: list[DocumentRecord], cols: dict[str, np.ndarray]) -> list[str]:
    """The text of each row of ``cols``, cut from its document's text."""
    return [records[d].text[s:e] for d, s, e in zip(cols["doc"], cols["start"], cols["end"])]
