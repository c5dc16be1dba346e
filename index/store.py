"""The article index: documents, sentence and passage nodes, their FAISS vectors, BM25.

Documents and nodes live in a LlamaIndex docstore (each node carries its document id and
character offsets); vectors live in two LlamaIndex ``FaissVectorStore``s (exact inner-product
search over unit vectors). A saved index is a directory:

    config.json      the Config it was built with
    manifest.json    documents, row order of the vectors, sha256 of every other file
    docstore.json    LlamaIndex docstore: documents and their sentence/passage nodes
    sentences.faiss  one vector per sentence
    passages.faiss   one vector per passage

It is written aside and renamed into place, so a reader sees the old or the new index, never half.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np
from llama_index.core.schema import Document, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.faiss import FaissVectorStore

from index.config import Config
from index.embed import Embedder
from index.errors import (
    CorruptIndexError,
    IndexNotFoundError,
    InvalidDocumentError,
    UnknownDocumentError,
)
from index.lexical import LexicalIndex
from index.split import Passage, Sentence, make_passages, split_sentences
from index.text import content_stems, tokenize

MANIFEST = "manifest.json"
CONFIG = "config.json"
TEXTS = "texts.jsonl"
DATA_FILES = ("docstore.json", "sentences.faiss", "passages.faiss", TEXTS, CONFIG)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    title: str
    text: str
    content_hash: str
    source: str = ""


@dataclass(frozen=True)
class Hit:
    """A row of a vector search: its position in ``sentences``/``passages`` and its score."""

    row: int
    score: float


def _node(doc_id: str, kind: str, unit: Sentence | Passage) -> TextNode:
    node = TextNode(
        id_=f"{doc_id}:{kind[0]}{unit.index}",
        text=unit.text,
        start_char_idx=unit.start,
        end_char_idx=unit.end,
        metadata={"doc_id": doc_id, "kind": kind, "index": unit.index},
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    if isinstance(unit, Sentence):
        node.metadata["paragraph"] = unit.paragraph
    else:
        node.metadata["first_sentence"] = unit.first_sentence
        node.metadata["last_sentence"] = unit.last_sentence
    return node


def _flat_store(dimension: int, vectors: np.ndarray) -> FaissVectorStore:
    index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return FaissVectorStore(faiss_index=index)


def _vectors_of(store: FaissVectorStore) -> np.ndarray:
    index = store.client
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)


class ArticleIndex:
    """All indexed articles. Reads and writes are serialised by one re-entrant lock."""

    def __init__(self, config: Config | None = None, embedder: Embedder | None = None) -> None:
        self.config = config or Config()
        self._embedder = embedder
        self.lock = threading.RLock()
        self.documents: dict[str, DocumentRecord] = {}
        self.docstore = SimpleDocumentStore()
        self.sentences: list[Sentence] = []
        self.passages: list[Passage] = []
        self.sentence_store = _flat_store(self.config.dimension, np.zeros((0, 0)))
        self.passage_store = _flat_store(self.config.dimension, np.zeros((0, 0)))
        self.sentence_vectors = np.zeros((0, self.config.dimension), dtype=np.float32)
        self.passage_vectors = np.zeros((0, self.config.dimension), dtype=np.float32)
        self._derived: _Derived | None = None

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

    # -- documents ---------------------------------------------------------------------------
    def document_text(self, doc_id: str) -> str:
        return self.get_document(doc_id).text

    def get_document(self, doc_id: str) -> DocumentRecord:
        try:
            return self.documents[doc_id]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.documents)[:5]) or "none"
            raise UnknownDocumentError(f"unknown document id {doc_id!r} (indexed: {known})") from None

    def find_by_hash(self, digest: str) -> str | None:
        return next((d.doc_id for d in self.documents.values() if d.content_hash == digest), None)

    def add_document(
        self, text: str, doc_id: str | None = None, title: str | None = None, source: str = ""
    ) -> str:
        """Index ``text``; adding a text already indexed returns its id and changes nothing."""
        text = validate_document_text(text, self.config.max_document_chars)
        digest = content_hash(text)
        if doc_id is not None:
            doc_id = validate_doc_id(doc_id)
        with self.lock:
            existing = self.find_by_hash(digest)
            if existing is not None and (doc_id is None or doc_id == existing):
                return existing
            doc_id = doc_id or digest[:16]
            if doc_id in self.documents:
                raise InvalidDocumentError(
                    f"document id {doc_id!r} already holds a different text; remove it first"
                )
            sentences = split_sentences(doc_id, text)
            if not sentences:
                raise InvalidDocumentError(
                    f"document {doc_id!r} has no citable sentences (empty or only boilerplate)"
                )
            # Renumber into global rows after the existing ones; offsets stay per document.
            passages = make_passages(
                sentences, text, self.config.passage_sentences, self.config.passage_overlap
            )
            vectors = self.embedder.encode([s.text for s in sentences] + [p.text for p in passages])
            sent_vecs, pass_vecs = vectors[: len(sentences)], vectors[len(sentences) :]
            title = (title or "").strip() or _default_title(sentences)
            record = DocumentRecord(doc_id, title, text, digest, source)
            self._append(record, sentences, passages, sent_vecs, pass_vecs)
            return doc_id

    def _append(
        self,
        record: DocumentRecord,
        sentences: list[Sentence],
        passages: list[Passage],
        sent_vecs: np.ndarray,
        pass_vecs: np.ndarray,
    ) -> None:
        doc = Document(
            id_=record.doc_id,
            text=record.text,
            metadata={
                "title": record.title,
                "content_hash": record.content_hash,
                "source": record.source,
            },
        )
        nodes = [_node(record.doc_id, "sentence", s) for s in sentences]
        nodes += [_node(record.doc_id, "passage", p) for p in passages]
        self.docstore.add_documents([doc, *nodes])
        self.documents[record.doc_id] = record
        self.sentences.extend(sentences)
        self.passages.extend(passages)
        self.sentence_vectors = np.vstack([self.sentence_vectors, sent_vecs])
        self.passage_vectors = np.vstack([self.passage_vectors, pass_vecs])
        self.sentence_store.client.add(sent_vecs)
        self.passage_store.client.add(pass_vecs)
        self._derived = None

    def remove_document(self, doc_id: str) -> None:
        """Drop a document; the FAISS stores are rebuilt from stored vectors, not re-embedded."""
        with self.lock:
            self.get_document(doc_id)
            keep_s = [i for i, s in enumerate(self.sentences) if s.doc_id != doc_id]
            keep_p = [i for i, p in enumerate(self.passages) if p.doc_id != doc_id]
            for unit in [*self.sentences, *self.passages]:
                if unit.doc_id == doc_id:
                    kind = "s" if isinstance(unit, Sentence) else "p"
                    self.docstore.delete_document(f"{doc_id}:{kind}{unit.index}", raise_error=False)
            self.docstore.delete_document(doc_id, raise_error=False)
            del self.documents[doc_id]
            self.sentences = [self.sentences[i] for i in keep_s]
            self.passages = [self.passages[i] for i in keep_p]
            self.sentence_vectors = self.sentence_vectors[keep_s]
            self.passage_vectors = self.passage_vectors[keep_p]
            self.sentence_store = _flat_store(self.config.dimension, self.sentence_vectors)
            self.passage_store = _flat_store(self.config.dimension, self.passage_vectors)
            self._derived = None

    # -- search ------------------------------------------------------------------------------
    def search_sentences(self, query: np.ndarray, k: int) -> list[Hit]:
        return _search(self.sentence_store, query, k)

    def search_passages(self, query: np.ndarray, k: int) -> list[Hit]:
        return _search(self.passage_store, query, k)

    @property
    def derived(self) -> _Derived:
        """Lookup tables and BM25 indexes, rebuilt lazily after a change."""
        with self.lock:
            if self._derived is None:
                self._derived = _Derived(self.sentences, self.passages)
            return self._derived

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to ``path`` atomically (write aside, fsync, rename)."""
        target = Path(path).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
            try:
                self.docstore.persist(str(tmp / "docstore.json"))
                self.sentence_store.persist(str(tmp / "sentences.faiss"))
                self.passage_store.persist(str(tmp / "passages.faiss"))
                # The source texts once more, one JSON line each with its own hash: what
                # ``rebuild`` recovers from when the rest of the directory is damaged.
                with (tmp / TEXTS).open("w", encoding="utf-8") as fh:
                    for d in self.documents.values():
                        fh.write(json.dumps({"doc_id": d.doc_id, "title": d.title,
                                             "source": d.source, "content_hash": d.content_hash,
                                             "text": d.text}, ensure_ascii=False) + "\n")
                (tmp / CONFIG).write_text(self.config.to_json(), encoding="utf-8")
                manifest = {
                    "documents": [
                        {
                            "doc_id": d.doc_id,
                            "title": d.title,
                            "content_hash": d.content_hash,
                            "source": d.source,
                            "chars": len(d.text),
                        }
                        for d in self.documents.values()
                    ],
                    "sentence_rows": [f"{s.doc_id}:s{s.index}" for s in self.sentences],
                    "passage_rows": [f"{p.doc_id}:p{p.index}" for p in self.passages],
                    "files": {name: _file_sha256(tmp / name) for name in DATA_FILES},
                }
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
                for name in (*DATA_FILES, MANIFEST):
                    with (tmp / name).open("rb") as fh:
                        os.fsync(fh.fileno())
                _swap_into_place(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    @classmethod
    def open(cls, path: str | os.PathLike[str], embedder: Embedder | None = None) -> ArticleIndex:
        """Load a saved index without re-embedding; say exactly what is wrong if it is broken."""
        root = Path(path).expanduser()
        if not (root / MANIFEST).exists():
            _recover_interrupted_swap(root)
        if not root.is_dir():
            raise IndexNotFoundError(f"no index at {root} (directory does not exist)")
        if not (root / MANIFEST).exists() and not (root / CONFIG).exists():
            raise IndexNotFoundError(f"no index at {root} (no {MANIFEST} in it)")
        try:
            config = Config.from_dict(json.loads((root / CONFIG).read_text(encoding="utf-8")))
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError) as exc:
            raise CorruptIndexError(f"index at {root} is corrupt: cannot read {exc}") from None
        current = Config()
        if config.version != current.version:
            raise CorruptIndexError(
                f"index at {root} has format version {config.version}, this program reads "
                f"{current.version}: run `qa index rebuild`"
            )
        if (config.model_name, config.dimension) != (current.model_name, current.dimension):
            raise CorruptIndexError(
                f"index at {root} was embedded with {config.model_name} ({config.dimension} "
                f"dimensions); this program uses {current.model_name}: run `qa index rebuild`"
            )
        for name in DATA_FILES:
            file = root / name
            if not file.exists():
                raise CorruptIndexError(f"index at {root} is corrupt: {name} is missing")
            if _file_sha256(file) != manifest.get("files", {}).get(name):
                raise CorruptIndexError(f"index at {root} is corrupt: {name} does not match its checksum")
        self = cls(config, embedder)
        try:
            self._load(root, manifest)
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise CorruptIndexError(f"index at {root} is corrupt: {exc!r}") from None
        return self

    @classmethod
    def rebuild(
        cls, path: str | os.PathLike[str], embedder: Embedder | None = None
    ) -> tuple[ArticleIndex, list[str], list[str]]:
        """Re-create the index at ``path`` from its stored source texts (``texts.jsonl``, else
        the docstore), re-embedding them. Returns (index, recovered ids, problems)."""
        root = Path(path).expanduser()
        if not root.is_dir():
            raise IndexNotFoundError(f"no index at {root} (directory does not exist)")
        try:
            config = Config.from_dict(json.loads((root / CONFIG).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            config = Config()
        current = Config()  # keep the saved splitter settings, but embed with this model
        config = replace(config, model_name=current.model_name, dimension=current.dimension,
                         version=current.version)
        records, problems = _read_texts(root / TEXTS)
        if not records:
            records, more = _read_docstore_texts(root / "docstore.json")
            problems += more
        if not records:
            raise CorruptIndexError(
                f"cannot rebuild {root}: no readable source texts ({'; '.join(problems)})"
            )
        fresh = cls(config, embedder)
        recovered = []
        for r in records:
            try:
                fresh.add_document(r.text, doc_id=r.doc_id, title=r.title, source=r.source)
                recovered.append(r.doc_id)
            except InvalidDocumentError as exc:
                problems.append(f"{r.doc_id}: {exc}")
        fresh.save(root)
        return fresh, recovered, problems

    def _load(self, root: Path, manifest: dict) -> None:
        self.docstore = SimpleDocumentStore.from_persist_path(str(root / "docstore.json"))
        for entry in manifest["documents"]:
            doc = self.docstore.get_document(entry["doc_id"])
            text = doc.text
            if content_hash(text) != entry["content_hash"]:
                raise ValueError(f"text of {entry['doc_id']} does not match its hash")
            self.documents[entry["doc_id"]] = DocumentRecord(
                entry["doc_id"], entry["title"], text, entry["content_hash"], entry["source"]
            )
        self.sentences = [self._unit(nid) for nid in manifest["sentence_rows"]]
        self.passages = [self._unit(nid) for nid in manifest["passage_rows"]]
        self.sentence_store = FaissVectorStore.from_persist_path(str(root / "sentences.faiss"))
        self.passage_store = FaissVectorStore.from_persist_path(str(root / "passages.faiss"))
        self.sentence_vectors = _vectors_of(self.sentence_store)
        self.passage_vectors = _vectors_of(self.passage_store)
        if len(self.sentence_vectors) != len(self.sentences) or len(self.passage_vectors) != len(
            self.passages
        ):
            raise ValueError("vector count does not match node count")

    def _unit(self, node_id: str) -> Sentence | Passage:
        node = self.docstore.get_node(node_id)
        meta = node.metadata
        doc_id = meta["doc_id"]
        text = self.documents[doc_id].text
        s, e = int(node.start_char_idx), int(node.end_char_idx)
        if text[s:e] != node.text:
            raise ValueError(f"node {node_id} does not match its document text")
        if meta["kind"] == "sentence":
            return Sentence(doc_id, int(meta["index"]), s, e, node.text, int(meta["paragraph"]))
        return Passage(
            doc_id,
            int(meta["index"]),
            s,
            e,
            node.text,
            int(meta["first_sentence"]),
            int(meta["last_sentence"]),
        )


class _Derived:
    """Tables computed from the rows: row of each (doc, sentence), passages of each sentence."""

    def __init__(self, sentences: list[Sentence], passages: list[Passage]) -> None:
        self.sentence_row = {(s.doc_id, s.index): i for i, s in enumerate(sentences)}
        self.sentence_tokens = [tokenize(s.text) for s in sentences]
        self.sentence_stems = [[t.stem for t in toks if t.stem] for toks in self.sentence_tokens]
        self.sentence_bm25 = LexicalIndex(self.sentence_stems)
        self.passage_bm25 = LexicalIndex([content_stems(p.text) for p in passages])
        self.passages_of_sentence: list[list[int]] = [[] for _ in sentences]
        self.passage_sentence_rows: list[list[int]] = []
        for prow, p in enumerate(passages):
            rows = [self.sentence_row[(p.doc_id, i)] for i in range(p.first_sentence, p.last_sentence + 1)]
            self.passage_sentence_rows.append(rows)
            for r in rows:
                self.passages_of_sentence[r].append(prow)
        self.sentence_doc = np.array([s.doc_id for s in sentences], dtype=object)
        self.passage_doc = np.array([p.doc_id for p in passages], dtype=object)
        df: dict[str, int] = {}
        for stems in self.sentence_stems:
            for t in set(stems):
                df[t] = df.get(t, 0) + 1
        n = max(len(sentences), 1)
        # Smoothed idf; a term never seen gets the idf of a term seen once.
        self.idf = {t: float(np.log(1 + n / c)) for t, c in df.items()}
        self.default_idf = float(np.log(1 + n))


def _search(store: FaissVectorStore, query: np.ndarray, k: int) -> list[Hit]:
    k = min(k, store.client.ntotal)
    if k <= 0:
        return []
    result = store.query(VectorStoreQuery(query_embedding=query.tolist(), similarity_top_k=k))
    return [Hit(int(i), float(s)) for i, s in zip(result.ids or [], result.similarities or [])]


def _default_title(sentences: list[Sentence]) -> str:
    first = sentences[0].text.strip()
    return first if len(first) <= 120 else first[:117] + "…"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Move the finished copy into place. A crash at any point leaves either ``target`` or
    ``.target.old`` complete (``open`` restores the latter). Single writer per directory."""
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # left by a killed writer
        shutil.rmtree(stale, ignore_errors=True)


def _recover_interrupted_swap(target: Path) -> None:
    """A crash between the two renames of a save leaves the previous index aside: restore it."""
    old = target.with_name(f".{target.name}.old")
    if (old / MANIFEST).exists() and not (target / MANIFEST).exists():
        if target.exists():
            shutil.rmtree(target)
        os.replace(old, target)


def _read_texts(path: Path) -> tuple[list[DocumentRecord], list[str]]:
    """Records from ``texts.jsonl`` whose text still matches its hash, and what was skipped."""
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


def _read_docstore_texts(path: Path) -> tuple[list[DocumentRecord], list[str]]:
    try:
        store = SimpleDocumentStore.from_persist_path(str(path))
    except Exception as exc:  # noqa: BLE001 - any failure means "not readable"
        return [], [f"{path.name}: {type(exc).__name__}"]
    records = []
    for node in store.docs.values():
        if isinstance(node, Document):
            meta = node.metadata
            records.append(DocumentRecord(node.id_, meta.get("title", ""), node.text,
                                          content_hash(node.text), meta.get("source", "")))
    return records, []


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
