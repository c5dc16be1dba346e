"""Embedding texts offline, each model loaded once per process: the library's encoder
(``index/encoder.py``, all-MiniLM-L6-v2 fine-tuned here) by default, or a sentence-transformers
model such as the bundled all-MiniLM-L6-v2 itself (training's hard negatives, baselines)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

import numpy as np

from index.weights import bundled_model_path, loaded_once

__all__ = ["BUNDLED_NAME", "CachedEmbedder", "Embedder", "bundled_model_path", "llama_embedding",
           "load_model"]

def load_model(path: str | None = None) -> Any:
    """The SentenceTransformer at ``path`` (default: the bundled model), loaded once."""
    path = path or bundled_model_path()

    def make() -> Any:
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        return SentenceTransformer(path, device="cpu", local_files_only=True)

    return loaded_once(path, make)


BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what libraries embedded with it record


class Embedder:
    """Unit-length float32 embeddings; cosine similarity is then an inner product. By default
    from the library's encoder (``index/encoder.py``); with ``model_path``, from the
    sentence-transformers model there (``bundled_model_path()``: the bundled model)."""

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._encode_lock = threading.Lock()
        if model_path is None:
            from index.config import shipped_encoder_name
            from index.encoder import TEXT_TOKENS, pooled, shipped_encoder, tokenize

            _, model, tokenizer = shipped_encoder()
            self.model_name = shipped_encoder_name()  # ends in its weights' checksum
            self.dimension = int(model.config.hidden_size)
            self._tokenize = lambda texts: tokenize(tokenizer, texts, TEXT_TOKENS)
            self._forward = lambda features: pooled(model, features)
            return
        import torch

        st = load_model(model_path)
        self.model_name = BUNDLED_NAME if model_path == bundled_model_path() else model_path
        self.dimension = int(st.get_embedding_dimension())
        self._tokenize = st.preprocess
        self._forward = lambda features: torch.nn.functional.normalize(
            st(features)["sentence_embedding"], p=2, dim=1)

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Unit vectors of ``texts``, in order. Batches of similar length; the lock is held only
        to tokenize one batch (a fast tokenizer's settings are shared state), so a question's
        embedding never waits for a long article's, and forward passes run side by side."""
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Embedding", unit="batch")
        for lo in starts:
            idx = order[lo : lo + self.batch_size]
            with self._encode_lock:
                features = self._tokenize([texts[i] for i in idx])
            with torch.inference_mode():
                out[idx] = self._forward(features).float().numpy()
        return np.ascontiguousarray(out)

    def encode_one(self, text: str) -> np.ndarray:
        """The unit-length vector of one text."""
        return self.encode([text])[0]


def llama_embedding(embedder: Embedder) -> Any:
    """A LlamaIndex ``BaseEmbedding`` over the same loaded model (for LlamaIndex pipelines)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Ours(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.encode_one(query).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.encode_one(text).tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return _Ours(model_name=embedder.model_name, embed_batch_size=embedder.batch_size)


class CachedEmbedder(Embedder):
    """An Embedder that remembers vectors by model and content hash in a ``.npz`` file, so
    benchmark and training runs embed each distinct text once across runs (and a vector of
    another model is never taken for this one's)."""

    def __init__(self, cache_path: str | os.PathLike[str], model_path: str | None = None) -> None:
        super().__init__(model_path)
        self.cache_path = os.fspath(cache_path)
        self._cache: dict[str, np.ndarray] = {}
        if os.path.exists(self.cache_path):
            with np.load(self.cache_path) as data:
                self._cache = dict(zip(data["keys"].tolist(), data["vectors"]))
        self._dirty = False

    def key(self, text: str) -> str:
        """The cache key of a text: sha1 of this model's name (the shipped encoder's ends in its
        weights' checksum) and the text's UTF-8."""
        return hashlib.sha1(f"{self.model_name}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()

    def __contains__(self, text: str) -> bool:
        return self.key(text) in self._cache

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Vectors of ``texts``, embedding only those not cached yet."""
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            by_key = dict(zip(keys, texts))
            fresh = super().encode([by_key[k] for k in missing], show_progress)
            self._cache.update(zip(missing, fresh))
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache file if anything was added to it."""
        if not self._dirty:
            return
        os.makedirs(os.path.dirname(self.cache_path) or ".", exist_ok=True)
        tmp = self.cache_path + ".tmp.npz"
        keys = list(self._cache)
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._cache[k] for k in keys]))
        os.replace(tmp, self.cache_path)
        self._dirty = False
