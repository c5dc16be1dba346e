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

import math
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from index.errors import ConfigError
from index.table import Hit, VectorTable

# IVF-PQ needs enough vectors to train 256 codes per sub-quantizer; below this, exact it is.
MIN_ANN_VECTORS = 1024


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
