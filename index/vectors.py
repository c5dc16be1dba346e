"""Vector search over one table of unit vectors (sentences or passages); ids are table rows.

Two backends, chosen by ``Config.vector_uri``:

* FAISS (the default, embedded): exact ``IndexFlatIP`` while the table is small; past
  ``Config.ann_threshold`` live vectors it becomes an ``IndexIVFPQ`` whose candidates are
  re-scored exactly from the stored vectors. Both take additions and removals in place
  (``add_with_ids`` / ``remove_ids``); the switch trains once, it is not repeated per change.
* Milvus, through LlamaIndex's ``MilvusVectorStore``: a ``.db`` path is Milvus Lite (embedded,
  a file in the index directory), ``http://host:19530`` is a Milvus server or cluster.

The raw vectors stay in the index's own table either way: the re-ranker's features read the
vectors of candidate rows, and a FAISS index can be re-made from them without re-embedding.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from index.errors import ConfigError

# IVF-PQ needs enough vectors to train 256 codes per sub-quantizer; below this, exact it is.
MIN_ANN_VECTORS = 1024


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
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        # runs of adjacent rows are read together (a slice of the file is one read)
        breaks = np.flatnonzero(np.diff(sorted_rows) > 1) + 1
        for run in np.split(np.arange(len(rows)), breaks):
            lo, hi = int(sorted_rows[run[0]]), int(sorted_rows[run[-1]]) + 1
            block = self.read(lo, hi)
            out[order[run]] = block[sorted_rows[run] - lo]
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


class VectorBackend(Protocol):
    """What the index needs of a vector search: rows in, rows out, nearest rows to a query
    (FAISS in the index directory, or a Milvus collection).
    """

    kind: str

    def add(self, rows: np.ndarray, vectors: np.ndarray, doc_ids: list[str]) -> None:
        """Add the vectors of ``rows`` (``doc_ids``: each row's document, for filtering)."""

    def remove(self, rows: np.ndarray) -> None:
        """Remove ``rows``."""

    def search(self, query: np.ndarray, k: int, rows: np.ndarray | None = None,
               doc_ids: list[str] | None = None) -> list[Hit]:
        """The ``k`` rows nearest ``query``, best first; only among ``rows``/``doc_ids`` when given."""

    def __len__(self) -> int: ...


class FaissVectors:
    """FAISS with row ids. Exact while small, IVF-PQ plus exact re-scoring once large.

    LlamaIndex's ``FaissVectorStore`` keeps FAISS's positional ids and cannot delete, and it
    ignores filters; ids, removal and selectors are FAISS's own, so they are used directly."""

    def __init__(self, table: VectorTable, ann_threshold: int, nprobe: int = 32,
                 index: faiss.Index | None = None) -> None:
        self.table = table
        self.ann_threshold = ann_threshold
        self.nprobe = nprobe
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(table.dimension))
        self.kind = "ivfpq" if faiss.try_extract_index_ivf(self.index) is not None else "flat"
        if self.kind == "ivfpq":
            faiss.extract_index_ivf(self.index).nprobe = nprobe

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, rows: np.ndarray, vectors: np.ndarray, doc_ids: list[str] | None = None) -> None:
        """Add the vectors of ``rows`` under their row numbers."""
        if len(rows):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(rows, dtype=np.int64))
        if self.kind == "flat" and len(self) >= max(self.ann_threshold, MIN_ANN_VECTORS):
            self.index = build_ivfpq(self.table, self.nprobe)
            self.kind = "ivfpq"

    def remove(self, rows: np.ndarray) -> None:
        """Remove ``rows`` from the FAISS index."""
        if len(rows):
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int, rows: np.ndarray | None = None,
               doc_ids: list[str] | None = None) -> list[Hit]:
        """The ``k`` live rows nearest ``query`` (inner product), best first; only among ``rows``
        when given.
        """
        k = min(k, len(self))
        if k <= 0:
            return []
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        sel = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64)) if rows is not None else None
        if self.kind == "flat":
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
            scores, ids = self.index.search(q, k, params=params)
            return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        # IVF-PQ scores are approximate: fetch more, re-score exactly from the stored vectors.
        params = faiss.SearchParametersIVF(nprobe=self.nprobe, sel=sel)
        _, ids = self.index.search(q, min(max(10 * k, 100), len(self)), params=params)
        found = ids[0][ids[0] >= 0]
        return self.table.exact(query, k, found)

    def save(self, path: Path) -> None:
        """Write the FAISS index to ``path``."""
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, table: VectorTable, ann_threshold: int, nprobe: int) -> FaissVectors:
        """A FAISS index read from ``path`` over ``table``'s rows."""
        return cls(table, ann_threshold, nprobe, faiss.read_index(str(path)))


def build_ivfpq(table: VectorTable, nprobe: int = 32, m: int = 48, seed: int = 0) -> faiss.Index:
    """An IVF-PQ index over the live rows of ``table``: about 2·sqrt(n) lists (at most 4096),
    ``m`` bytes per vector, trained on at most 64 vectors per list (seconds, not minutes, on two
    cores). Later additions are encoded with these centroids, without training again."""
    rows = table.live_rows()
    nlist = min(4096, max(16, 2 ** round(math.log2(2 * math.sqrt(max(len(rows), 1))))))
    d = table.dimension
    m = next(x for x in range(min(m, d // 4), 0, -1) if d % x == 0)  # PQ needs m | d
    quantizer = faiss.IndexFlatIP(table.dimension)
    # 8-bit codes need 256 training vectors; a tiny table (only ever built by the scale
    # benchmark, the engine switches at MIN_ANN_VECTORS) gets fewer bits.
    nbits = max(1, min(8, int(math.log2(max(len(rows), 2)))))
    index = faiss.IndexIVFPQ(quantizer, table.dimension, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = rows if len(rows) <= 64 * nlist else rng.choice(rows, 64 * nlist, replace=False)
    index.train(np.ascontiguousarray(table.vectors[np.sort(sample)]))
    for lo in range(0, len(rows), 65536):
        part = rows[lo : lo + 65536]
        index.add_with_ids(np.ascontiguousarray(table.vectors[part]), part)
    index.nprobe = nprobe
    return index


class MilvusVectors:
    """A Milvus collection through LlamaIndex's ``MilvusVectorStore``; node ids are rows."""

    kind = "milvus"

    def __init__(self, uri: str, collection: str, dimension: int, overwrite: bool = False) -> None:
        self.uri, self.collection, self.dimension = uri, collection, dimension
        try:
            self.store = self._connect(overwrite)
        except Exception as exc:  # pymilvus raises its own kinds; the user sees one line
            where = Path(uri).name if uri.endswith(".db") else uri
            raise ConfigError(f"cannot open the Milvus vector store {where}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    def _connect(self, overwrite: bool):
        from llama_index.vector_stores.milvus import MilvusVectorStore

        return MilvusVectorStore(uri=self.uri, collection_name=self.collection, dim=self.dimension,
                                 overwrite=overwrite, similarity_metric="IP")

    def __len__(self) -> int:
        return int(self.store.client.get_collection_stats(self.collection)["row_count"])

    def add(self, rows: np.ndarray, vectors: np.ndarray, doc_ids: list[str]) -> None:
        """Add the vectors of ``rows`` as nodes whose id is the row and metadata the document."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        nodes = []
        for row, vec, doc in zip(rows, vectors, doc_ids):
            node = TextNode(id_=str(int(row)), text="", embedding=vec.tolist(), metadata={"doc": doc})
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
            nodes.append(node)
        for lo in range(0, len(nodes), 2000):
            self.store.add(nodes[lo : lo + 2000])

    def remove(self, rows: np.ndarray) -> None:
        """Delete the nodes of ``rows``."""
        if len(rows):
            self.store.delete_nodes(node_ids=[str(int(r)) for r in rows])

    def search(self, query: np.ndarray, k: int, rows: np.ndarray | None = None,
               doc_ids: list[str] | None = None) -> list[Hit]:
        """The ``k`` rows nearest ``query``, best first; only those of ``doc_ids`` when given
        (a Milvus metadata filter).
        """
        from llama_index.core.vector_stores.types import (
            FilterOperator,
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        filters = None
        if doc_ids is not None:
            filters = MetadataFilters(filters=[MetadataFilter(key="doc", value=list(doc_ids),
                                                              operator=FilterOperator.IN)])
        result = self.store.query(VectorStoreQuery(query_embedding=query.tolist(),
                                                   similarity_top_k=k, filters=filters))
        return [Hit(int(i), float(s)) for i, s in zip(result.ids or [], result.similarities or [])]

    def reset(self, table: VectorTable, doc_of_row: list[str]) -> None:
        """Make the collection hold exactly the live rows of ``table`` (after a crash)."""
        self.store = self._connect(overwrite=True)
        rows = table.live_rows()
        self.add(rows, table.vectors[rows], [doc_of_row[r] for r in rows])


def is_milvus(uri: str) -> bool:
    """Whether a ``Config.vector_uri`` names Milvus (a ``.db`` file or a server address)."""
    return bool(uri) and (uri.endswith(".db") or uri.startswith(("http://", "https://", "tcp://")))


def milvus_uri(uri: str, root: Path) -> str:
    """A Milvus Lite path relative to the index directory, or a server address as given."""
    if uri.endswith(".db") and not Path(uri).is_absolute():
        return str(root / uri)
    return uri
