"""``qa index rebuild``: restore every intact article, report each damaged one, bring nothing back.

Three cases, in order:

* The store (``library.sqlite``) reads: every article whose text matches its hash is kept; one
  whose offsets or vectors are damaged is split and embedded again; one whose text is damaged
  is marked removed with a note and reported by id. The derived files are re-made from it.
* The store is damaged past what SQLite reads: a copy is kept beside it
  (``library.sqlite.damaged-<time>``), the rows that still read are copied, under their own
  codes and removal marks, into a new store that replaces it; unreadable rows are reported.
* A library of the previous format (``manifest.json`` + ``seg-*.jsonl``, or ``texts.jsonl``):
  re-made from its stored texts, without the ones its manifest lists as removed.

A library whose vectors came from another model is embedded again by the first case, on open
(:func:`embed_again`) or by ``qa index rebuild``.

Nothing is deleted before its replacement is durable (fsynced and renamed into place).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.cache import open_index, write
from index.config import Config
from index.errors import CorruptIndexError, IndexNotFoundError, InvalidDocumentError
from index.files import CONFIG, MANIFEST, content_hash, fsync, fsync_dir, read_manifest
from index.library import (
    COLUMNS,
    DATABASE,
    LibraryDB,
    StoredDocument,
    pack_units,
    unpack_units,
    unpack_vectors,
)
from index.units import DocumentRecord

if TYPE_CHECKING:
    from index.embed import Embedder
    from index.units import IndexRows as ArticleIndex  # the store's index, as repair sees it

log = logging.getLogger("qa")

# Probing a damaged store row by row stops after this many codes in a row that do not read.
PROBE_GAP = 2000


def rebuild(cls: type[ArticleIndex], root: Path, embedder: Embedder | None
            ) -> tuple[ArticleIndex, list[str], list[str]]:
    """Repair the library in ``root`` (``qa index rebuild``): see the module's docstring.

    :returns: the repaired index, the ids restored, and one line per problem found.
    :raises IndexNotFoundError: ``root`` is not a directory or holds no library.
    """
    if not root.is_dir():
        raise IndexNotFoundError(f"no index in {root.name}/ (not a directory)")
    store = root / DATABASE
    if store.exists() or store.is_symlink():
        if not store.is_file():
            raise CorruptIndexError(f"cannot rebuild {root.name}/: {DATABASE} is not a file, and "
                                    "the articles were in it")
        return _repair_store(cls, root, embedder)
    if any((root / n).exists() for n in (MANIFEST, "texts.jsonl")) or any(root.glob("seg-*.jsonl")):
        return _upgrade(cls, root, embedder)
    raise IndexNotFoundError(f"no index in {root.name}/ (no {DATABASE} in it)")


def embed_again(cls: type[ArticleIndex], root: Path, embedder: Embedder | None,
                 config: Config) -> ArticleIndex:
    """A library whose vectors came from another model (the bundled all-MiniLM-L6-v2, before the
    encoder fine-tuned here), upgraded on open: every article embedded again from its stored
    text, as ``qa index rebuild`` does (:func:`rebuild`; nothing is removed before its
    replacement is durable). Where the library cannot be written, one clear error."""
    now = Config().model_name
    log.warning("qa: %s/ was embedded with %s; embedding it again with %s (once)", root.name,
                config.model_name, now)
    try:
        index, _, problems = rebuild(cls, root, embedder)
    except (OSError, sqlite3.Error) as exc:
        raise CorruptIndexError(
            f"index in {root.name}/ was embedded with {config.model_name} ({config.dimension} "
            f"dimensions), this program uses {now}, and it could not be embedded again here "
            f"({type(exc).__name__}): run `qa index rebuild` where it can be written") from None
    for problem in problems:
        log.warning("qa: %s/: %s", root.name, problem)
    return index


def _repair_store(cls: type[ArticleIndex], root: Path, embedder: Embedder | None
                  ) -> tuple[ArticleIndex, list[str], list[str]]:

    problems: list[str] = []
    db: LibraryDB | None = None
    try:
        db = LibraryDB.open(root)
        rows = _read_all(db)
        config_text = db.meta("config") or "{}"
    except (CorruptIndexError, sqlite3.DatabaseError) as exc:
        if db is not None:
            db.close()
        rows, config_text, details = _salvage(root, problems, str(exc))
        db = None
    config = _current(config_text)
    other_model = _model(config_text) != (config.model_name, config.dimension)
    fixes: dict[int, tuple[int, int, bytes, bytes]] = {}
    damaged: list[tuple[StoredDocument, str]] = []
    for doc in rows:
        if doc.removed is not None:
            continue
        if doc.text is None or content_hash(doc.text) != doc.content_hash:
            damaged.append((doc, "damaged: its text does not match its hash"))
            continue
        if other_model:  # vectors of another model: every article is embedded again
            fixes[doc.code] = _reembed(doc, config, embedder)
            continue
        try:
            unpack_units(doc)
            unpack_vectors(doc, config.dimension)
            if not doc.intact():
                raise ValueError("checksum")
        except ValueError:
            fixes[doc.code] = _reembed(doc, config, embedder)
            problems.append(f"{doc.doc_id}: offsets or vectors damaged; split and embedded again")
    for doc, note in damaged:
        problems.append(f"{doc.doc_id}: {note}; not restored")
    if db is None:
        db = _replace_store(root, rows, damaged, fixes, config, details)
    elif fixes or damaged or config.to_json() != config_text:
        with db.writing() as w:
            for doc, note in damaged:
                w.remove(doc.code, note)
            for code, (n_s, n_p, units, vecs) in fixes.items():
                w.replace_blobs(code, n_s, n_p, units, vecs)
            w.set_config(config.to_json())
    db.close()
    index = open_index(cls, root, embedder, use_cache=False, other_model=embed_again)
    assert index.db is not None
    with index.write_lock, index.db.writing(), index.lock:
        write(index, root)
    restored = sorted(index.documents)
    log.warning("qa: rebuilt %s/: %d article(s) restored, %d not", root.name, len(restored), len(damaged))
    return index, restored, problems


def _read_all(db: LibraryDB) -> list[StoredDocument]:
    rows: list[StoredDocument] = []
    top = db.max_code()
    for first in range(1, top + 1, 500):
        rows += db.rows(first, first + 499)
    return rows


def _salvage(root: Path, problems: list[str], reason: str
             ) -> tuple[list[StoredDocument], str, dict[int, tuple[str, str]]]:
    """The rows of a damaged store that still read, its config and the articles' details
    that still read (a copy of it is kept first)."""
    store = root / DATABASE
    kept = root / f"{DATABASE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.copy2(store, kept)
    fsync(kept)
    problems.append(f"{DATABASE} damaged ({reason}); a copy was kept as {kept.name}")
    rows: dict[int, StoredDocument] = {}
    config_text = "{}"
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    except sqlite3.Error:
        return [], config_text, {}
    details: dict[int, tuple[str, str]] = {}
    with contextlib.suppress(sqlite3.Error):
        details = {c: (a, p) for c, a, p in conn.execute("SELECT code, author, published FROM details")}
    select = f"SELECT {COLUMNS}, units, vectors, checksum FROM documents"
    with contextlib.suppress(sqlite3.Error, TypeError):
        config_text = conn.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0]
    try:
        rows = {r[0]: StoredDocument(*r) for r in conn.execute(select)}
    except sqlite3.Error:
        top = None
        with contextlib.suppress(sqlite3.Error, TypeError):
            top = int(conn.execute("SELECT seq FROM sqlite_sequence WHERE name='documents'").fetchone()[0])
        code, misses, unreadable = 1, 0, []
        while (code <= top) if top is not None else misses < PROBE_GAP:
            try:
                r = conn.execute(f"{select} WHERE code = ?", (code,)).fetchone()
            except sqlite3.Error:
                r = None
                unreadable.append(code)
            if r is None:
                misses += 1
            else:
                rows[code], misses = StoredDocument(*r), 0
            code += 1
        last = top if top is not None else max(rows, default=0)
        lost = [c for c in unreadable if c <= last]
        if lost:
            problems.append(f"{len(lost)} row(s) of {DATABASE} unreadable (codes {lost[0]}..{lost[-1]})")
        elif not rows:
            problems.append(f"no row of {DATABASE} could be read")
    conn.close()
    return [rows[c] for c in sorted(rows)], config_text, details


def _replace_store(root: Path, rows: list[StoredDocument], damaged: list[tuple[StoredDocument, str]],
                   fixes: dict[int, tuple[int, int, bytes, bytes]], config: Config,
                   details: dict[int, tuple[str, str]]) -> LibraryDB:
    """A new store holding the salvaged rows, renamed over the damaged one (whose copy is kept)."""
    from dataclasses import replace

    from index.library import blob_checksum

    tmp = root / f"{DATABASE}.rebuilt"
    tmp.unlink(missing_ok=True)
    db = LibraryDB.create(tmp, config.to_json())
    notes = {doc.code: note for doc, note in damaged}
    with db.writing() as w:
        for doc in rows:
            if doc.code in fixes:
                n_s, n_p, units, vecs = fixes[doc.code]
                doc = replace(doc, n_sentences=n_s, n_passages=n_p, units=units, vectors=vecs,
                              checksum=blob_checksum(units, vecs))
            w.restore(doc, notes.get(doc.code, ""))
            if doc.code in details and doc.code not in notes and doc.removed is None:
                w.set_details(doc.code, *details[doc.code])
    db.close()
    fsync(tmp)
    journal = root / f"{DATABASE}-journal"
    if journal.exists():  # belongs to the damaged store: it must not be applied to the new one
        journal.rename(root / f"{DATABASE}.damaged-journal-{int(time.time())}")
    os.replace(tmp, root / DATABASE)
    fsync_dir(root)
    return LibraryDB.open(root)


def _reembed(doc: StoredDocument, config: Config, embedder: Embedder | None) -> tuple[int, int, bytes, bytes]:
    from index.embed import Embedder
    from index.split import make_passages, split_sentences

    assert doc.text is not None
    sentences = split_sentences(doc.doc_id, doc.text)
    passages = make_passages(sentences, doc.text, config.passage_sentences, config.passage_overlap)
    vecs = (embedder or Embedder()).encode([u.text for u in sentences] + [u.text for u in passages])
    s_rows = np.asarray([(u.index, u.start, u.end, u.paragraph) for u in sentences], dtype=np.int64)
    p_rows = np.asarray([(u.index, u.start, u.end, u.first_sentence, u.last_sentence) for u in passages],
                        dtype=np.int64)
    return len(sentences), len(passages), pack_units(s_rows, p_rows), np.asarray(vecs, dtype="<f4").tobytes()


def _model(config_text: str) -> tuple[str, int] | None:
    try:
        config = Config.from_dict(json.loads(config_text))
    except (ValueError, TypeError, AttributeError):
        return None
    return config.model_name, config.dimension


def _current(config_text: str) -> Config:
    """The stored splitter settings with this program's model and version."""
    from dataclasses import replace

    try:
        config = Config.from_dict(json.loads(config_text))
    except (ValueError, TypeError, AttributeError):
        config = Config()
    current = Config()
    return replace(config, model_name=current.model_name, dimension=current.dimension,
                   version=current.version)


# -- the previous format ---------------------------------------------------------------------
def _upgrade(cls: type[ArticleIndex], root: Path, embedder: Embedder | None
             ) -> tuple[ArticleIndex, list[str], list[str]]:
    try:
        config_text = (root / CONFIG).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        config_text = "{}"
    config = _current(config_text)
    records, problems = _stored_texts(root)
    if not records:
        raise CorruptIndexError(f"cannot rebuild {root.name}/: no readable source texts "
                                f"({'; '.join(problems) or 'none found'})")
    fresh = cls(config, embedder, root=root)
    for r in records:
        try:
            fresh.add_document(r.text, doc_id=r.doc_id, title=r.title, source=r.source)
        except InvalidDocumentError as exc:
            problems.append(f"{r.doc_id}: {exc}")
    fresh.save(root)  # the new store is durable before the old files go
    for f in [root / MANIFEST, root / "texts.jsonl", root / "docstore.json", *root.glob("seg-*.jsonl")]:
        f.unlink(missing_ok=True)
    return fresh, sorted(fresh.documents), problems


def _stored_texts(root: Path) -> tuple[list[DocumentRecord], list[str]]:
    """Every readable stored document of the previous format, minus those its manifest says
    were removed (that format tracked removals by position: without a readable manifest, removed
    articles may return, and the problems say so)."""
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
