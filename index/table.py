"""The vectors of one table (sentences or passages) by row: in memory, or read from the
derived files row by row; removed rows marked dead, rows never renumbered. The vector search
backends (``index/vectors.py``) index these rows."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Hit:
    """A row of a vector search and its inner-product score."""

    row: int
    score: float


class VectorTable:
    """Unit vectors by row; removed rows are marked dead, rows are never renumbered.

    Rows live in read-only *chunks* (:class:`FileRows` of the derived files: a row is read when
    it is used, so a large library is served without holding every vector in RAM) followed by an
    in-memory *tail* that appends grow in place (capacity grows by a quarter). ``vectors``
    is a view that gathers rows from both; hand-written because numpy has no array made of
    several files and a growing buffer."""

    def __init__(self, dimension: int, vectors: np.ndarray | None = None) -> None:
        self.dimension = dimension
        self._chunks: list[np.ndarray] = []
        self._starts = np.zeros(1, dtype=np.int64)  # first row of each chunk, then of the tail
        self._data = np.zeros((0, dimension), dtype=np.float32)  # the tail's buffer
        self._n = 0
        self.alive = np.zeros(0, dtype=bool)
        if vectors is not None and len(vectors):
            self.append(vectors)

    @property
    def vectors(self) -> Rows:
        """The vectors of every row, dead rows included: ``vectors[row]``, ``vectors[rows]``,
        ``vectors[lo:hi]`` and ``vectors @ q`` as for an array (gathered into a new array)."""
        return Rows(self)

    @property
    def tail_start(self) -> int:
        """The first row held in memory (rows before it are read from files)."""
        return int(self._starts[-1])

    @property
    def chunks(self) -> list[np.ndarray]:
        """The chunks read from files, in row order."""
        return list(self._chunks)

    def chunk_rows(self, i: int) -> range:
        """The rows chunk ``i`` holds."""
        return range(int(self._starts[i]), int(self._starts[i + 1]))

    def replace_chunk(self, i: int, vectors: np.ndarray) -> None:
        """Put ``vectors`` (same shape) in place of chunk ``i``: a damaged derived file re-read
        from the store."""
        if vectors.shape != self._chunks[i].shape:
            raise ValueError("a chunk is replaced by one of the same shape")
        self._chunks[i] = vectors

    def __len__(self) -> int:
        return self._n

    def append(self, vectors: np.ndarray) -> np.ndarray:
        """Append vectors as new live rows. :class:`FileRows` (a derived file being opened)
        become a chunk without being read; anything else is copied into the tail.

        :returns: the new rows' numbers.
        """
        rows = np.arange(self._n, self._n + len(vectors), dtype=np.int64)
        if isinstance(vectors, FileRows) and self._n == self.tail_start and len(vectors):
            if vectors.shape[1] != self.dimension:
                raise ValueError(f"vectors of {vectors.shape[1]} dimensions, not {self.dimension}")
            self._chunks.append(vectors)
            self._n += len(vectors)
            self._starts = np.append(self._starts, self._n)
        else:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
            held, need = self._n - self.tail_start, self._n - self.tail_start + len(vectors)
            if need > len(self._data):
                # Grow by a quarter (plus an eighth of headroom past a big append, such as
                # loading a saved index), so the first add after opening does not copy it all.
                size = max(need + need // 8, len(self._data) * 5 // 4, 64)
                grown = np.zeros((size, self.dimension), dtype=np.float32)
                grown[:held] = self._data[:held]
                self._data = grown
            self._data[held:need] = vectors
            self._n += len(vectors)
        self.alive = np.concatenate([self.alive, np.ones(len(vectors), dtype=bool)])
        return rows

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` (any order, repeats allowed), as a new float32 array."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self._n):
            raise IndexError(f"row out of range 0..{self._n - 1}")
        if not self._chunks:
            return self._data[rows]
        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        where = np.searchsorted(self._starts, rows, side="right") - 1  # chunk of each row
        for c in np.unique(where):
            sel = where == c
            base = self._data if c == len(self._chunks) else self._chunks[c]
            out[sel] = base[rows[sel] - self._starts[c]]
        return out

    def kill(self, rows: np.ndarray) -> None:
        """Mark rows dead (their vectors stay: rows are never renumbered)."""
        self.alive[rows] = False

    def live_rows(self) -> np.ndarray:
        """The numbers of the live rows."""
        return np.flatnonzero(self.alive)

    def exact(self, query: np.ndarray, k: int, rows: np.ndarray) -> list[Hit]:
        """Exact top ``k`` among ``rows`` (brute force: used for small document filters)."""
        rows = rows[self.alive[rows]]
        if not len(rows) or k <= 0:
            return []
        scores = self.take(rows) @ query
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [Hit(int(rows[i]), float(scores[i])) for i in top]


class FileRows:
    """Float32 rows of an ``.npy`` file, read with ``os.pread`` when asked for: no copy in memory
    and no mapping (a memory map would count every page the kernel maps around a touched row
    in the process's RSS: up to the whole file after a few hundred asks at 100k articles).
    Hand-written: numpy's memmap is that mapping; here a row costs one system call.

    :raises ValueError: the file is not a 2-d float32 ``.npy`` array of ``dimension`` columns.
    """

    def __init__(self, path: Path, dimension: int) -> None:
        with path.open("rb") as fh:
            fmt = np.lib.format
            version = fmt.read_magic(fh)
            header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
            if header is None:
                raise ValueError(f"{path.name}: .npy version {version} is not read here")
            shape, fortran, dtype = header(fh)
            self._offset = fh.tell()
        if len(shape) != 2 or shape[1] != dimension or dtype != np.float32 or fortran:
            raise ValueError(f"{path.name} holds {shape} {dtype}, not rows of {dimension} float32")
        self.path, self.shape, self.dtype = path, (int(shape[0]), dimension), np.dtype(np.float32)
        self._fd = os.open(path, os.O_RDONLY)  # kept open: a later save may delete the name
        self._row_bytes = dimension * 4
        if os.fstat(self._fd).st_size != self._offset + self.shape[0] * self._row_bytes:
            os.close(self._fd)
            raise ValueError(f"{path.name} is not as long as its header says")

    def __len__(self) -> int:
        return self.shape[0]

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._fd)

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` (one read)."""
        data = os.pread(self._fd, (hi - lo) * self._row_bytes, self._offset + lo * self._row_bytes)
        if len(data) != (hi - lo) * self._row_bytes:
            raise OSError(f"{self.path.name}: short read")
        return np.frombuffer(data, dtype=np.float32).reshape(hi - lo, self.shape[1])

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        view, size, fd, base = memoryview(out).cast("B"), self._row_bytes, self._fd, self._offset
        for j, r in enumerate(rows.tolist()):  # one system call a row, straight into ``out``
            if os.preadv(fd, [view[j * size : (j + 1) * size]], base + r * size) != size:
                raise OSError(f"{self.path.name}: short read")
        return out

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        """Every row times ``other``, 65,536 rows at a time."""
        return np.concatenate([self.read(lo, min(lo + 65536, len(self))) @ other
                               for lo in range(0, len(self), 65536)] or [np.zeros(0, np.float32)])


class Rows:
    """Array-like access to a :class:`VectorTable`'s rows (see ``VectorTable.vectors``)."""

    def __init__(self, table: VectorTable) -> None:
        self._table = table

    def __len__(self) -> int:
        return len(self._table)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, dimension)."""
        return (len(self._table), self._table.dimension)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            return self._table.take(np.arange(*key.indices(len(self._table))))
        if np.ndim(key) == 0:
            return self._table.take(np.asarray([int(key)]))[0]
        return self._table.take(np.asarray(key))

    def copy(self) -> np.ndarray:
        """Every row, as a new array."""
        return self[:]

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        """Every row times ``other``, a chunk at a time (never all rows in memory at once)."""
        t = self._table
        parts = [c @ other for c in t._chunks] + [t._data[: len(t) - t.tail_start] @ other]
        return np.concatenate(parts)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)
