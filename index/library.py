"""(Over 400 lines: the schema and every statement that reads or writes it stay in one file, so
the transaction rules can be checked in one place.)

The store of record: one SQLite database, ``library.sqlite``, in the index directory.

It holds every article (id, title, source, content hash, text), the sentence and passage
offsets it was split into, their vectors, the removals, the configuration and the library's
generation. Everything else in the directory (segments, FAISS files) is derived from it and is
rebuilt from it when stale or damaged.

Why SQLite rather than our own files: a commit is one transaction, several processes are
serialised by its locking (``BEGIN IMMEDIATE`` with a busy timeout) and a crash at any point
leaves the last commit; that is decades of crash testing we would otherwise write ourselves.
The rollback journal (not WAL) keeps a library one file at rest: questions are answered from
memory, so readers never wait on it, and there is no ``-wal`` file whose loss would drop commits.

Removed articles keep a row (id, hash, the generation that removed them) and lose their text,
offsets and vectors: removals are known by id and hash, never by position.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import CorruptIndexError, IndexExistsError, IndexNotFoundError, StorageError

DATABASE = "library.sqlite"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 60_000  # a writer waits this long for another process's commit
S_FIELDS = 4  # sentence rows: index, start, end, paragraph
P_FIELDS = 5  # passage rows: index, start, end, first sentence, last sentence

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    code INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a removed article keeps its code
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text TEXT,                 -- NULL once removed
    n_sentences INTEGER NOT NULL,
    n_passages INTEGER NOT NULL,
    units BLOB,                -- int32 offsets: sentence rows, then passage rows
    vectors BLOB,              -- float32: sentence vectors, then passage vectors
    checksum TEXT,             -- sha256 of units + vectors
    added INTEGER NOT NULL,    -- the generation that added it
    removed INTEGER,           -- the generation that removed it; NULL while it is in the library
    note TEXT NOT NULL DEFAULT ''  -- why it left, when not by a removal (e.g. damaged)
);
CREATE UNIQUE INDEX IF NOT EXISTS live_doc_id ON documents (doc_id) WHERE removed IS NULL;
CREATE INDEX IF NOT EXISTS removed_at ON documents (removed);
CREATE TABLE IF NOT EXISTS details (  -- what a web page says of itself; only when it says it
    code INTEGER PRIMARY KEY REFERENCES documents (code),
    author TEXT NOT NULL,
    published TEXT NOT NULL
);
"""
# Libraries made before ``details`` existed get it when first opened (an additive table: the
# schema number stays, older programs ignore it).
_DETAILS = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS details"):]


@dataclass(slots=True)  # not frozen: 100k of them are made at each open, 2.4x faster so
class StoredDocument:
    """One article row as stored (``units``/``vectors`` only when asked for)."""

    code: int
    doc_id: str
    title: str
    source: str
    content_hash: str
    text: str | None
    n_sentences: int
    n_passages: int
    removed: int | None = None
    units: bytes | None = None
    vectors: bytes | None = None
    checksum: str | None = None

    def intact(self) -> bool:
        """Whether the text matches its hash and the blobs their checksum."""
        if self.text is None or hashlib.sha256(self.text.encode("utf-8")).hexdigest() != self.content_hash:
            return False
        if self.units is None and self.vectors is None:
            return True  # not read: nothing to check
        return blob_checksum(self.units or b"", self.vectors or b"") == self.checksum


def blob_checksum(units: bytes, vectors: bytes) -> str:
    """The sha256 of an article's offsets and vectors blobs, as the store records it."""
    return hashlib.sha256(units + vectors).hexdigest()


def pack_units(s_rows: np.ndarray, p_rows: np.ndarray) -> bytes:
    """Sentence rows (n, 4) and passage rows (m, 5) as one int32 blob."""
    return np.concatenate([np.asarray(s_rows, dtype="<i4").ravel(),
                           np.asarray(p_rows, dtype="<i4").ravel()]).tobytes()


def unpack_units(doc: StoredDocument) -> tuple[np.ndarray, np.ndarray]:
    """An article's sentence and passage offset rows from its blob.

    :raises ValueError: the blob does not hold the rows the article says it has.
    """
    flat = np.frombuffer(doc.units or b"", dtype="<i4").astype(np.int64)
    n_s = doc.n_sentences * S_FIELDS
    if len(flat) != n_s + doc.n_passages * P_FIELDS:
        raise ValueError(f"offsets of {doc.doc_id!r} have the wrong length")
    return flat[:n_s].reshape(-1, S_FIELDS), flat[n_s:].reshape(-1, P_FIELDS)


def unpack_vectors(doc: StoredDocument, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """An article's sentence and passage vectors from its blob.

    :raises ValueError: the blob has the wrong length.
    """
    vecs = np.frombuffer(doc.vectors or b"", dtype="<f4")
    if len(vecs) != (doc.n_sentences + doc.n_passages) * dimension:
        raise ValueError(f"vectors of {doc.doc_id!r} have the wrong length")
    vecs = vecs.reshape(-1, dimension)
    return vecs[: doc.n_sentences], vecs[doc.n_sentences :]


@dataclass(frozen=True)
class Snapshot:
    """What the library held at one generation: every row (blobs not read)."""

    generation: int
    config: str
    documents: list[StoredDocument]


# One article as Writer.insert takes it: doc_id, title, source, content_hash, text,
# n_sentences, n_passages, units blob, vectors blob.
# doc_id, title, source, content_hash, text, n_sentences, n_passages, units, vectors, and
# optionally author and published
NewRow = tuple

# A document row's columns, in StoredDocument's field order (its blobs follow: units, vectors, checksum)
COLUMNS = "code, doc_id, title, source, content_hash, text, n_sentences, n_passages, removed"


def _row(r: tuple) -> StoredDocument:
    return StoredDocument(*r)


class LibraryDB:
    """A connection to ``library.sqlite``, shared by the threads of one process (serialised by
    a lock); other processes have their own and SQLite serialises the writes."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._data_version = -1

    # -- connecting ------------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path) -> LibraryDB:
        """The store of the library in directory ``root``.

        :raises IndexNotFoundError: no ``library.sqlite`` there.
        :raises CorruptIndexError: not a store SQLite can read, or of another schema.
        """
        path = root / DATABASE
        if not path.exists():
            raise IndexNotFoundError(f"no index in {root.name or root}/ (no {DATABASE} in it)")
        if not path.is_file():
            raise CorruptIndexError(f"index store {DATABASE} is not a file: run `qa index rebuild`")
        db = cls(path, _connect(path))
        try:
            version = db.meta("schema")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise CorruptIndexError(
                f"index store {DATABASE} is damaged ({exc}): run `qa index rebuild`") from None
        if version != str(SCHEMA_VERSION):
            db.close()
            raise CorruptIndexError(f"index store {DATABASE} has schema {version}, this program "
                                    f"reads {SCHEMA_VERSION}")
        db._add_details_table()
        return db

    def _add_details_table(self) -> None:
        """Add the ``details`` table to a library made before it (not possible on a read-only
        file: such a library simply has no details)."""
        with self._lock:
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'details'").fetchone():
                return
            with suppress(sqlite3.Error):
                self._conn.executescript(_DETAILS)

    @classmethod
    def create(cls, path: Path, config_json: str) -> LibraryDB:
        """A new, empty store at ``path`` (a file that must not exist yet)."""
        conn = _connect(path)
        try:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # removed texts give their pages back
            conn.executescript(_SCHEMA)
            with conn:
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                 [("schema", str(SCHEMA_VERSION)), ("generation", "0"),
                                  ("config", config_json)])
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"cannot create the index store: {_reason(exc)}") from None
        return cls(path, conn)

    @classmethod
    def create_at(cls, root: Path, config_json: str, rows: Iterable[NewRow]) -> tuple[LibraryDB, list[int]]:
        """A new library in directory ``root`` holding ``rows`` (inserted in order), and the
        code each row got. The file is made under a temporary name, made durable and then
        linked into place, so it never replaces a library (another process may have made one
        meanwhile).

        :raises IndexExistsError: ``root`` already holds a library.
        :raises StorageError: the file could not be written (disk full, read-only).
        """
        from index.files import fsync, fsync_dir

        root.mkdir(parents=True, exist_ok=True)
        final = root / DATABASE
        taken = f"{root.name}/ already holds a library: open it instead"
        if final.exists():
            raise IndexExistsError(taken)
        tmp = root / f"{DATABASE}.new-{os.getpid()}-{threading.get_ident()}"
        tmp.unlink(missing_ok=True)
        try:
            db = cls.create(tmp, config_json)
            with db.writing() as w:
                codes = [w.insert(*row) for row in rows]
            db.close()
            fsync(tmp)
            os.link(tmp, final)  # fails if another process made one meanwhile: never replaced
        except FileExistsError:
            raise IndexExistsError(taken) from None
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(root)
        return cls.open(root), codes

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- reading ---------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (``schema``, ``generation``, ``config``), or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def details(self, codes: list[int]) -> dict[int, tuple[str, str]]:
        """``(author, published)`` of the articles of ``codes`` that have any."""
        out: dict[int, tuple[str, str]] = {}
        with self._lock:
            try:
                for i in range(0, len(codes), 500):
                    part = codes[i : i + 500]
                    out.update((c, (a, p)) for c, a, p in self._conn.execute(
                        f"SELECT code, author, published FROM details WHERE code IN "
                        f"({','.join('?' * len(part))})", part))
            except sqlite3.OperationalError:  # a read-only library made before the table
                return {}
        return out

    def changed(self) -> bool:
        """Whether another connection committed since the last call (``PRAGMA data_version``:
        no file read, so cheap enough to ask before every question). Never waits: while this
        process holds the connection (a write transaction, whose writer syncs what others
        committed before it, or a read), it answers False and the next call looks again. Waiting
        stalled every question for each add's commit and fsync under load."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            changed, self._data_version = version != self._data_version, version
        finally:
            self._lock.release()
        return changed

    def snapshot(self) -> Snapshot:
        """Every row and the generation, read in one transaction (a consistent view)."""
        with self._lock, _reading(self._conn):
            gen = int(self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            config = self._conn.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0]
            # ``removed`` comes from its index: in the table it lies past the blobs, and reading
            # it there would read every overflow page of the file (2 s at 100k articles)
            removed = dict(self._conn.execute(
                "SELECT code, removed FROM documents WHERE removed IS NOT NULL").fetchall())
            docs = [StoredDocument(*r, removed.get(r[0])) for r in self._conn.execute(
                f"SELECT {COLUMNS.removesuffix(', removed')} FROM documents ORDER BY code")]
        return Snapshot(gen, config, docs)

    def since(self, code: int, generation: int) -> tuple[int, list[StoredDocument], list[int]]:
        """What changed after ``generation`` for a reader holding rows up to ``code``: the
        current generation, live rows added since (with blobs) and the codes removed since."""
        with self._lock, _reading(self._conn):
            gen = int(self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            if gen == generation:
                return gen, [], []
            added = self._conn.execute(
                f"SELECT {COLUMNS}, units, vectors, checksum FROM documents "
                "WHERE code > ? AND removed IS NULL ORDER BY code", (code,)).fetchall()
            removed = [r[0] for r in self._conn.execute(
                "SELECT code FROM documents WHERE removed > ? AND code <= ?", (generation, code))]
        return gen, [_row(r) for r in added], removed

    def rows(self, first: int, last: int) -> list[StoredDocument]:
        """Every row with code in ``first..last``, blobs included (repair reads in slices)."""
        with self._lock, _reading(self._conn):
            return [_row(r) for r in self._conn.execute(
                f"SELECT {COLUMNS}, units, vectors, checksum FROM documents "
                "WHERE code BETWEEN ? AND ? ORDER BY code", (first, last))]

    def max_code(self) -> int:
        """The highest article code ever given (codes are never reused)."""
        with self._lock:
            row = self._conn.execute("SELECT max(code) FROM documents").fetchone()
        return int(row[0] or 0)

    def blobs(self, codes: list[int]) -> list[StoredDocument]:
        """The rows of ``codes`` with their offsets and vectors, in code order."""
        out: list[StoredDocument] = []
        with self._lock, _reading(self._conn):
            for i in range(0, len(codes), 500):
                part = codes[i : i + 500]
                marks = ",".join("?" * len(part))
                out += [_row(r) for r in self._conn.execute(
                    f"SELECT {COLUMNS}, units, vectors, checksum FROM documents "
                    f"WHERE code IN ({marks}) ORDER BY code", part)]
        return out

    # -- writing ---------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """One write transaction: ``BEGIN IMMEDIATE`` takes the library's write lock (waiting
        up to the busy timeout for another process); committed when the block ends, rolled
        back if it raises."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot write the library: {_reason(exc)}") from None
            writer = Writer(self._conn)
            try:
                yield writer
                writer.bump()
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(self._conn)
                raise StorageError(f"cannot write the library: {_reason(exc)}") from None
            except BaseException:
                _rollback(self._conn)
                raise
            self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]

    def vacuum(self) -> None:
        """Give the pages of removed texts and vectors back to the file system."""
        with self._lock:
            self._conn.execute("PRAGMA incremental_vacuum")


class Writer:
    """The statements of one write transaction (see :meth:`LibraryDB.writing`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.generation = int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]) + 1
        self._changed = False

    def insert(self, doc_id: str, title: str, source: str, content_hash: str, text: str,
               n_sentences: int, n_passages: int, units: bytes, vectors: bytes,
               author: str = "", published: str = "") -> int:
        """Insert one article with its offsets and vectors blobs (their checksum is computed
        here) and, when the page named them, its author and date.

        :returns: the article's code.
        """
        self._changed = True
        cur = self._conn.execute(
            "INSERT INTO documents (doc_id, title, source, content_hash, text, n_sentences, "
            "n_passages, units, vectors, checksum, added) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (doc_id, title, source, content_hash, text, n_sentences, n_passages, units, vectors,
             blob_checksum(units, vectors), self.generation))
        code = int(cur.lastrowid)
        self.set_details(code, author, published)
        return code

    def set_details(self, code: int, author: str, published: str) -> None:
        """Keep an article's author and date (nothing is kept when both are empty)."""
        if author or published:
            self._conn.execute("INSERT OR REPLACE INTO details VALUES (?, ?, ?)",
                               (code, author, published))

    def remove(self, code: int, note: str = "") -> None:
        """Mark an article removed (its id and hash stay; text and vectors go)."""
        self._changed = True
        self._conn.execute(
            "UPDATE documents SET removed = ?, note = ?, text = NULL, units = NULL, "
            "vectors = NULL, checksum = NULL WHERE code = ? AND removed IS NULL",
            (self.generation, note, code))

    def replace_blobs(self, code: int, n_sentences: int, n_passages: int, units: bytes,
                      vectors: bytes) -> None:
        """New offsets and vectors for an intact text (repair)."""
        self._changed = True
        self._conn.execute(
            "UPDATE documents SET n_sentences = ?, n_passages = ?, units = ?, vectors = ?, "
            "checksum = ? WHERE code = ?",
            (n_sentences, n_passages, units, vectors, blob_checksum(units, vectors), code))

    def restore(self, doc: StoredDocument, note: str = "") -> None:
        """Copy a row salvaged from a damaged store, under its own code (a removed one stays
        removed; ``note`` marks one that cannot be restored)."""
        self._changed = True
        removed = doc.removed if doc.removed is not None else (self.generation if note else None)
        keep = removed is None
        self._conn.execute(
            "INSERT INTO documents (code, doc_id, title, source, content_hash, text, n_sentences, "
            "n_passages, units, vectors, checksum, added, removed, note) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.code, doc.doc_id, doc.title, doc.source, doc.content_hash,
             doc.text if keep else None, doc.n_sentences, doc.n_passages,
             doc.units if keep else None, doc.vectors if keep else None,
             doc.checksum if keep else None, self.generation, removed, note))

    def set_config(self, config_json: str) -> None:
        """Record the configuration the library was built with."""
        self._changed = True
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('config', ?)", (config_json,))

    def bump(self) -> None:
        """Advance the library's generation when this transaction changed anything."""
        if self._changed:
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(self.generation),))


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.OperationalError as exc:  # e.g. permissions
        raise StorageError(f"cannot open the index store {DATABASE}: {_reason(exc)}") from None
    except sqlite3.Error as exc:  # "file is not a database", "malformed"
        raise CorruptIndexError(
            f"index store {DATABASE} is damaged ({_reason(exc)}): run `qa index rebuild`") from None
    return conn


@contextmanager
def _reading(conn: sqlite3.Connection) -> Iterator[None]:
    if conn.in_transaction:  # inside a write: it already sees one consistent state
        yield
        return
    conn.execute("BEGIN")  # deferred: a shared lock from the first read, so one snapshot
    try:
        yield
    finally:
        _rollback(conn)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _reason(exc: sqlite3.Error) -> str:
    """SQLite's message, which names no path (e.g. "database or disk is full")."""
    return str(exc) or type(exc).__name__
