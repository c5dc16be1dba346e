"""The question encoder: the question's side of dense retrieval, fine-tuned for questions.

The library's sentences and passages keep the vectors of the bundled all-MiniLM-L6-v2 (nothing
is re-embedded); only the question's vector comes from this copy of the same encoder, fine-tuned
by ``python -m eval.train_qencoder`` on SQuAD v1.1 train articles so that a question lands near
the sentence that answers it rather than near sentences that look like it (an asymmetric dual
encoder with a frozen document side). Same architecture and pooling as the bundled model (mean
of the last layer's tokens, unit length), so its vectors live in the library's space.

The weights ship in ``qa/models/qencoder.safetensors`` without the word-embedding matrix (frozen
in training, read from the bundled package), in half precision; ``qencoder.json`` records the
settings and a fixed question with the first values of its vector when saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.embed import bundled_model_path, load_fine_tuned, loaded_once, shipped_files
from qa.precision import PRECISIONS, apply_precision, resolve_precision

MODEL_DIR = Path(__file__).parent / "models"
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
MAX_TOKENS = 64


def build_encoder(pretrained: bool = True) -> Any:
    """The bundled encoder as a ``BertModel`` (no pooler): its pretrained weights (for
    training), or empty on torch's "meta" device, to be filled by ``load_state_dict(...,
    assign=True)`` (to load trained weights quickly)."""
    import torch
    from transformers import AutoConfig, AutoModel, logging

    logging.set_verbosity_error()
    path = bundled_model_path()
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    if not pretrained:
        with torch.device("meta"):
            return AutoModel.from_config(config, add_pooling_layer=False)
    return AutoModel.from_pretrained(path, config=config, add_pooling_layer=False, local_files_only=True)


def pooled(model: Any, inputs: dict[str, Any]) -> Any:
    """Unit-length mean of the last layer's token vectors (the bundled model's own pooling):
    the one forward used in training and in serving."""
    import torch

    hidden = model(**inputs).last_hidden_state.float()  # pooled in float32 whatever it ran in
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


def tokenize(tokenizer: Any, questions: list[str]) -> dict[str, Any]:
    """Token ids of ``questions`` (cut to ``MAX_TOKENS``), as torch tensors."""
    return dict(tokenizer(questions, truncation=True, max_length=MAX_TOKENS, padding=True,
                          return_tensors="pt"))


class QuestionEncoder:
    """Unit vectors of questions from the shipped question encoder; safe from many threads."""

    def __init__(self, directory: Path = MODEL_DIR, name: str = "qencoder",
                 precision: str = "float32") -> None:
        import torch
        from transformers import AutoTokenizer

        precision = resolve_precision(precision, setting="question_encoder_precision")
        self.info, weights_path = shipped_files(directory, name, "question encoder",
                                                "python -m eval.train_qencoder")
        self.tokenizer = AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)
        self.model = build_encoder(pretrained=False)
        load_fine_tuned(self.model, weights_path, WORD_EMBEDDINGS, "question encoder")
        self.dimension = int(self.model.config.hidden_size)
        self.model = apply_precision(self.model, precision)
        self.precision = precision  # as resolved: never "auto"
        self._torch = torch
        self._lock = threading.Lock()

    def encode(self, questions: list[str]) -> np.ndarray:
        """Unit float32 vectors of ``questions``, in order, shape ``(n, dimension)``."""
        if not questions:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # a fast tokenizer's padding and truncation settings are shared state
            inputs = tokenize(self.tokenizer, questions)
        with self._torch.inference_mode():
            vecs = pooled(self.model, inputs)
        return np.ascontiguousarray(vecs.float().numpy())


def question_embedder(config: Any, embedder: Any) -> Callable[[list[str]], np.ndarray]:
    """How questions are embedded under ``config``: the shipped question encoder when
    ``config.question_encoder`` is set, else ``embedder`` (the library's own model)."""
    if config.question_encoder:
        return load_question_encoder(precision=config.question_encoder_precision).encode
    return embedder.encode


def load_question_encoder(directory: Path = MODEL_DIR, name: str = "qencoder",
                          precision: str = "float32") -> QuestionEncoder:
    """The shipped question encoder running in ``precision`` (one of :data:`PRECISIONS`), loaded
    once per process."""
    precision = resolve_precision(precision) if precision in PRECISIONS else precision
    return loaded_once(f"qencoder:{directory / name}:{precision}",
                       lambda: QuestionEncoder(directory, name, precision))
