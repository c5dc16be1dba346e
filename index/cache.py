"""Files derived from the store for a fast open: row segments, FAISS indexes, ``cache.json``.

``library.sqlite`` (``index/library.py``) is the store of record. Reading every vector and
re-tokenising every text from it at each open would be slow on a large library, so a save also
writes what memory holds, in segments:

    cache.json            generation, segments (with sha256 of each file), FAISS files
    seg-<name>.npz        store codes, offset columns and BM25 rows of some articles
    svec-<name>.npy / pvec-<name>.npy
                          their sentence and passage vectors (float32), read row by row
    sentences-<name>.faiss / passages-<name>.faiss

The cache names articles by their store code, never by position, and records which were already
removed when it was written. At open it is checked (sha256, row counts) and reconciled with the
store: removals since are applied, articles added since are read from the store (vectors
included: nothing is re-embedded). A missing, stale or damaged cache is logged and rebuilt from
the store; it can never change which articles the library holds.

The vector files are the bulk of a library (1.1 GB at 100k articles) and are not read at open:
a row is read from its file when it is used (``index.table.FileRows``), so a library opens
in a fraction of the time and serves without holding every vector in RAM. Their checksums are
verified after the open, in a background thread; a file that does not match is logged and its
vectors re-read from the store, and the derived files are rewritten at the next save. Every
other file is verified at open.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from index.config import Config
from index.errors import CorruptIndexError, IndexNotFoundError, OutdatedIndexError, QAError
from index.files import file_sha256, fsync, fsync_dir, read_json_of_format, write_config_copy
from index.library import DATABASE, LibraryDB, Snapshot, unpack_vectors
from index.table import FileRows, VectorTable
from index.vectors import FaissVectors, is_milvus

if TYPE_CHECKING:
    from index.embed import Embedder
    from index.units import IndexRows as ArticleIndex  # the store's index, as this module sees it

# Opens a library of another model instead (repair.embed_again; given by the store, never imported)
OtherModel = Callable[[type, Path, "Embedder | None", Config], "ArticleIndex"]

log = logging.getLogger("qa")

CACHE = "cache.json"
CACHE_FORMAT = 4
# Compaction, checked at each save: when dead rows reach this share of the rows held (and at
# least MIN_DEAD_ROWS), memory and the derived files are rewritten with live rows only; past
# MAX_SEGMENTS segments the derived files are rewritten as one (an open reads each segment).
DEAD_SHARE = 0.3
MIN_DEAD_ROWS = 200
MAX_SEGMENTS = 24
# Files this module writes (and the previous format's): nothing else in the directory is deleted.
_OURS = ("seg-", "svec-", "pvec-", "sentences-", "passages-")


def wants_compaction(index: ArticleIndex) -> bool:
    """Whether enough rows are dead (removed articles) for a save to compact the tables first."""
    rows = len(index.sentence_table)
    dead = rows - index.live_sentences
    return dead >= MIN_DEAD_ROWS and dead >= DEAD_SHARE * rows


def write(index: ArticleIndex, root: Path) -> None:
    """Write the derived files for what ``index`` holds (called with the store's write lock and
    ``index.lock`` held, so they match one generation). Appends one segment when the files on
    disk are the ones this index wrote last; otherwise writes them whole."""
    old = _read(root)
    name = f"{index.generation:06d}-{secrets.token_hex(3)}"
    segments: list[dict] = []
    first = 0
    if (index.derived is not None and old is not None and old.get("name") == index.derived[0]
            and len(old["segments"]) < MAX_SEGMENTS):
        segments, first = list(old["segments"]), index.derived[1]
    written: list[Path] = []
    if first < len(index.doc_rows) or not segments:
        segments.append(_write_segment(index, root, name, first, written))
    vectors: dict = {"kind": index.sentence_index.kind, "files": {}}
    if isinstance(index.sentence_index, FaissVectors):
        for kind, backend in (("sentences", index.sentence_index), ("passages", index.passage_index)):
            fname = f"{kind}-{name}.faiss"
            backend.save(root / fname)
            written.append(root / fname)
            vectors["files"][fname] = file_sha256(root / fname)
    manifest = {
        "format": CACHE_FORMAT,
        "name": name,
        "generation": index.generation,
        "segments": segments,
        "dead": [d.code for d in index.doc_rows if not d.alive],
        "rows": [len(index.s_cols), len(index.p_cols)],
        "vectors": vectors,
    }
    for f in written:
        fsync(f)
    if (root / CACHE).is_dir():  # something put a directory in its place: set it aside
        (root / CACHE).rename(root / f"{CACHE}.damaged-{secrets.token_hex(3)}")
    tmp = root / f"{CACHE}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    fsync(tmp)
    os.replace(tmp, root / CACHE)
    fsync_dir(root)
    index.derived = (name, len(index.doc_rows))
    write_config_copy(root, index.config)
    _sweep(root, manifest)


def _write_segment(index: ArticleIndex, root: Path, name: str, first: int, written: list[Path]) -> dict:
    docs = index.doc_rows[first:]
    s_lo = docs[0].s_lo if docs else len(index.s_cols)
    p_lo = docs[0].p_lo if docs else len(index.p_cols)
    arrays: dict[str, np.ndarray] = {"codes": np.asarray([d.code for d in docs], dtype=np.int64)}
    for prefix, cols, lo in (("s_", index.s_cols, s_lo), ("p_", index.p_cols, p_lo)):
        for n, col in cols.data.items():
            arrays[prefix + n] = col[lo:] - (first if n == "doc" else 0)
    for prefix, lex, lo in (("ls_", index.sentence_bm25, s_lo), ("lp_", index.passage_bm25, p_lo)):
        for n, a in lex.to_arrays(lo).items():
            arrays[prefix + n] = a
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    file = root / f"seg-{name}.npz"
    file.write_bytes(buf.getvalue())
    written.append(file)
    files = {file.name: file_sha256(file)}
    for kind, table, lo in (("svec", index.sentence_table, s_lo), ("pvec", index.passage_table, p_lo)):
        vfile = root / f"{kind}-{name}.npy"
        np.save(vfile, np.ascontiguousarray(table.vectors[lo:], dtype=np.float32))
        written.append(vfile)
        files[vfile.name] = file_sha256(vfile)
    return {"name": f"seg-{name}", "docs": len(docs), "files": files}


def _read(root: Path) -> dict | None:
    return read_json_of_format(root / CACHE, CACHE_FORMAT)


def _sweep(root: Path, manifest: dict) -> None:
    """Delete derived files no cache names (an earlier save's, or a killed writer's)."""
    keep = {n for seg in manifest["segments"] for n in seg["files"]} | set(manifest["vectors"]["files"])
    for f in root.iterdir():
        if f.name.startswith(_OURS) and f.name not in keep and f.is_file() or f.name == f"{CACHE}.tmp":
            f.unlink(missing_ok=True)


# -- opening -----------------------------------------------------------------------------------
def open_index(cls: type[ArticleIndex], root: Path, embedder: Embedder | None,
               use_cache: bool = True, *, other_model: OtherModel) -> ArticleIndex:
    """The library at ``root``: rows from the derived files where they are sound, the rest
    from the store; the store decides which articles there are. A library of another model
    is handed to ``other_model``."""
    with _collector_paused():
        return _open_index(cls, root, embedder, use_cache, other_model)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while an open makes its objects (about a million
    at 100k articles, none of them in cycles): it would walk them again and again (0.65 s of a
    3 s open, measured at 100k articles)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _open_index(cls: type[ArticleIndex], root: Path, embedder: Embedder | None,
                use_cache: bool, other_model: OtherModel) -> ArticleIndex:
    if not root.is_dir():
        raise IndexNotFoundError(f"no index in {root.name}/ (not a directory)")
    if not (root / DATABASE).exists() and any((root / n).exists() for n in
                                              ("manifest.json", "texts.jsonl", "docstore.json")):
        raise OutdatedIndexError(f"index in {root.name}/ has an older format: run `qa index rebuild`")
    db = LibraryDB.open(root)
    # the derived files are read while the store's snapshot is (both mostly outside the GIL)
    with ThreadPoolExecutor(1, thread_name_prefix="qa-open") as pool:
        reading = pool.submit(_read_files, root) if use_cache else None
        try:
            snap = db.snapshot()
            config = Config.from_dict(json.loads(snap.config))
        except Exception as exc:  # a damaged store: sqlite3 errors, bad JSON, wrong types
            db.close()
            raise CorruptIndexError(f"index store {DATABASE} is damaged ({type(exc).__name__}): "
                                    "run `qa index rebuild`") from None
    current = Config()
    if (config.model_name, config.dimension) != (current.model_name, current.dimension):
        db.close()
        return other_model(cls, root, embedder, config)
    damaged = [d.doc_id for d in snap.documents if d.removed is None and not d.intact()]
    if damaged:
        db.close()
        raise CorruptIndexError(f"index in {root.name}/: article(s) {', '.join(damaged[:5])} "
                                "damaged in the store: run `qa index rebuild`")
    index = None
    try:
        index = _from_cache(cls, root, config, embedder, snap, reading.result()) if reading else None
    except (QAError, KeyError, ValueError, TypeError, RuntimeError, IndexError, OSError) as exc:
        if (root / CACHE).exists():
            log.warning("derived files in %s/ unusable (%s); re-made from the store",
                        root.name, str(exc)[:200])
    if index is None:  # Milvus connects after the rows are in (see _reconcile)
        index = cls(config, embedder, root=root, _connect=not is_milvus(config.vector_uri))
    index.attach(db, snap.generation)
    stale = _reconcile(index, snap)
    db.changed()
    if stale:
        try:
            with index.write_lock, db.writing(), index.lock:
                index.sync()
                write(index, root)
        except (OSError, QAError) as exc:  # e.g. a read-only directory: the store is enough
            log.warning("could not refresh the derived files in %s/ (%s)", root.name,
                        type(exc).__name__)
    if index.unverified:
        index.verifying = threading.Thread(target=verify_vectors, args=(index,), daemon=True,
                                           name="qa-verify-vectors")
        index.verifying.start()
    return index


def _read_files(root: Path) -> tuple[dict, list[dict[str, np.ndarray]]] | None:
    """The cache's manifest and each segment's arrays (vectors not read: see ``_from_cache``),
    checksums verified; None when there is no cache. File work only: it runs in a thread
    while the store's snapshot is read."""
    manifest = _read(root)
    if manifest is None:
        if (root / CACHE).exists():
            raise ValueError(f"{CACHE} unreadable")
        return None
    files = {n: h for seg in manifest["segments"] for n, h in seg["files"].items()}
    files.update(manifest["vectors"]["files"])
    for fname, digest in files.items():
        if not (root / fname).is_file():
            raise ValueError(f"{fname} is missing")
        if not fname.endswith(".npy") and file_sha256(root / fname) != digest:
            raise ValueError(f"{fname} does not match its checksum")
    arrays = []
    for seg in manifest["segments"]:
        with np.load(root / f"{seg['name']}.npz") as z:
            arrays.append({k: z[k] for k in z.files})
    return manifest, arrays


def _from_cache(cls: type[ArticleIndex], root: Path, config: Config, embedder: Embedder | None,
                snap: Snapshot, read: tuple[dict, list[dict[str, np.ndarray]]] | None) -> ArticleIndex | None:
    from index.units import P_COLS, S_COLS, Batch, DocumentRecord, NoVectors

    if read is None:
        return None
    manifest, seg_arrays = read
    by_code = {d.code: d for d in snap.documents}
    index = cls(config, embedder, root=root, _connect=False)
    unverified: list[Unverified] = []
    for seg, a in zip(manifest["segments"], seg_arrays, strict=True):
        suffix = seg["name"].removeprefix("seg-")
        for kind, table, rows in (("svec", index.sentence_table, len(a["s_doc"])),
                                  ("pvec", index.passage_table, len(a["p_doc"]))):
            vfile = root / f"{kind}-{suffix}.npy"
            mapped = FileRows(vfile, config.dimension)  # a header that does not parse: ValueError
            if mapped.shape[0] != rows:
                raise ValueError(f"{vfile.name} holds {mapped.shape[0]} rows, not {rows}")
            a[f"{kind[0]}_vectors"] = mapped
            if rows:  # an empty file is not kept as a chunk
                unverified.append(Unverified(table, len(table.chunks), vfile.open("rb"),
                                             seg["files"][vfile.name], kind[0]))
        codes = [int(c) for c in a["codes"]]
        if len(codes) != seg["docs"] or any(c not in by_code for c in codes):
            raise ValueError(f"{seg['name']} names articles the store does not have")
        records = [DocumentRecord(by_code[c].doc_id, by_code[c].title, by_code[c].text or "",
                                  by_code[c].content_hash, by_code[c].source) for c in codes]
        index.append_rows(Batch(records, {n: a[f"s_{n}"] for n in S_COLS}, {n: a[f"p_{n}"] for n in P_COLS},
                             a["s_vectors"], a["p_vectors"],
                             {k[3:]: v for k, v in a.items() if k.startswith("ls_")},
                             {k[3:]: v for k, v in a.items() if k.startswith("lp_")}, codes=codes))
    if [len(index.s_cols), len(index.p_cols)] != manifest["rows"]:
        raise ValueError("row counts do not match")
    for code in manifest["dead"]:
        if code in index.by_code:
            index.kill_rows(index.by_code[code], backends=False)
    if is_milvus(config.vector_uri):
        index.sentence_index, index.passage_index = NoVectors(), NoVectors()
    else:
        vf = manifest["vectors"]["files"]
        s_file = next(root / n for n in vf if n.startswith("sentences-"))
        p_file = next(root / n for n in vf if n.startswith("passages-"))
        ann = (config.ann_threshold, config.ann_nprobe)
        index.sentence_index = FaissVectors.load(s_file, index.sentence_table, *ann)
        index.passage_index = FaissVectors.load(p_file, index.passage_table, *ann)
        if (len(index.sentence_index), len(index.passage_index)) != (
                index.live_sentences, int(index.passage_table.alive.sum())):
            raise ValueError("vector index size does not match the live rows")
    index.derived = (manifest["name"], len(index.doc_rows))
    index.unverified = unverified
    return index


@dataclass
class Unverified:
    """A vector file read row by row whose checksum is still to be verified (``file`` is kept
    open, so it can be read even if a later save of another process deletes its name)."""

    table: VectorTable
    chunk: int
    file: BinaryIO
    digest: str
    kind: str  # "s" or "p"


def verify_vectors(index: ArticleIndex) -> list[str]:
    """Verify the checksums of the vector files ``index`` reads rows from (run after open in a
    background thread; tests call it directly). A file that does not match is logged, and the
    vectors of its chunk are replaced by those read from the store (rows of articles removed
    since get zeros: they are dead). Returns the names of the files that did not match."""
    bad = []
    while index.unverified:
        item = index.unverified.pop(0)
        with item.file:
            digest = hashlib.sha256()
            for block in iter(lambda f=item.file: f.read(1 << 24), b""):  # few GIL hand-offs
                digest.update(block)
        if digest.hexdigest() == item.digest:
            continue
        name = Path(item.file.name).name
        bad.append(name)
        log.warning("%s does not match its checksum; its vectors are read from the store", name)
        with index.write_lock, index.lock:
            item.table.replace_chunk(item.chunk, _stored_chunk(index, item))
            index.derived = None  # the next save rewrites the derived files
    return bad


def _stored_chunk(index: ArticleIndex, item: Unverified) -> np.ndarray:
    """The vectors of one chunk's rows, from the store (zeros for articles it no longer has)."""
    table = item.table
    span_rows = table.chunk_rows(item.chunk)
    lo, hi = span_rows.start, span_rows.stop
    out = np.zeros((hi - lo, table.dimension), dtype=np.float32)
    span = "s_lo" if item.kind == "s" else "p_lo"
    docs = [d for d in index.doc_rows if lo <= getattr(d, span) < hi and d.code]
    stored = {d.code: d for d in index.db.blobs([d.code for d in docs])} if docs else {}
    for d in docs:
        doc = stored.get(d.code)
        if doc is None or doc.vectors is None or not doc.intact():
            continue
        s_vecs, p_vecs = unpack_vectors(doc, index.config.dimension)
        first = getattr(d, span) - lo
        vecs = s_vecs if item.kind == "s" else p_vecs
        out[first : first + len(vecs)] = vecs
    return out


def _reconcile(index: ArticleIndex, snap: Snapshot) -> bool:
    """Make the rows held match the snapshot: kill what it removed, read what it added.
    Returns whether the derived files are stale."""
    from index.units import Batch, NoVectors

    removed = {d.code for d in snap.documents if d.removed is not None}
    stale = index.derived is None
    for code in removed:
        pos = index.by_code.get(code)
        if pos is not None and index.doc_rows[pos].alive:
            index.kill_rows(pos)
            stale = True
    missing = [d.code for d in snap.documents if d.removed is None and d.code not in index.by_code]
    if missing:
        docs = index.db.blobs(missing)
        bad = [d.doc_id for d in docs if not d.intact()]
        if bad:
            raise CorruptIndexError(f"article(s) {', '.join(bad[:5])} damaged in the store: "
                                    "run `qa index rebuild`")
        index.append_rows(Batch.of_stored(docs, index.config.dimension))
        stale = True
    index.max_code = max([index.max_code, *(d.code for d in snap.documents)])
    if isinstance(index.sentence_index, NoVectors):  # Milvus: connect, re-fill if it disagrees
        index.sentence_index, index.passage_index = index.new_backends(overwrite=False)
        for table, backend, kind in ((index.sentence_table, index.sentence_index, "s"),
                                     (index.passage_table, index.passage_index, "p")):
            if len(backend) != int(table.alive.sum()):
                backend.reset(table, index.doc_of_rows(kind))
    return stale
