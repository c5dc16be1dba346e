"""(Over 400 lines: ArticleIndex is one object whose state changes together under one lock:
rows, vectors, BM25 and the binding to its store. The parts without that state live beside it:
``units.py`` (row columns), ``library.py`` (the store), ``cache.py`` (derived files), ``repair.py``.)

The article index: documents, their sentences and passages (as offset columns), vectors, BM25.

Rows are appended and never renumbered while the index lives: adding an article appends its
rows to the tables, the vector index and BM25; removing one marks its rows dead and takes them
out of the vector index and BM25 in place. Nothing is rebuilt or re-embedded for a change.

A saved index is a directory (see ``index/library.py`` and ``index/cache.py``):

    library.sqlite           the store of record: articles, offsets, vectors, removals, config
    config.json              a copy of the config, for people (the store holds the truth)
    cache.json, seg-*.npz, sentences-*.faiss, passages-*.faiss
                             derived from the store, for a fast open; rebuilt when stale
    milvus.db                (Milvus Lite backend only)

An index opened from a directory is *bound* to it: every add and remove is one SQLite
transaction, durable when the call returns, and another process's commits are picked up by
:meth:`ArticleIndex.refresh`. An index made in memory writes nothing until ``save(path)``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import astuple
from pathlib import Path

import numpy as np
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from index import cache, repair
from index.config import Config
from index.embed import Embedder
from index.errors import (
    ConfigError,
    CorruptIndexError,
    InvalidDocumentError,
    UnknownDocumentError,
)
from index.files import content_hash
from index.lexical import LexicalIndex
from index.library import (
    LibraryDB,
)
from index.split import Passage, Sentence, make_passages, split_sentences
from index.table import Hit, VectorTable
from index.text import tokenize
from index.units import (
    P_COLS,
    S_COLS,
    ArticleDetails,
    Batch,
    Columns,
    DocRows,
    DocumentRecord,
    Idf,
    NoVectors,
    UnitView,
    packed,
)
from index.validate import validate_doc_id, validate_document_text, validate_source, validate_title
from index.vectors import FaissVectors, MilvusVectors, VectorBackend, is_milvus, milvus_uri

__all__ = ["ArticleIndex", "DocumentRecord", "Hit", "content_hash"]
log = logging.getLogger("qa")


class ArticleIndex:
    """All indexed articles. Reads and writes are serialised by one re-entrant lock."""

    def __init__(self, config: Config | None = None, embedder: Embedder | None = None,
                 root: str | os.PathLike[str] | None = None, *, _connect: bool = True) -> None:
        self.config = config or Config()
        self._embedder = embedder
        self.lock = threading.RLock()
        self.root = Path(root).expanduser().resolve() if root is not None else None
        self.documents: dict[str, DocumentRecord] = {}
        self.in_memory_details: dict[str, ArticleDetails] = {}  # unbound only: a store holds its own
        self.doc_rows: list[DocRows] = []
        self._code: dict[str, int] = {}
        self.s_cols = Columns(S_COLS)
        self.p_cols = Columns(P_COLS)
        self.sentence_table = VectorTable(self.config.dimension)
        self.passage_table = VectorTable(self.config.dimension)
        self.sentence_bm25 = LexicalIndex()
        self.passage_bm25 = LexicalIndex()
        self.idf = Idf(self.sentence_bm25)
        self.sentences = UnitView(self, "s")
        self.passages = UnitView(self, "p")
        self._token_cache: dict[int, list] = {}
        self.db: LibraryDB | None = None  # the store this index is bound to (None: memory only)
        self._generation = 0  # the store's generation these rows reflect
        self.max_code = 0  # the highest store row held
        self.by_code: dict[int, int] = {}  # store row -> position in ``_docs``
        self.write_lock = threading.Lock()  # one writer per process; SQLite orders processes
        self.epoch = 0  # changes when rows are renumbered (compaction): row numbers read before go stale
        self.derived: tuple[str, int] | None = None  # (derived files' name, docs they hold)
        self.unverified: list = []  # vector files read row by row, still to check (index/cache.py)
        self.verifying: threading.Thread | None = None  # the thread checking them, after open
        self.sentence_index: VectorBackend
        self.passage_index: VectorBackend
        if _connect:
            self.sentence_index, self.passage_index = self.new_backends(overwrite=True)
        else:  # ``open`` loads or connects them after the rows are in
            self.sentence_index, self.passage_index = NoVectors(), NoVectors()

    def new_backends(self, overwrite: bool) -> tuple[VectorBackend, VectorBackend]:
        """The sentence and passage vector backends ``config.vector_uri`` names (FAISS or Milvus)."""
        uri = self.config.vector_uri
        if is_milvus(uri):
            if self.root is None and uri.endswith(".db") and not Path(uri).is_absolute():
                raise ConfigError(
                    "a Milvus Lite index with a relative path needs its directory: "
                    "ArticleIndex.create(path, config)"
                )
            target = milvus_uri(uri, self.root or Path("."))
            name = self.config.vector_collection
            dim = self.config.dimension
            return (MilvusVectors(target, f"{name}_sentences", dim, overwrite),
                    MilvusVectors(target, f"{name}_passages", dim, overwrite))
        cfg = self.config
        return (FaissVectors(self.sentence_table, cfg.ann_threshold, cfg.ann_nprobe),
                FaissVectors(self.passage_table, cfg.ann_threshold, cfg.ann_nprobe))

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: Config | None = None,
               embedder: Embedder | None = None) -> ArticleIndex:
        """A new, empty index that will live at ``path`` (needed for Milvus Lite's file)."""
        Path(path).expanduser().mkdir(parents=True, exist_ok=True)
        return cls(config, embedder, root=path)

    # -- model -------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The model that embeds new text and questions (the bundled one, loaded on first use)."""
        if self._embedder is None:
            with self.lock:
                if self._embedder is None:
                    self._embedder = Embedder()
        if self._embedder.dimension != self.config.dimension:
            raise CorruptIndexError(
                f"model dimension {self._embedder.dimension} != index dimension {self.config.dimension}"
            )
        return self._embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        """Swap in another embedder of the same model (e.g. one that caches by content hash)."""
        self._embedder = embedder

    # -- rows --------------------------------------------------------------------------------
    @property
    def sentence_vectors(self) -> np.ndarray:
        """The vectors of every sentence row, dead rows included."""
        return self.sentence_table.vectors

    @property
    def passage_vectors(self) -> np.ndarray:
        """The vectors of every passage row, dead rows included."""
        return self.passage_table.vectors

    def all_live(self, rows: np.ndarray) -> bool:
        """Whether every sentence row of ``rows`` still belongs to an article of the library."""
        return bool(self.sentence_table.alive[rows].all())

    def sentence_bm25_scores(self, stems: list[str]) -> np.ndarray:
        """BM25 score of every sentence row for the query ``stems`` (0 for dead rows)."""
        return self.sentence_bm25.scores(stems)

    def passage_bm25_scores(self, stems: list[str]) -> np.ndarray:
        """BM25 score of every passage row for the query ``stems`` (0 for dead rows)."""
        return self.passage_bm25.scores(stems)

    @property
    def live_sentences(self) -> int:
        """The number of sentence rows of articles in the library."""
        return int(self.sentence_table.alive.sum())

    def same_document(self, row_a: int, row_b: int) -> bool:
        """Whether two sentence rows belong to the same (incarnation of a) document."""
        doc = self.s_cols.data["doc"]
        return 0 <= row_b < len(doc) and doc[row_a] == doc[row_b]

    def passage_sentence_rows(self, prow: int) -> range:
        """The sentence rows passage row ``prow`` spans."""
        c = self.p_cols.data
        doc = self.doc_rows[int(c["doc"][prow])]
        return range(doc.s_lo + int(c["first"][prow]), doc.s_lo + int(c["last"][prow]) + 1)

    def passages_of_sentence(self, row: int) -> list[int]:
        """The passage rows that hold sentence row ``row``."""
        doc = self.doc_rows[int(self.s_cols.data["doc"][row])]
        i = row - doc.s_lo
        cols = self.p_cols.data
        first, last = cols["first"][doc.p_lo : doc.p_hi], cols["last"][doc.p_lo : doc.p_hi]
        return [doc.p_lo + int(j) for j in np.flatnonzero((first <= i) & (last >= i))]

    def sentence_tokens(self, row: int) -> list:
        """The tokens of sentence row ``row`` (cached: the features read them for every question)."""
        toks = self._token_cache.get(row)
        if toks is None:
            if len(self._token_cache) > 100_000:
                self._token_cache.clear()
            toks = self._token_cache[row] = tokenize(self.sentences[row].text)
        return toks

    def sentence_stems(self, row: int) -> list[str]:
        """The stems of sentence row ``row`` (stopwords left out)."""
        return [t.stem for t in self.sentence_tokens(row) if t.stem]

    def rows_of(self, doc_ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Live sentence rows and passage rows of ``doc_ids``."""
        docs = [self.doc_rows[self._code[d]] for d in doc_ids if d in self._code]
        s = [np.arange(d.s_lo, d.s_hi) for d in docs]
        p = [np.arange(d.p_lo, d.p_hi) for d in docs]
        empty = np.zeros(0, dtype=np.int64)
        return (np.concatenate(s) if s else empty), (np.concatenate(p) if p else empty)

    def nodes(self, doc_id: str) -> list[TextNode]:
        """The document's sentences and passages as LlamaIndex nodes (offsets in the text)."""
        doc = self.doc_rows[self._code[self.get_document(doc_id).doc_id]]
        units = [self.sentences[r] for r in range(doc.s_lo, doc.s_hi)]
        units += [self.passages[r] for r in range(doc.p_lo, doc.p_hi)]
        return [_node(doc_id, u) for u in units]

    # -- documents ---------------------------------------------------------------------------
    def document_text(self, doc_id: str) -> str:
        """The text of article ``doc_id``.

        :raises UnknownDocumentError: no article with this id.
        """
        return self.get_document(doc_id).text

    def get_document(self, doc_id: str) -> DocumentRecord:
        """The record (id, title, text, hash, source) of article ``doc_id``; the id is taken
        stripped, as it was when the article was added (``validate_doc_id``).

        :raises UnknownDocumentError: no article with this id (the message names only the id
            asked for: a client learns nothing of the others from it).
        """
        key = doc_id.strip() if isinstance(doc_id, str) else doc_id
        try:
            return self.documents[key]
        except (KeyError, TypeError):
            shown = repr(doc_id[:130]) if isinstance(doc_id, str) else type(doc_id).__name__
            raise UnknownDocumentError(f"unknown document id {shown}") from None

    def add_document(
        self, text: str, doc_id: str | None = None, title: str | None = None, source: str = "",
        details: ArticleDetails | None = None,
    ) -> str:
        """Index ``text``; adding a text already indexed returns its id and changes nothing."""
        return self.add_documents([(text, doc_id, title, source, details or ArticleDetails())])[0]

    def details(self, doc_id: str) -> ArticleDetails:
        """The author and date the article's page gave (empty ones when it gave none).

        :raises UnknownDocumentError: no document with this id.
        """
        record = self.get_document(doc_id)
        if self.db is None:
            return self.in_memory_details.get(record.doc_id, ArticleDetails())
        with self.lock:
            code = self.doc_rows[self._code[record.doc_id]].code
        return ArticleDetails(*self.db.details([code]).get(code, ("", "")))

    def add_documents(self, items: Iterable[tuple]) -> list[str]:
        """Index several ``(text, doc_id, title, source)`` at once (one embedding batch), each
        optionally followed by its :class:`ArticleDetails`. All are checked first: one bad
        item raises and nothing is added. Embedding happens before any lock is taken, so
        questions are answered meanwhile; a bound index commits the batch as one transaction
        before it changes memory."""
        items = [tuple(item) + (ArticleDetails(),) * (5 - len(item)) for item in items]
        checked = [(validate_document_text(text, self.config.max_document_chars),
                    None if doc_id is None else validate_doc_id(doc_id), validate_title(title),
                    validate_source(source)) for text, doc_id, title, source, _ in items]
        requested = {doc_id for _, doc_id, _, _ in checked if doc_id is not None}
        with self.write_lock:  # writers wait for each other, never questions
            with self.lock:
                ids, planned = self._plan(checked)
            if not planned:
                return ids
            details = {doc_id: items[ids.index(doc_id)][4] for _, doc_id, _, _, _ in planned}
            new = [self._split(*item) for item in planned]
            texts = [s.text for _, ss, _ in new for s in ss]
            n_s = len(texts)
            texts += [p.text for _, _, ps in new for p in ps]
            vectors = self.embedder.encode(texts)
            batch = Batch.of_units([r for r, _, _ in new], [s for _, s, _ in new],
                                    [p for _, _, p in new], vectors[:n_s], vectors[n_s:])
            batch.tokens = batch.tokenize()
            if self.db is None:
                with self.lock:
                    self.append_rows(batch)
                    self.in_memory_details.update((i, d) for i, d in details.items() if d)
                return ids
            asked = {r.doc_id: r.doc_id if r.doc_id in requested else None for r, _, _ in new}
            with self.db.writing() as w:
                with self.lock:
                    self.sync()  # another process may have added or removed some meanwhile
                    ids, batch = self._recheck(ids, batch, asked)
                batch.codes = []
                for d, record in enumerate(batch.records):
                    n_s, n_p, units, vecs = batch.stored(d)
                    about = details.get(record.doc_id, ArticleDetails())
                    batch.codes.append(w.insert(record.doc_id, record.title, record.source,
                                                record.content_hash, record.text, n_s, n_p, units, vecs,
                                                about.author, about.published))
            with self.lock:
                if batch.records:
                    self.append_rows(batch)
                self._generation = max(self._generation, w.generation)
            return ids

    def _recheck(self, ids: list[str], batch: Batch, asked: dict[str, str | None]
                 ) -> tuple[list[str], Batch]:
        """The plan again after a sync: a text another process added meanwhile is not added
        twice; an id it took for another text is refused."""
        by_hash = {d.content_hash: d.doc_id for d in self.documents.values()}
        keep, rename = [], {}
        for d, r in enumerate(batch.records):
            existing = by_hash.get(r.content_hash)
            if existing is not None and (existing == r.doc_id or asked.get(r.doc_id) is None):
                rename[r.doc_id] = existing
            elif r.doc_id in self.documents:
                raise InvalidDocumentError(
                    f"document id {r.doc_id!r} already holds a different text; remove it first")
            else:
                keep.append(d)
        if not rename:
            return ids, batch
        return [rename.get(i, i) for i in ids], batch.subset(keep)

    def _plan(self, checked: list[tuple[str, str | None, str, str]]
              ) -> tuple[list[str], list[tuple[str, str, str, str, str]]]:
        """Every item's id and the new ones as (text, id, title, source, hash); raises for an
        id that holds another text. Runs under ``self.lock`` (cheap: hashes, no splitting)."""
        by_hash = {d.content_hash: d.doc_id for d in self.documents.values()}
        ids: list[str] = []
        new: list[tuple[str, str, str, str, str]] = []
        for text, doc_id, title, source in checked:
            digest = content_hash(text)
            existing = by_hash.get(digest)
            if existing is not None and (doc_id is None or doc_id == existing):
                ids.append(existing)
                continue
            doc_id = doc_id or digest[:16]
            if doc_id in self.documents or doc_id in ids:
                raise InvalidDocumentError(
                    f"document id {doc_id!r} already holds a different text; remove it first"
                )
            new.append((text, doc_id, title, source, digest))
            by_hash[digest] = doc_id
            ids.append(doc_id)
        return ids, new

    def _split(self, text: str, doc_id: str, title: str, source: str, digest: str
               ) -> tuple[DocumentRecord, list[Sentence], list[Passage]]:
        """A new document split into sentences and passages (outside any lock: slow for a
        long article)."""
        sentences = split_sentences(doc_id, text)
        if not sentences:
            raise InvalidDocumentError(
                f"document {doc_id!r} has no citable sentences (empty or only boilerplate)"
            )
        passages = make_passages(sentences, text, self.config.passage_sentences, self.config.passage_overlap)
        record = DocumentRecord(doc_id, title or _default_title(sentences), text, digest, source)
        return record, sentences, passages

    def append_rows(self, batch: Batch) -> None:
        """Under ``self.lock``: append a batch's documents and rows to the tables, BM25 and the
        vector backends (no store write: callers commit first when bound)."""
        records, base = batch.records, len(self.doc_rows)
        s_counts = np.bincount(batch.s_cols["doc"], minlength=len(records))
        p_counts = np.bincount(batch.p_cols["doc"], minlength=len(records))
        s_starts = len(self.s_cols) + np.concatenate([[0], np.cumsum(s_counts)])
        p_starts = len(self.p_cols) + np.concatenate([[0], np.cumsum(p_counts)])
        codes = batch.codes or [0] * len(records)
        s_at, p_at = s_starts.tolist(), p_starts.tolist()  # Python ints: 100k articles load in a loop
        docs, positions, documents, by_code = self.doc_rows, self._code, self.documents, self.by_code
        for i, (record, code) in enumerate(zip(records, codes, strict=True)):
            docs.append(DocRows(record, s_at[i], s_at[i + 1], p_at[i], p_at[i + 1], True, code))
            positions[record.doc_id] = at = base + i
            documents[record.doc_id] = record
            if code:
                by_code[code] = at
        self.max_code = max(self.max_code, *codes)
        self.s_cols.extend({**batch.s_cols, "doc": batch.s_cols["doc"] + base})
        self.p_cols.extend({**batch.p_cols, "doc": batch.p_cols["doc"] + base})
        s_rows = self.sentence_table.append(batch.s_vecs)
        p_rows = self.passage_table.append(batch.p_vecs)
        if batch.s_lex is not None and batch.p_lex is not None:
            self.sentence_bm25.add_arrays(batch.s_lex)
            self.passage_bm25.add_arrays(batch.p_lex)
        else:
            s_tokens, p_tokens = batch.tokens or batch.tokenize()
            self.sentence_bm25.add(s_tokens)
            self.passage_bm25.add(p_tokens)
        if self.sentence_index.kind == "milvus":  # FAISS needs only the rows
            ids = [r.doc_id for r in records]
            s_docs = [ids[d] for d in batch.s_cols["doc"]]
            p_docs = [ids[d] for d in batch.p_cols["doc"]]
        else:
            s_docs = p_docs = []
        self.sentence_index.add(s_rows, batch.s_vecs, s_docs)
        self.passage_index.add(p_rows, batch.p_vecs, p_docs)

    def remove_document(self, doc_id: str) -> None:
        """Drop a document: its rows are taken out of the vector index and BM25 in place (and,
        when bound, it is marked removed in the store, by id and hash, in one transaction)."""
        with self.write_lock:
            if self.db is None:
                with self.lock:
                    doc_id = self.get_document(doc_id).doc_id
                    self.kill_rows(self._code[doc_id])
                    self.in_memory_details.pop(doc_id, None)
                return
            with self.db.writing() as w:
                with self.lock:
                    self.sync()
                    position = self._code[self.get_document(doc_id).doc_id]
                w.remove(self.doc_rows[position].code)
            with self.lock:
                self.kill_rows(position)
                self._generation = max(self._generation, w.generation)

    def kill_rows(self, position: int, backends: bool = True) -> None:
        """Under ``self.lock``: mark the document at ``position`` dead and take its rows out of
        BM25 and (``backends``) the vector index, in place."""
        doc = self.doc_rows[position]
        if not doc.alive:
            return
        doc.alive = False
        if self._code.get(doc.record.doc_id) == position:  # not a later copy of the same id
            del self._code[doc.record.doc_id]
            del self.documents[doc.record.doc_id]
        s_rows, p_rows = np.arange(doc.s_lo, doc.s_hi), np.arange(doc.p_lo, doc.p_hi)
        self.sentence_table.kill(s_rows)
        self.passage_table.kill(p_rows)
        self.sentence_bm25.remove(s_rows)
        self.passage_bm25.remove(p_rows)
        if backends:
            self.sentence_index.remove(s_rows)
            self.passage_index.remove(p_rows)

    # -- other processes ---------------------------------------------------------------------
    def refresh(self) -> bool:
        """Take in what other processes committed to the store since; cheap when nothing did
        (one ``PRAGMA data_version``). Returns whether anything was read."""
        if self.db is None or not self.db.changed():
            return False
        if not self.write_lock.acquire(blocking=False):
            return False  # a writer of this process is syncing anyway
        try:
            with self.lock:
                return self.sync()
        finally:
            self.write_lock.release()

    def sync(self) -> bool:
        """Under ``self.lock``: apply the store's removals and additions since our generation."""
        assert self.db is not None
        gen, added, removed = self.db.since(self.max_code, self._generation)
        if gen == self._generation:
            return False
        for code in removed:
            if code in self.by_code:
                self.kill_rows(self.by_code[code])
        damaged = [d.doc_id for d in added if not d.intact()]
        if damaged:
            log.warning("qa: skipped damaged article(s) written by another process: %s "
                        "(run `qa index rebuild`)", ", ".join(damaged))
        for doc in added:
            if doc.doc_id in self.documents:  # removed and re-added under the same id
                self.kill_rows(self._code[doc.doc_id])
        good = [d for d in added if d.intact()]
        if good:
            self.append_rows(Batch.of_stored(good, self.config.dimension))
        self._generation = gen
        return True

    # -- search ------------------------------------------------------------------------------
    def search_sentences(self, query: np.ndarray, k: int, doc_ids: Iterable[str] | None = None) -> list[Hit]:
        """The ``k`` live sentence rows nearest ``query`` (inner product), best first; only
        those of ``doc_ids`` when given (exact search up to ``Config.exact_filter_rows`` rows).
        """
        return self._search("s", query, k, doc_ids)

    def search_passages(self, query: np.ndarray, k: int, doc_ids: Iterable[str] | None = None) -> list[Hit]:
        """As :meth:`search_sentences`, over passages."""
        return self._search("p", query, k, doc_ids)

    def _search(self, kind: str, query: np.ndarray, k: int, doc_ids: Iterable[str] | None) -> list[Hit]:
        table, backend = ((self.sentence_table, self.sentence_index) if kind == "s"
                          else (self.passage_table, self.passage_index))
        if doc_ids is None:
            return backend.search(query, k)
        docs = list(doc_ids)
        s_rows, p_rows = self.rows_of(docs)
        rows = s_rows if kind == "s" else p_rows
        if len(rows) <= self.config.exact_filter_rows:
            return table.exact(query, k, rows)
        return backend.search(query, k, rows=rows, doc_ids=docs)

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Bound to ``path`` (or no path given): refresh the derived files (segments, FAISS)
        from what is committed; the articles themselves are durable since their add returned.
        An index in memory: write it as a new library at ``path`` and bind to it.
        Bound elsewhere: write a copy (a new library) at ``path``."""
        if path is None:
            if self.root is None or self.db is None:
                raise InvalidDocumentError("this index lives in memory: save(path) names where")
            path = self.root
        target = Path(path).expanduser().resolve()
        if self.db is not None and target == self.root:
            with self.write_lock, self.db.writing(), self.lock:
                self.sync()
                if cache.wants_compaction(self):
                    self._compact_in_place()
                cache.write(self, target)
            return target
        if is_milvus(self.config.vector_uri) and self.root is not None and target != self.root:
            raise ConfigError(
                f"this index keeps its vectors in Milvus for {self.root.name}/; save it there")
        with self.write_lock, self.lock:
            db, codes = self._new_store(target)
            if self.db is None:
                self._bind(db, target, codes)
                with self.db.writing():
                    cache.write(self, target)
            else:  # a copy: this index stays bound where it is
                db.close()
        return target

    def _new_store(self, target: Path) -> tuple[LibraryDB, dict[int, int]]:
        """A new library at ``target`` holding the live documents (made under a temporary name
        and linked into place: never over an existing library), and the store code each live
        document got, by position in ``_docs``."""
        from index.files import write_config_copy

        live = [(pos, d) for pos, d in enumerate(self.doc_rows) if d.alive]
        about = self.all_details()
        rows = ((d.record.doc_id, d.record.title, d.record.source, d.record.content_hash, d.record.text,
                 *packed({n: c[d.s_lo:d.s_hi] for n, c in self.s_cols.data.items()},
                         {n: c[d.p_lo:d.p_hi] for n, c in self.p_cols.data.items()},
                         self.sentence_table.vectors[d.s_lo:d.s_hi],
                         self.passage_table.vectors[d.p_lo:d.p_hi]),
                 *astuple(about.get(d.record.doc_id, ArticleDetails())))
                for _, d in live)
        db, codes = LibraryDB.create_at(target, self.config.to_json(), rows)
        write_config_copy(target, self.config)
        return db, {pos: code for (pos, _), code in zip(live, codes, strict=True)}

    def all_details(self) -> dict[str, ArticleDetails]:
        """Every live article's details that are not empty, by id."""
        if self.db is None:
            return dict(self.in_memory_details)
        with self.lock:
            codes = {d.code: d.record.doc_id for d in self.doc_rows if d.alive and d.code}
        return {codes[c]: ArticleDetails(a, p) for c, (a, p) in self.db.details(list(codes)).items()
                if c in codes}

    def _bind(self, db: LibraryDB, root: Path, codes: dict[int, int]) -> None:
        """Tie this in-memory index to the store just written from it (``codes``: store code
        by position in ``_docs``)."""
        for pos, doc in enumerate(self.doc_rows):
            doc.code = codes.get(pos, 0)
            if doc.code:
                self.by_code[doc.code] = pos
        self.max_code = max(codes.values(), default=0)
        self._generation = int(db.meta("generation") or 0)
        self.db, self.root, self.derived = db, root, None
        self.in_memory_details = {}  # the store holds them now
        db.changed()

    def detach(self) -> ArticleIndex:
        """Stop writing to the store: from now on changes stay in memory (e.g. a shared cache
        of the bundled articles that callers may change freely)."""
        if self.verifying is not None:  # its vector files are checked (and, if need be, re-read
            self.verifying.join()  # from the store) while the store is there
        with self.write_lock, self.lock:
            if self.db is not None:
                self.in_memory_details = self.all_details()
                self.db.close()
            self.db = None
            for doc in self.doc_rows:
                doc.code = 0
            self.by_code, self.max_code, self.derived = {}, 0, None
        return self

    def attach(self, db: LibraryDB, generation: int) -> None:
        """Bind to the store ``db``, whose ``generation`` the rows held reflect (used by open)."""
        self.db, self._generation = db, generation

    @property
    def generation(self) -> int:
        """The store's generation these rows reflect (0 for an index in memory)."""
        return self._generation

    @classmethod
    def open(cls, path: str | os.PathLike[str], embedder: Embedder | None = None) -> ArticleIndex:
        """Load a saved index without re-embedding; say exactly what is wrong if it is broken."""
        return cache.open_index(cls, Path(path).expanduser().resolve(), embedder,
                                other_model=repair.embed_again)

    @classmethod
    def rebuild(
        cls, path: str | os.PathLike[str], embedder: Embedder | None = None
    ) -> tuple[ArticleIndex, list[str], list[str]]:
        """Repair the library at ``path``: keep every intact article, re-embed those whose
        vectors are damaged, report each article that cannot be restored, re-make the derived
        files; a library of an older format is re-made from its stored texts. Nothing is
        deleted before its replacement is durable; nothing removed comes back.
        Returns (index, restored ids, problems)."""
        return repair.rebuild(cls, Path(path).expanduser().resolve(), embedder)

    def compact(self) -> ArticleIndex:
        """A copy holding only the live documents, rows renumbered, vectors reused (no
        re-embedding); bound to the same store. Saving it rewrites the derived files whole."""
        fresh = ArticleIndex(self.config, self._embedder, root=self.root)
        with self.lock:
            live = [d for d in self.doc_rows if d.alive]
            position = np.full(len(self.doc_rows), -1, dtype=np.int64)
            position[[self._code[d.record.doc_id] for d in live]] = np.arange(len(live))
            s_rows = np.flatnonzero(self.sentence_table.alive)
            p_rows = np.flatnonzero(self.passage_table.alive)
            s_cols = {n: c[s_rows] for n, c in self.s_cols.data.items()}
            p_cols = {n: c[p_rows] for n, c in self.p_cols.data.items()}
            s_cols["doc"], p_cols["doc"] = position[s_cols["doc"]], position[p_cols["doc"]]
            fresh.append_rows(Batch([d.record for d in live], s_cols, p_cols,
                                 self.sentence_table.vectors[s_rows], self.passage_table.vectors[p_rows],
                                 codes=[d.code for d in live]))
            fresh.db, fresh._generation = self.db, self._generation
            fresh.in_memory_details = {i: d for i, d in self.in_memory_details.items()
                                       if i in fresh.documents}
        return fresh

    def doc_of_rows(self, kind: str) -> list[str]:
        """The document id of every sentence (``"s"``) or passage (``"p"``) row, dead rows included."""
        col = (self.s_cols if kind == "s" else self.p_cols).data["doc"]
        return [self.doc_rows[int(c)].record.doc_id for c in col]

    def _compact_in_place(self) -> None:
        """Under both locks: drop dead rows from memory (the derived files follow at the next
        write of them)."""
        fresh = self.compact()
        keep = {"lock", "write_lock", "epoch"}
        for name, value in vars(fresh).items():
            if name not in keep:
                setattr(self, name, value)
        self.sentences, self.passages = UnitView(self, "s"), UnitView(self, "p")
        self.derived = None
        self.epoch += 1
        if self.db is not None:
            self.db.vacuum()


def _node(doc_id: str, unit: Sentence | Passage) -> TextNode:
    kind = "sentence" if isinstance(unit, Sentence) else "passage"
    node = TextNode(
        id_=f"{doc_id}:{kind[0]}{unit.index}",
        text=unit.text,
        start_char_idx=unit.start,
        end_char_idx=unit.end,
        metadata={"doc_id": doc_id, "kind": kind, "index": unit.index},
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    return node


def _default_title(sentences: list[Sentence]) -> str:
    first = sentences[0].text.strip()
    return first if len(first) <= 120 else first[:117] + "…"
