"""The article index: documents, their sentences and passages (as offset columns), vectors, BM25.

Rows are appended and never renumbered while the index lives: adding an article appends its
rows to the tables, the vector index and BM25; removing one marks its rows dead and takes them
out of the vector index and BM25 in place. Nothing is rebuilt or re-embedded for a change.

A saved index is a directory of immutable segments named in one manifest:

    config.json              the Config it was built with
    manifest.json            segments, removed documents, vector files, sha256 of each file
    seg-<gen>.jsonl          the documents a save added: id, title, source, hash, text
    seg-<gen>.npz            their sentence/passage offsets, vectors and BM25 term frequencies
    sentences-<gen>.faiss    FAISS index over sentence vectors (FAISS backend)
    passages-<gen>.faiss     FAISS index over passage vectors
    milvus.db                (Milvus Lite backend only)

A save writes the new segment and the FAISS files under fresh names, fsyncs them, then replaces
``manifest.json`` atomically; files no manifest names are deleted afterwards. A crash at any
point leaves the previous manifest and every file it names intact.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from index.config import Config
from index.embed import Embedder
from index.errors import (
    CorruptIndexError,
    IndexNotFoundError,
    InvalidDocumentError,
    OutdatedIndexError,
    UnknownDocumentError,
)
from index.files import (
    CONFIG,
    FORMAT,
    MANIFEST,
    clear_manifest,
    content_hash,
    delete_unreferenced,
    file_sha256,
    fsync,
    fsync_dir,
    read_manifest,
)
from index.lexical import LexicalIndex
from index.split import Passage, Sentence, make_passages, split_sentences
from index.text import content_stems, tokenize
from index.vectors import (
    FaissVectors,
    Hit,
    MilvusVectors,
    VectorBackend,
    VectorTable,
    is_milvus,
    milvus_uri,
)

# A document filter over at most this many rows is searched exactly with numpy.
EXACT_FILTER_ROWS = 20_000
_S_COLS = ("doc", "index", "start", "end", "paragraph")
_P_COLS = ("doc", "index", "start", "end", "first", "last")

__all__ = ["ArticleIndex", "DocumentRecord", "Hit", "content_hash"]


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    title: str
    text: str
    content_hash: str
    source: str = ""


@dataclass
class _Doc:
    """Where a document's rows are: sentences ``s_lo:s_hi``, passages ``p_lo:p_hi``."""

    record: DocumentRecord
    s_lo: int
    s_hi: int
    p_lo: int
    p_hi: int
    alive: bool = True


@dataclass
class _Batch:
    """Documents split and embedded, ready to append: offset columns whose ``doc`` is the
    position in ``records`` (rows of one document contiguous and in order), and vectors."""

    records: list[DocumentRecord]
    s_cols: dict[str, np.ndarray]
    p_cols: dict[str, np.ndarray]
    s_vecs: np.ndarray
    p_vecs: np.ndarray
    s_lex: dict[str, np.ndarray] | None = None  # saved BM25 rows (when loading)
    p_lex: dict[str, np.ndarray] | None = None

    @classmethod
    def of_units(cls, records: list[DocumentRecord], sentences: list[list[Sentence]],
                 passages: list[list[Passage]], s_vecs: np.ndarray, p_vecs: np.ndarray) -> _Batch:
        s_rows = [(d, u.index, u.start, u.end, u.paragraph) for d, us in enumerate(sentences) for u in us]
        p_rows = [(d, u.index, u.start, u.end, u.first_sentence, u.last_sentence)
                  for d, us in enumerate(passages) for u in us]
        return cls(records, _columns(_S_COLS, s_rows), _columns(_P_COLS, p_rows), s_vecs, p_vecs)


def _columns(names: Sequence[str], rows: list[tuple]) -> dict[str, np.ndarray]:
    table = np.asarray(rows, dtype=np.int64).reshape(-1, len(names))
    return {n: table[:, i] for i, n in enumerate(names)}


class _Columns:
    """Integer columns that grow by appending (one numpy array per column)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.data = {n: np.zeros(0, dtype=np.int64) for n in names}

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))

    def extend(self, values: dict[str, np.ndarray]) -> None:
        for n in self.data:
            self.data[n] = np.concatenate([self.data[n], np.asarray(values[n], dtype=np.int64)])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]


class _UnitView(Sequence):
    """``index.sentences[row]`` / ``index.passages[row]``: a Sentence or Passage made on demand
    from the offset columns and the document text (dead rows included: rows are stable)."""

    def __init__(self, owner: ArticleIndex, kind: str) -> None:
        self._owner, self._kind = owner, kind

    def __len__(self) -> int:
        return len(self._owner._s if self._kind == "s" else self._owner._p)

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        o = self._owner
        if self._kind == "s":
            c = o._s.data
            doc = o._docs[int(c["doc"][row])].record
            s, e = int(c["start"][row]), int(c["end"][row])
            return Sentence(doc.doc_id, int(c["index"][row]), s, e, doc.text[s:e], int(c["paragraph"][row]))
        c = o._p.data
        doc = o._docs[int(c["doc"][row])].record
        s, e = int(c["start"][row]), int(c["end"][row])
        return Passage(doc.doc_id, int(c["index"][row]), s, e, doc.text[s:e],
                       int(c["first"][row]), int(c["last"][row]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


class _Idf:
    """Smoothed idf of a stem over live sentences: log(1 + n/df)."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self._lex = lexical

    @property
    def default(self) -> float:
        """The idf of a term never seen: that of a term seen once, n/1."""
        return float(np.log(1 + max(self._lex.live, 1)))

    def get(self, term: str, default: float) -> float:
        tid = self._lex.vocab.get(term)
        df = int(self._lex.df[tid]) if tid is not None and tid < len(self._lex.df) else 0
        return float(np.log(1 + self._lex.live / df)) if df > 0 else default


class ArticleIndex:
    """All indexed articles. Reads and writes are serialised by one re-entrant lock."""

    def __init__(self, config: Config | None = None, embedder: Embedder | None = None,
                 root: str | os.PathLike[str] | None = None, *, _connect: bool = True) -> None:
        self.config = config or Config()
        self._embedder = embedder
        self.lock = threading.RLock()
        self.root = Path(root).expanduser().resolve() if root is not None else None
        self.documents: dict[str, DocumentRecord] = {}
        self._docs: list[_Doc] = []
        self._code: dict[str, int] = {}
        self._s = _Columns(_S_COLS)
        self._p = _Columns(_P_COLS)
        self.sentence_table = VectorTable(self.config.dimension)
        self.passage_table = VectorTable(self.config.dimension)
        self.sentence_bm25 = LexicalIndex()
        self.passage_bm25 = LexicalIndex()
        self.idf = _Idf(self.sentence_bm25)
        self.sentences = _UnitView(self, "s")
        self.passages = _UnitView(self, "p")
        self._token_cache: dict[int, list] = {}
        self._saved: tuple[Path, str, int] | None = None  # (dir, manifest generation, docs saved)
        self.sentence_index: VectorBackend
        self.passage_index: VectorBackend
        if _connect:
            self.sentence_index, self.passage_index = self._new_backends(overwrite=True)
        else:  # ``open`` loads or connects them after the rows are in
            self.sentence_index, self.passage_index = _NoVectors(), _NoVectors()

    def _new_backends(self, overwrite: bool) -> tuple[VectorBackend, VectorBackend]:
        uri = self.config.vector_uri
        if is_milvus(uri):
            if self.root is None and uri.endswith(".db") and not Path(uri).is_absolute():
                raise InvalidDocumentError(
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
        return self.sentence_table.vectors

    @property
    def passage_vectors(self) -> np.ndarray:
        return self.passage_table.vectors

    @property
    def live_sentences(self) -> int:
        return int(self.sentence_table.alive.sum())

    def same_document(self, row_a: int, row_b: int) -> bool:
        """Whether two sentence rows belong to the same (incarnation of a) document."""
        doc = self._s.data["doc"]
        return 0 <= row_b < len(doc) and doc[row_a] == doc[row_b]

    def passage_sentence_rows(self, prow: int) -> range:
        c = self._p.data
        doc = self._docs[int(c["doc"][prow])]
        return range(doc.s_lo + int(c["first"][prow]), doc.s_lo + int(c["last"][prow]) + 1)

    def passages_of_sentence(self, row: int) -> list[int]:
        doc = self._docs[int(self._s.data["doc"][row])]
        i = row - doc.s_lo
        first, last = self._p.data["first"][doc.p_lo : doc.p_hi], self._p.data["last"][doc.p_lo : doc.p_hi]
        return [doc.p_lo + int(j) for j in np.flatnonzero((first <= i) & (last >= i))]

    def sentence_tokens(self, row: int) -> list:
        toks = self._token_cache.get(row)
        if toks is None:
            if len(self._token_cache) > 100_000:
                self._token_cache.clear()
            toks = self._token_cache[row] = tokenize(self.sentences[row].text)
        return toks

    def sentence_stems(self, row: int) -> list[str]:
        return [t.stem for t in self.sentence_tokens(row) if t.stem]

    def rows_of(self, doc_ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Live sentence rows and passage rows of ``doc_ids``."""
        docs = [self._docs[self._code[d]] for d in doc_ids if d in self._code]
        s = [np.arange(d.s_lo, d.s_hi) for d in docs]
        p = [np.arange(d.p_lo, d.p_hi) for d in docs]
        empty = np.zeros(0, dtype=np.int64)
        return (np.concatenate(s) if s else empty), (np.concatenate(p) if p else empty)

    def nodes(self, doc_id: str) -> list[TextNode]:
        """The document's sentences and passages as LlamaIndex nodes (offsets in the text)."""
        doc = self._docs[self._code[self.get_document(doc_id).doc_id]]
        units = [self.sentences[r] for r in range(doc.s_lo, doc.s_hi)]
        units += [self.passages[r] for r in range(doc.p_lo, doc.p_hi)]
        return [_node(doc_id, u) for u in units]

    # -- documents ---------------------------------------------------------------------------
    def document_text(self, doc_id: str) -> str:
        return self.get_document(doc_id).text

    def get_document(self, doc_id: str) -> DocumentRecord:
        try:
            return self.documents[doc_id]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.documents)[:5]) or "none"
            raise UnknownDocumentError(f"unknown document id {doc_id!r} (indexed: {known})") from None

    def add_document(
        self, text: str, doc_id: str | None = None, title: str | None = None, source: str = ""
    ) -> str:
        """Index ``text``; adding a text already indexed returns its id and changes nothing."""
        return self.add_documents([(text, doc_id, title, source)])[0]

    def add_documents(self, items: Iterable[tuple[str, str | None, str | None, str]]) -> list[str]:
        """Index several ``(text, doc_id, title, source)`` at once (one embedding batch).
        All are checked first: one bad item raises and nothing is added."""
        with self.lock:
            by_hash = {d.content_hash: d.doc_id for d in self.documents.values()}
            ids: list[str] = []
            new: list[tuple[DocumentRecord, list[Sentence], list[Passage]]] = []
            taken: set[str] = set()
            for text, doc_id, title, source in items:
                text = validate_document_text(text, self.config.max_document_chars)
                digest = content_hash(text)
                if doc_id is not None:
                    doc_id = validate_doc_id(doc_id)
                existing = by_hash.get(digest)
                if existing is not None and (doc_id is None or doc_id == existing):
                    ids.append(existing)
                    continue
                doc_id = doc_id or digest[:16]
                if doc_id in self.documents or doc_id in taken:
                    raise InvalidDocumentError(
                        f"document id {doc_id!r} already holds a different text; remove it first"
                    )
                sentences = split_sentences(doc_id, text)
                if not sentences:
                    raise InvalidDocumentError(
                        f"document {doc_id!r} has no citable sentences (empty or only boilerplate)"
                    )
                passages = make_passages(
                    sentences, text, self.config.passage_sentences, self.config.passage_overlap
                )
                title = (title or "").strip() or _default_title(sentences)
                new.append((DocumentRecord(doc_id, title, text, digest, source or ""), sentences, passages))
                by_hash[digest] = doc_id
                taken.add(doc_id)
                ids.append(doc_id)
            if new:
                texts = [s.text for _, ss, _ in new for s in ss]
                n_s = len(texts)
                texts += [p.text for _, _, ps in new for p in ps]
                vectors = self.embedder.encode(texts)
                self._append(_Batch.of_units([r for r, _, _ in new], [s for _, s, _ in new],
                                             [p for _, _, p in new], vectors[:n_s], vectors[n_s:]))
            return ids

    def _append(self, batch: _Batch) -> None:
        records, base = batch.records, len(self._docs)
        s_counts = np.bincount(batch.s_cols["doc"], minlength=len(records))
        p_counts = np.bincount(batch.p_cols["doc"], minlength=len(records))
        s_starts = len(self._s) + np.concatenate([[0], np.cumsum(s_counts)])
        p_starts = len(self._p) + np.concatenate([[0], np.cumsum(p_counts)])
        for i, record in enumerate(records):
            self._docs.append(_Doc(record, int(s_starts[i]), int(s_starts[i + 1]),
                                   int(p_starts[i]), int(p_starts[i + 1])))
            self._code[record.doc_id] = base + i
            self.documents[record.doc_id] = record
        self._s.extend({**batch.s_cols, "doc": batch.s_cols["doc"] + base})
        self._p.extend({**batch.p_cols, "doc": batch.p_cols["doc"] + base})
        s_rows = self.sentence_table.append(batch.s_vecs)
        p_rows = self.passage_table.append(batch.p_vecs)
        if batch.s_lex is not None and batch.p_lex is not None:
            self.sentence_bm25.add_arrays(batch.s_lex)
            self.passage_bm25.add_arrays(batch.p_lex)
        else:
            s_texts = _texts(records, batch.s_cols)
            self.sentence_bm25.add([[t.stem for t in tokenize(x) if t.stem] for x in s_texts])
            self.passage_bm25.add([content_stems(x) for x in _texts(records, batch.p_cols)])
        if self.sentence_index.kind == "milvus":  # FAISS needs only the rows
            ids = [r.doc_id for r in records]
            s_docs = [ids[d] for d in batch.s_cols["doc"]]
            p_docs = [ids[d] for d in batch.p_cols["doc"]]
        else:
            s_docs = p_docs = []
        self.sentence_index.add(s_rows, batch.s_vecs, s_docs)
        self.passage_index.add(p_rows, batch.p_vecs, p_docs)

    def remove_document(self, doc_id: str) -> None:
        """Drop a document: its rows are taken out of the vector index and BM25 in place."""
        with self.lock:
            self.get_document(doc_id)
            code = self._code.pop(doc_id)
            doc = self._docs[code]
            doc.alive = False
            del self.documents[doc_id]
            s_rows, p_rows = np.arange(doc.s_lo, doc.s_hi), np.arange(doc.p_lo, doc.p_hi)
            self.sentence_table.kill(s_rows)
            self.passage_table.kill(p_rows)
            self.sentence_bm25.remove(s_rows)
            self.passage_bm25.remove(p_rows)
            self.sentence_index.remove(s_rows)
            self.passage_index.remove(p_rows)

    # -- search ------------------------------------------------------------------------------
    def search_sentences(self, query: np.ndarray, k: int, doc_ids: Iterable[str] | None = None) -> list[Hit]:
        return self._search("s", query, k, doc_ids)

    def search_passages(self, query: np.ndarray, k: int, doc_ids: Iterable[str] | None = None) -> list[Hit]:
        return self._search("p", query, k, doc_ids)

    def _search(self, kind: str, query: np.ndarray, k: int, doc_ids: Iterable[str] | None) -> list[Hit]:
        table, backend = ((self.sentence_table, self.sentence_index) if kind == "s"
                          else (self.passage_table, self.passage_index))
        if doc_ids is None:
            return backend.search(query, k)
        docs = list(doc_ids)
        s_rows, p_rows = self.rows_of(docs)
        rows = s_rows if kind == "s" else p_rows
        if len(rows) <= EXACT_FILTER_ROWS:
            return table.exact(query, k, rows)
        return backend.search(query, k, rows=rows, doc_ids=docs)

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write what changed since the last save to ``path`` (all of it for a new path);
        the manifest is replaced atomically, so readers see the old or the new index."""
        target = Path(path).expanduser().resolve()
        with self.lock:
            if is_milvus(self.config.vector_uri) and self.root is not None and target != self.root:
                raise InvalidDocumentError(
                    f"this index keeps its vectors in Milvus for {self.root}; save it there"
                )
            target.mkdir(parents=True, exist_ok=True)
            old = read_manifest(target)
            incremental = (
                self._saved is not None
                and self._saved[0] == target
                and old is not None
                and old.get("generation") == self._saved[1]
            )
            first_doc = self._saved[2] if incremental else 0
            number = int(old["generation"].split("-")[0]) + 1 if old else 1
            gen = f"{number:06d}-{secrets.token_hex(3)}"  # fresh names: never overwrite a live file
            segments = list(old["segments"]) if incremental else []
            written: list[Path] = []
            if first_doc < len(self._docs) or not segments:
                segments.append(self._write_segment(target, gen, first_doc, written))
            vectors = {"kind": self.sentence_index.kind, "files": {}}
            if isinstance(self.sentence_index, FaissVectors):
                for name, backend in (("sentences", self.sentence_index), ("passages", self.passage_index)):
                    fname = f"{name}-{gen}.faiss"
                    backend.save(target / fname)
                    written.append(target / fname)
                    vectors["files"][fname] = file_sha256(target / fname)
            config_text = self.config.to_json()
            # Rewritten only when it changes (a new index over another one): the usual save then
            # leaves no moment where config.json and the manifest disagree.
            config_changed = _read_or_empty(target / CONFIG) != config_text
            if config_changed:
                (target / f"{CONFIG}.tmp").write_text(config_text, encoding="utf-8")
                written.append(target / f"{CONFIG}.tmp")
            manifest = {
                "format": FORMAT,
                "generation": gen,
                "segments": segments,
                "removed": [c for c, d in enumerate(self._docs) if not d.alive],
                "rows": [len(self._s), len(self._p)],
                "vectors": vectors,
                "config": hashlib.sha256(config_text.encode()).hexdigest(),
            }
            for f in written:
                fsync(f)
            if config_changed:
                os.replace(target / f"{CONFIG}.tmp", target / CONFIG)
            tmp = target / f"{MANIFEST}.tmp"
            tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            fsync(tmp)
            os.replace(tmp, target / MANIFEST)
            fsync_dir(target)
            self._saved = (target, gen, len(self._docs))
            if self.root is None:
                self.root = target
            delete_unreferenced(target, manifest)
        return target

    def _write_segment(self, target: Path, gen: str, first_doc: int, written: list[Path]) -> dict:
        docs = self._docs[first_doc:]
        s_lo = docs[0].s_lo if docs else len(self._s)
        p_lo = docs[0].p_lo if docs else len(self._p)
        arrays: dict[str, np.ndarray] = {}
        for prefix, cols, lo in (("s_", self._s, s_lo), ("p_", self._p, p_lo)):
            for n, col in cols.data.items():
                arrays[prefix + n] = col[lo:] - (first_doc if n == "doc" else 0)
        arrays["s_vectors"] = self.sentence_table.vectors[s_lo:]
        arrays["p_vectors"] = self.passage_table.vectors[p_lo:]
        for prefix, lex, lo in (("ls_", self.sentence_bm25, s_lo), ("lp_", self.passage_bm25, p_lo)):
            for n, a in lex.to_arrays(lo).items():
                arrays[prefix + n] = a
        name = f"seg-{gen}"
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        (target / f"{name}.npz").write_bytes(buf.getvalue())
        with (target / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for d in docs:
                r = d.record
                fh.write(json.dumps({"doc_id": r.doc_id, "title": r.title, "source": r.source,
                                     "content_hash": r.content_hash, "text": r.text},
                                    ensure_ascii=False) + "\n")
        written += [target / f"{name}.npz", target / f"{name}.jsonl"]
        return {
            "name": name,
            "docs": len(docs),
            "files": {f"{name}.npz": file_sha256(target / f"{name}.npz"),
                      f"{name}.jsonl": file_sha256(target / f"{name}.jsonl")},
        }

    @classmethod
    def open(cls, path: str | os.PathLike[str], embedder: Embedder | None = None) -> ArticleIndex:
        """Load a saved index without re-embedding; say exactly what is wrong if it is broken."""
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise IndexNotFoundError(f"no index at {root} (directory does not exist)")
        if not (root / MANIFEST).exists():
            raise IndexNotFoundError(f"no index at {root} (no {MANIFEST} in it)")
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
            config_text = (root / CONFIG).read_text(encoding="utf-8")
            config = Config.from_dict(json.loads(config_text))
        except (OSError, ValueError, TypeError) as exc:
            raise CorruptIndexError(f"index at {root} is corrupt: cannot read {exc}") from None
        current = Config()
        current_format = isinstance(manifest, dict) and manifest.get("format") == FORMAT
        if not current_format or config.version != current.version:
            raise OutdatedIndexError(
                f"index at {root} has an older format (version {config.version}), this program "
                f"reads {current.version}: run `qa index rebuild`"
            )
        if (config.model_name, config.dimension) != (current.model_name, current.dimension):
            raise CorruptIndexError(
                f"index at {root} was embedded with {config.model_name} ({config.dimension} "
                f"dimensions); this program uses {current.model_name}: run `qa index rebuild`"
            )
        if hashlib.sha256(config_text.encode()).hexdigest() != manifest.get("config"):
            raise CorruptIndexError(f"index at {root} is corrupt: {CONFIG} does not match its checksum")
        files = {n: h for seg in manifest["segments"] for n, h in seg["files"].items()}
        files.update(manifest["vectors"]["files"])
        for name, digest in files.items():
            file = root / name
            if not file.exists():
                raise CorruptIndexError(f"index at {root} is corrupt: {name} is missing")
            if file_sha256(file) != digest:
                raise CorruptIndexError(f"index at {root} is corrupt: {name} does not match its checksum")
        self = cls(config, embedder, root=root, _connect=False)
        try:
            self._load(root, manifest)
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError, OSError) as exc:
            raise CorruptIndexError(f"index at {root} is corrupt: {exc!r}") from None
        self._saved = (root, manifest["generation"], len(self._docs))
        return self

    def _load(self, root: Path, manifest: dict) -> None:
        cfg = self.config
        milvus = is_milvus(cfg.vector_uri)
        for seg in manifest["segments"]:
            records, problems = _read_texts(root / f"{seg['name']}.jsonl")
            if problems:
                raise ValueError("; ".join(problems))
            with np.load(root / f"{seg['name']}.npz") as z:
                a = {k: z[k] for k in z.files}
            base = len(self._docs)
            self._append(_Batch(records,
                                {n: a[f"s_{n}"] for n in _S_COLS}, {n: a[f"p_{n}"] for n in _P_COLS},
                                a["s_vectors"], a["p_vectors"],
                                {k[3:]: v for k, v in a.items() if k.startswith("ls_")},
                                {k[3:]: v for k, v in a.items() if k.startswith("lp_")}))
            if len(self._docs) != base + seg["docs"]:
                raise ValueError(f"segment {seg['name']} holds {len(self._docs) - base} documents, "
                                 f"the manifest says {seg['docs']}")
        if [len(self._s), len(self._p)] != manifest["rows"]:
            raise ValueError("row counts do not match the manifest")
        for code in manifest["removed"]:
            d = self._docs[code]
            d.alive = False
            if self._code.get(d.record.doc_id) == code:  # not a later copy of the same id
                del self.documents[d.record.doc_id]
                del self._code[d.record.doc_id]
            s_rows, p_rows = np.arange(d.s_lo, d.s_hi), np.arange(d.p_lo, d.p_hi)
            self.sentence_table.kill(s_rows)
            self.passage_table.kill(p_rows)
            self.sentence_bm25.remove(s_rows)
            self.passage_bm25.remove(p_rows)
        if milvus:
            self.sentence_index, self.passage_index = self._new_backends(overwrite=False)
            for table, backend, kind in ((self.sentence_table, self.sentence_index, "s"),
                                         (self.passage_table, self.passage_index, "p")):
                if len(backend) != int(table.alive.sum()):  # a crash between Milvus and manifest
                    backend.reset(table, self._doc_of_rows(kind))
            return
        files = manifest["vectors"]["files"]
        s_file = next(root / n for n in files if n.startswith("sentences-"))
        p_file = next(root / n for n in files if n.startswith("passages-"))
        ann = (cfg.ann_threshold, cfg.ann_nprobe)
        self.sentence_index = FaissVectors.load(s_file, self.sentence_table, *ann)
        self.passage_index = FaissVectors.load(p_file, self.passage_table, *ann)
        if (len(self.sentence_index), len(self.passage_index)) != (
            int(self.sentence_table.alive.sum()), int(self.passage_table.alive.sum())):
            raise ValueError("vector index size does not match the live rows")

    def _doc_of_rows(self, kind: str) -> list[str]:
        col = (self._s if kind == "s" else self._p).data["doc"]
        return [self._docs[int(c)].record.doc_id for c in col]

    @classmethod
    def rebuild(
        cls, path: str | os.PathLike[str], embedder: Embedder | None = None
    ) -> tuple[ArticleIndex, list[str], list[str]]:
        """Re-create the index at ``path`` from its stored source texts (the segments' ``.jsonl``
        files, or an older format's ``texts.jsonl``), re-embedding them.
        Returns (index, recovered ids, problems)."""
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise IndexNotFoundError(f"no index at {root} (directory does not exist)")
        try:
            config = Config.from_dict(json.loads((root / CONFIG).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            config = Config()
        current = Config()  # keep the saved splitter settings, but embed with this model
        config = replace(config, model_name=current.model_name, dimension=current.dimension,
                         version=current.version)
        records, problems = _stored_texts(root)
        if not records:
            raise CorruptIndexError(
                f"cannot rebuild {root}: no readable source texts ({'; '.join(problems) or 'none found'})"
            )
        fresh = cls(config, embedder, root=root) if is_milvus(config.vector_uri) else cls(config, embedder)
        recovered = []
        for r in records:
            try:
                fresh.add_document(r.text, doc_id=r.doc_id, title=r.title, source=r.source)
                recovered.append(r.doc_id)
            except InvalidDocumentError as exc:
                problems.append(f"{r.doc_id}: {exc}")
        clear_manifest(root)
        fresh.save(root)
        return fresh, recovered, problems

    def compact(self) -> ArticleIndex:
        """A copy holding only the live documents, rows renumbered, vectors reused (no
        re-embedding). Worth it after removing a large part of the index."""
        fresh = ArticleIndex(self.config, self._embedder, root=self.root)
        live = [d for d in self._docs if d.alive]
        position = np.full(len(self._docs), -1, dtype=np.int64)
        position[[self._code[d.record.doc_id] for d in live]] = np.arange(len(live))
        s_rows = np.flatnonzero(self.sentence_table.alive)
        p_rows = np.flatnonzero(self.passage_table.alive)
        s_cols = {n: c[s_rows] for n, c in self._s.data.items()}
        p_cols = {n: c[p_rows] for n, c in self._p.data.items()}
        s_cols["doc"], p_cols["doc"] = position[s_cols["doc"]], position[p_cols["doc"]]
        fresh._append(_Batch([d.record for d in live], s_cols, p_cols,
                             self.sentence_table.vectors[s_rows], self.passage_table.vectors[p_rows]))
        return fresh


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


class _NoVectors:
    """Stands in for the vector backend while saved rows load (the saved FAISS file or the
    Milvus collection already holds their vectors)."""

    kind = "none"

    def add(self, rows, vectors, doc_ids) -> None:
        pass

    def remove(self, rows) -> None:
        pass


def _texts(records: list[DocumentRecord], cols: dict[str, np.ndarray]) -> list[str]:
    return [records[d].text[s:e] for d, s, e in zip(cols["doc"], cols["start"], cols["end"])]


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


def _stored_texts(root: Path) -> tuple[list[DocumentRecord], list[str]]:
    """Every readable stored document, minus those the manifest says were removed."""
    problems: list[str] = []
    manifest = read_manifest(root)
    if manifest is not None:
        files = [root / f"{s['name']}.jsonl" for s in manifest["segments"]]
        removed = set(manifest.get("removed", []))
    else:
        files = sorted(root.glob("seg-*.jsonl")) + [p for p in [root / "texts.jsonl"] if p.exists()]
        removed = set()
        if files and (root / MANIFEST).exists():
            problems.append(f"{MANIFEST} unreadable: articles removed since their save may return")
    records: list[DocumentRecord] = []
    code = 0
    for f in files:
        found, more = _read_texts(f)
        problems += more
        for r in found:
            if code not in removed:
                records.append(r)
            code += 1
    unique = {r.doc_id: r for r in records}  # a later copy of an id wins
    return list(unique.values()), problems


def _read_texts(path: Path) -> tuple[list[DocumentRecord], list[str]]:
    """Records from a ``.jsonl`` file whose text still matches its hash, and what was skipped."""
    records: list[DocumentRecord] = []
    problems: list[str] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return [], [f"{path.name}: {exc.strerror or exc}"]
    for n, line in enumerate(lines, 1):
        try:
            d = json.loads(line)
            if content_hash(d["text"]) != d["content_hash"]:
                raise ValueError("text does not match its hash")
            records.append(DocumentRecord(d["doc_id"], d["title"], d["text"],
                                          d["content_hash"], d.get("source", "")))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name} line {n}: {exc}")
    return records, problems


def validate_doc_id(doc_id: object) -> str:
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidDocumentError(f"document id must be a non-empty string, got {doc_id!r}")
    doc_id = doc_id.strip()
    if len(doc_id) > 200 or any(ch in doc_id for ch in "/\\\x00") or doc_id in {".", ".."}:
        raise InvalidDocumentError(
            f"document id {doc_id[:50]!r} is not allowed (at most 200 characters, no slashes)"
        )
    return doc_id


def validate_document_text(text: object, max_chars: int) -> str:
    """The text, if it is something we can index; otherwise an ``InvalidDocumentError``."""
    if isinstance(text, bytes):
        raise InvalidDocumentError("document must be text (str), not bytes: decode it first")
    if not isinstance(text, str):
        raise InvalidDocumentError(f"document must be text, got {type(text).__name__}")
    if not text.strip():
        raise InvalidDocumentError("document is empty")
    if len(text) > max_chars:
        raise InvalidDocumentError(f"document has {len(text):,} characters; the limit is {max_chars:,}")
    if "\x00" in text:
        raise InvalidDocumentError("document looks binary (it contains NUL characters)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDocumentError("document contains invalid characters (unpaired surrogates)") from None
    return text
