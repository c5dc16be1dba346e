"""The reading model: for a question and a few candidate sentences, where the short answer lies
in each sentence and how much more likely "the answer is here" is than "no answer here".

A span-extraction head (start/end logits, the [CLS] position meaning "no answer", as SQuAD 2.0
readers are trained) on the bundled all-MiniLM-L6-v2 encoder, fine-tuned here by
``python -m eval.train.reader`` on SQuAD v1.1 train articles with hard and adversarial
negatives (``eval/train/reader_data.py``), then on the public SQuAD 2.0 split's own questions
(``python -m eval.train.squad2_reader``; ``qa eval`` reads each half of that split with a reader
trained without it, ``eval/models/reader-xfit-*``). The weights ship in ``qa/models/reader.safetensors``
without the word-embedding matrix (it was frozen in training and is read from the bundled
model package), in half precision; ``reader.json`` beside it records the settings and a fixed
(question, sentence) pair with the scores it gave when saved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.config import Config
from index.weights import bundled_model_path, load_fine_tuned, loaded_once, shipped_files
from qa.precision import apply_precision, input_ranges, resolve_precision

MODEL_DIR = Path(__file__).parent / "models"
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
CHUNK_PAIRS = 8  # pairs per forward pass (Reader.read_many)


@dataclass(frozen=True)
class Reading:
    """What the reader found in one sentence: the best span (character offsets inside the
    sentence), its score, the no-answer score and their difference (the answer evidence)."""

    start: int
    end: int
    span_score: float
    null_score: float

    @property
    def evidence(self) -> float:
        """How much more the reader believes its span than "no answer here" (span minus null score)."""
        return self.span_score - self.null_score


def build_model(layers: int, pretrained: bool = True) -> Any:
    """A ``BertForQuestionAnswering`` of the bundled encoder's first ``layers`` layers: with its
    pretrained weights and a fresh head (for training), or empty on torch's "meta" device, to
    be filled by ``load_state_dict(..., assign=True)`` (for loading a trained reader quickly)."""
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering, logging

    logging.set_verbosity_error()
    path = bundled_model_path()
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    if not pretrained:
        config.num_hidden_layers = layers
        with torch.device("meta"):
            return AutoModelForQuestionAnswering.from_config(config)
    model = AutoModelForQuestionAnswering.from_pretrained(path, config=config, local_files_only=True)
    if layers < config.num_hidden_layers:
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    return model


def encode_pairs(
    tokenizer: Any, questions: list[str], sentences: list[str], max_length: int, max_question_tokens: int
) -> Any:
    """Token ids for ``[CLS] question [SEP] sentence [SEP]`` pairs, the question cut to its first
    ``max_question_tokens`` tokens and the sentence to what fits, with character offsets; the
    one encoding used in training and in serving."""
    cut = []
    for q in questions:
        ids = tokenizer(q, add_special_tokens=False)["input_ids"]
        cut.append(q if len(ids) <= max_question_tokens else tokenizer.decode(ids[:max_question_tokens]))
    return tokenizer(
        cut,
        sentences,
        truncation="only_second",
        max_length=max_length,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="np",
    )


def decode_readings(
    start: np.ndarray, end: np.ndarray, in_context: np.ndarray, offsets: np.ndarray, max_answer_tokens: int
) -> list[Reading]:
    """Per row of start/end logits: the best span with both ends in the context (``in_context``)
    and at most ``max_answer_tokens`` long, as character offsets; the null score is [CLS]'s."""
    readings = []
    for row in range(len(start)):
        s = np.where(in_context[row], start[row], -np.inf)
        e = np.where(in_context[row], end[row], -np.inf)
        n = len(s)
        i, j = np.indices((n, n))
        total = np.where((j >= i) & (j < i + max_answer_tokens), s[:, None] + e[None, :], -np.inf)
        a, b = divmod(int(np.argmax(total)), n)
        best = float(total[a, b])
        null = float(start[row, 0] + end[row, 0])
        if not np.isfinite(best):  # no context token survived truncation
            readings.append(Reading(0, 0, -1e4, null))
            continue
        readings.append(Reading(int(offsets[row, a, 0]), int(offsets[row, b, 1]), best, null))
    return readings


class Reader:
    """Reads (question, sentence) pairs with the shipped reading model in ``precision``
    (:func:`resolve_reader_precision`); safe from many threads (one forward pass at a time:
    torch modules are not re-entrant)."""

    def __init__(self, directory: Path = MODEL_DIR, name: str = "reader",
                 precision: str = Config.reader_precision) -> None:
        import torch
        from transformers import AutoTokenizer

        self.info, weights_path = shipped_files(directory, name, "reading model",
                                                "python -m eval.train.reader")
        self.max_length = int(self.info["max_length"])
        self.max_question_tokens = int(self.info["max_question_tokens"])
        self.max_answer_tokens = int(self.info["max_answer_tokens"])
        self.tokenizer = AutoTokenizer.from_pretrained(bundled_model_path(), local_files_only=True)
        self.model = build_model(int(self.info["layers"]), pretrained=False)
        load_fine_tuned(self.model, weights_path, WORD_EMBEDDINGS, "reader")
        self.precision = resolve_reader_precision(precision)  # as resolved: never "auto"
        ranges = input_ranges(self.info, weights_path.with_suffix(".json"))  # eval.train.calibrate_int8
        self.model = apply_precision(self.model, self.precision, ranges)
        self._torch = torch
        self._lock = threading.Lock()

    def read(self, question: str, sentences: list[str]) -> list[Reading]:
        """One :class:`Reading` per sentence (an empty list for none)."""
        return self.read_many([(question, sentences)])[0]

    def read_many(self, items: list[tuple[str, list[str]]]) -> list[list[Reading]]:
        """:meth:`read` for several questions at once (``qa.batching``): one list of readings per
        ``(question, sentences)`` item. The pairs are read in forward passes of at most
        ``CHUNK_PAIRS``, of similar length (a batch is padded to its longest pair: 32 pairs of
        mixed length in one pass took 1.46x the time of the same pairs sorted in fours of 8)."""
        pairs = [(q, x) for q, sents in items for x in sents]
        readings: list[Reading | None] = [None] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for lo in range(0, len(order), CHUNK_PAIRS):
            chunk = order[lo : lo + CHUNK_PAIRS]
            for i, reading in zip(chunk, self._read_pairs([pairs[i] for i in chunk]), strict=True):
                readings[i] = reading
        bounds = np.cumsum([0] + [len(sents) for _, sents in items])
        return [readings[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]

    def _read_pairs(self, pairs: list[tuple[str, str]]) -> list[Reading]:
        with self._lock:  # a fast tokenizer's padding and truncation settings are shared state
            enc = encode_pairs(self.tokenizer, [q for q, _ in pairs], [x for _, x in pairs],
                               self.max_length, self.max_question_tokens)
        offsets = enc.pop("offset_mapping")
        seq_ids = np.asarray([[-1 if s is None else s for s in enc.sequence_ids(i)]
                              for i in range(len(pairs))])
        torch = self._torch
        inputs = {k: torch.as_tensor(v) for k, v in enc.items()}
        with torch.inference_mode():  # the forward pass itself runs in parallel across threads
            out = self.model(**inputs)
        return self.decode(out.start_logits.float().numpy(), out.end_logits.float().numpy(),
                           seq_ids == 1, offsets)

    def decode(
        self, start: np.ndarray, end: np.ndarray, in_context: np.ndarray, offsets: np.ndarray
    ) -> list[Reading]:
        """The best span of each read sentence from the reader's start and end logits."""
        return decode_readings(start, end, in_context, offsets, self.max_answer_tokens)


def resolve_reader_precision(precision: str) -> str:
    """``Config.reader_precision`` resolved: "auto" is bfloat16 where the CPU multiplies it
    natively, else int8 (float32 reads at half int8's speed)."""
    return resolve_precision(precision, fallback="int8", setting="reader_precision")


def load_reader(directory: Path = MODEL_DIR, name: str = "reader",
                precision: str = Config.reader_precision) -> Reader:
    """The shipped reader running in ``precision`` (default: as the engine serves it), loaded once
    per process."""
    precision = resolve_reader_precision(precision)
    return loaded_once(f"reader:{directory / name}:{precision}", lambda: Reader(directory, name, precision))
