"""The one configuration object, saved beside the index as ``config.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIG_VERSION = 2
ENCODER_INFO = Path(__file__).parent / "models" / "encoder.json"


def shipped_encoder_name() -> str:
    """The name the shipped encoder's vectors are recorded under (``index/models/encoder.json``)."""
    return json.loads(ENCODER_INFO.read_text(encoding="utf-8"))["name"]


@dataclass(frozen=True)
class Config:
    """Every default of the pipeline. A saved index records the values it was built with."""

    # embedding: the encoder fine-tuned here (index/encoder.py), by the name in its encoder.json
    # (which ends in its weights' checksum). A library records the model its vectors came from;
    # one embedded with another (the bundled all-MiniLM-L6-v2 before it: "sentence-transformers/
    # all-MiniLM-L6-v2", or an earlier training) is embedded again when opened.
    model_name: str = field(default_factory=shipped_encoder_name)
    dimension: int = 384
    # questions are embedded by the same encoder in question_encoder_precision (qa/qencoder.py);
    # False: by the library's embedder itself (float32)
    question_encoder: bool = True
    # the precision it runs in: "bfloat16" (with AVX-512 BF16 here: 8.1 against 11.2 ms a question
    # on one thread, dense-only hit@1 on SQuAD 2.0 0.643 against 0.645 in "float32", measured
    # with the earlier question-only encoder), "int8" (linear layers, torch dynamic quantization:
    # 4.2 ms, 0.632) or "auto": bfloat16 where the CPU multiplies in bf16 natively, "int8-mixed"
    # elsewhere (float32 until 2026-11-27; on an AVX2-only CPU ask p50 over embedding the question
    # fell from 2.8-3.2x to 2.6-2.9x, qa/qencoder.py)
    question_encoder_precision: str = "auto"
    # splitting: retrieval passages are windows of sentences that overlap
    passage_sentences: int = 3
    passage_overlap: int = 1
    # retrieval
    dense_top_k: int = 10
    bm25_top_k: int = 10
    passage_top_k: int = 5
    rrf_k: int = 60
    # answering
    max_answer_sentences: int = 3
    second_sentence_ratio: float = 0.6
    # None: the threshold calibrated with the abstention model (see qa/models/abstainer.json)
    abstain_threshold: float | None = None
    related_count: int = 3
    # the reading model (qa/reader.py) reads the re-ranker's best `reader_first_k` candidates,
    # and up to `reader_top_k` when none of those holds an answer with evidence of at least
    # `reader_more_below`; reader_top_k = 0 turns it off. Measured with the models fitted for
    # "best 2" (SQuAD: first 6 SQuAD 2.0 articles, 2,120 questions; hit@1 / p50 ms):
    #   best 2:                    SQuAD 0.825 / 31.6, paraphrase 0.522, seed 0.909 / 34.3
    #   best 1, the 2nd if unsure: SQuAD 0.830 / 29.6, paraphrase 0.522, seed 0.932 / 30.5
    #   best 1:                    SQuAD 0.846 / 25.0, paraphrase 0.478, seed 0.932 / 27.7
    # The reader re-ordering the best 2 helps where the re-ranker is unsure (paraphrases) and
    # not where it is right, so it reads the second only when the first holds no answer.
    # Tried 2026-11-27, not kept: up to 4 when the first holds no answer (`python -m
    # eval.read_policy`: held-out train hit@1 0.824 -> 0.831 with a final ranker fitted for each;
    # 0.823 both in `eval.train.pipeline`'s own refit). With every model refitted for it, `qa eval`: SQuAD
    # 2.0 hit@1 0.854 -> 0.859, hit@3 0.929 -> 0.939, AUROC 0.762 both; paraphrase set 4 more of
    # 46 refused (false abstentions 0.239 -> 0.326); ask p50 / p95 20.8 / 26.3 -> 25.4 / 39.3 ms.
    reader_top_k: int = 2
    reader_first_k: int = 1
    reader_more_below: float = 0.0
    # the precision it runs in (as question_encoder_precision; "auto": "bfloat16" where the CPU
    # multiplies it natively, else "int8"). `python -m eval.reader_precision` on the first 6
    # SQuAD 2.0 articles (2,040 questions; short-answer F1 / abstention AUROC / ask p50 ms):
    #   int8 0.663 / 0.787 / 17.0, int8-mixed 0.664 / 0.784 / 17.9,
    #   bfloat16 0.670 / 0.787 / 20.4, float32 0.669 / 0.787 / 34.6
    # int8 by default: the bf16 weights take twice the memory traffic of int8 for each pass, so
    # ask p50 over embedding the question alone (eval.bench.latency, back to back) is 2.2-2.7x in int8
    # against 3.2-3.4x in bf16, over the 3x target. Since 2026-11-27 the shipped reader's int8
    # layers quantize their inputs with calibrated fixed scales (eval.train.calibrate_int8), not one
    # scale per pass: a sentence scores the same whatever it is read with (eval.probes.batch_drift:
    # 0.013 logits on average, 76 of 80 pairs exactly, against 0.64 with per-pass scales).
    reader_precision: str = "int8"
    # a short answer is given when the reader's evidence for its span is at least this and the
    # span is shorter than this share of its sentence. No real floor: on answered SQuAD 2.0
    # questions (first 6 articles, 908) the reader's span beats the whole sentence at every
    # evidence level (short-answer F1 0.38 against 0.19 below evidence -4, 0.86 against 0.25
    # above 5), so the span is shown whenever the engine answers; its score says how sure it is.
    short_min_evidence: float = -10.0
    short_max_share: float = 0.8
    # why and how questions (qa/explain.py): with `explain_read_k` > 0 the reader reads their
    # best `explain_read_k` candidates and qa/models/explain.json ranks them. Off by default:
    # measured 2026-12-03 it moved SQuAD 2.0 why hit@1 0.770 -> 0.754 and the seed why/how set
    # 0.811 -> 0.757 (+1.6 points cross-fitted on train articles): tried, not kept. Their
    # abstention threshold is shifted by explain.json's `threshold_shift` either way. A reason
    # question's short answer is the reader's span when its evidence is at least
    # `explain_short_min_evidence` (SQuAD 2.0 why short F1 0.323 -> 0.478).
    explain_read_k: int = 0
    explain_short_min_evidence: float = 0.0
    # questions asked at the same time share model calls (qa/batching.py): the first waits up
    # to batch_wait_ms for the others in flight, at most batch_max in one call
    batch_wait_ms: float = 4.0
    batch_max: int = 16
    # the reader's passes are shared too (default). With the shipped models' calibrated int8
    # scales (eval.train.calibrate_int8) a shared pass scores a sentence as alone, float noise aside
    # (eval.probes.batch_drift), and answers under load are the ones given alone (tests/test_batching.py);
    # a model without them (per-pass scales) moves a sentence's evidence by 0.64 logits on
    # average when read with others. False: one ask's sentences a pass and each question
    # embedded in a pass of its own, exact for any model, for fewer asks/s under load (back to
    # back, `python -m eval.bench.load --api rest`, 10 askers and a writer, before calibration: 56.6
    # asks/s, p95 239 ms against 68.1, 206 ms shared); the calls are still shared.
    reader_share_passes: bool = True
    # vector search: "" is FAISS in the index directory; a ".db" path is Milvus Lite (relative
    # to the index directory); "http://host:19530" is a Milvus server or cluster.
    vector_uri: str = ""
    vector_collection: str = "qa"
    # FAISS: exact search up to this many live vectors per table, IVF-PQ beyond. Measured by
    # `qa bench --scale`: exact search costs ~0.14 ms per 1,000 vectors here (memory-bound), so
    # 2.8 ms at 20,000; IVF-PQ answered with the same hit@1 at 10k articles in a fifth of the time.
    ann_threshold: int = 20_000
    ann_nprobe: int = 32
    # a search restricted to some documents is exact (numpy over their rows) up to this many rows
    exact_filter_rows: int = 20_000
    # limits on input
    max_question_chars: int = 500
    max_document_chars: int = 2_000_000
    max_file_bytes: int = 5_000_000
    version: int = CONFIG_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """A config from saved settings; settings this version does not know are ignored, and
        those it added since get their defaults.
        """
        known = {f.name for f in fields(cls)}
        if "reader_int8" in data and "reader_precision" not in data:  # before reader_precision
            data = {**data, "reader_precision": "int8" if data["reader_int8"] else "float32"}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        """The settings as JSON, keys sorted (as ``config.json`` and the store keep them)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def index_signature(self) -> dict[str, Any]:
        """The settings a saved index depends on: opening it with others would mix vectors."""
        return {
            "model_name": self.model_name,
            "dimension": self.dimension,
            "passage_sentences": self.passage_sentences,
            "passage_overlap": self.passage_overlap,
            "version": self.version,
        }
