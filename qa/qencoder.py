"""The question's side of dense retrieval: the library's encoder (``index/encoder.py``, fine-tuned
here on both sides) run in the precision chosen for questions (``Config.question_encoder_precision``:
bfloat16 where the CPU has it natively), so a question's vector costs a few milliseconds and lands
in the library's space.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.encoder import MODEL_DIR, NAME, load_encoder, load_tokenizer, pooled, tokenize
from index.weights import loaded_once
from qa.precision import PRECISIONS, apply_precision, input_ranges, resolve_precision

# "auto" where bf16 is not native (AVX2 only, as on many laptops): int8 but the feed-forward
# output layers, which stay float32. Measured 2026-11-27 on a 2-core AMD EPYC with AVX2 only
# (`python -m eval.bench.latency`-style, one process, interleaved): ask p50 over embedding the question
# alone 2.84-3.21x with float32 questions, 2.58-2.87x int8-mixed; dense-only hit@1 of the shipped
# encoder 0.683 -> 0.681 on SQuAD 2.0, seed 0.816 -> 0.842, paraphrase set 0.478 -> 0.457.
FALLBACK = "int8-mixed"


def resolve_question_precision(precision: str) -> str:
    """``Config.question_encoder_precision`` resolved: "auto" is bfloat16 where the CPU has it
    natively, else :data:`FALLBACK`."""
    return resolve_precision(precision, fallback=FALLBACK, setting="question_encoder_precision")


class QuestionEncoder:
    """Unit vectors of questions from the shipped encoder; safe from many threads."""

    def __init__(self, directory: Path = MODEL_DIR, precision: str = "float32") -> None:
        import torch

        precision = resolve_question_precision(precision)
        self.info, self.model = load_encoder(directory)
        self.tokenizer = load_tokenizer()
        self.dimension = int(self.model.config.hidden_size)
        ranges = input_ranges(self.info, directory / f"{NAME}.json")  # eval.train.calibrate_int8
        self.model = apply_precision(self.model, precision, ranges)
        self.precision = precision  # as resolved: never "auto"
        self._torch = torch
        self._lock = threading.Lock()

    def encode(self, questions: list[str], together: bool = True) -> np.ndarray:
        """Unit float32 vectors of ``questions``, in order, shape ``(n, dimension)``; with
        ``together`` false, each in a pass of its own (in int8 without calibrated input ranges,
        each pass's activations are quantized with a scale of their own: each vector is then
        exactly what it is alone; with them, as the shipped encoder has, it is either way)."""
        if not questions:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if not together and len(questions) > 1:
            return np.vstack([self.encode([q]) for q in questions])
        with self._lock:  # a fast tokenizer's padding and truncation settings are shared state
            inputs = tokenize(self.tokenizer, questions)
        with self._torch.inference_mode():
            vecs = pooled(self.model, inputs)
        return np.ascontiguousarray(vecs.float().numpy())


def question_embedder(config: Any, embedder: Any) -> Callable[[list[str]], np.ndarray]:
    """How questions are embedded under ``config``: the shipped encoder in the question
    precision when ``config.question_encoder`` is set, else ``embedder`` (the library's own)."""
    if config.question_encoder:
        return load_question_encoder(precision=config.question_encoder_precision).encode
    return embedder.encode


def load_question_encoder(directory: Path = MODEL_DIR, precision: str = "float32") -> QuestionEncoder:
    """The shipped encoder running in ``precision`` (one of :data:`PRECISIONS`) for questions,
    loaded once per process."""
    precision = resolve_question_precision(precision) if precision in PRECISIONS else precision
    return loaded_once(f"qencoder:{directory}:{precision}", lambda: QuestionEncoder(directory, precision))
