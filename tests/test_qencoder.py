"""The library's encoder as shipped (``index/encoder.py``) and its question side
(``qa/qencoder.py``): its vectors, and that the engine searches with it (its file's size and
contents are checked with the reader's, ``tests/test_reader.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.config import Config
from index.encoder import MODEL_DIR
from qa.qencoder import QuestionEncoder, load_question_encoder


def test_shipped_encoder_gives_the_fixed_question_the_vector_it_gave_when_saved():
    info = json.loads((MODEL_DIR / "encoder.json").read_text(encoding="utf-8"))
    assert info["name"] == Config().model_name  # what libraries record their vectors under
    check = info["check"]
    vec = load_question_encoder().encode([check["question"]])[0]
    assert vec.dtype == np.float32 and vec.shape == (384,)
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert vec[:8] == pytest.approx(check["first"], abs=2e-3)


def test_questions_and_sentences_share_the_fine_tuned_encoder(seed_service):
    """The question side in float32 is the library's embedder (one encoder for both sides), and
    that encoder is not the bundled model (it was trained), though still close to it."""
    from index.embed import Embedder, bundled_model_path

    q = "Who did the CIA chief sit down with in Qatar?"
    tuned = load_question_encoder(precision="float32").encode([q])[0]
    assert np.allclose(tuned, seed_service.index.embedder.encode_one(q), atol=1e-5)
    bundled = Embedder(bundled_model_path()).encode_one(q)
    assert 0.5 < float(tuned @ bundled) < 0.999


def test_service_searches_with_the_question_encoder_unless_configured_off(seed_service):
    from qa.service import QAService

    q = ["How many rockets did Hamas fire?"]
    assert seed_service.config.question_encoder
    served = load_question_encoder(precision=seed_service.config.question_encoder_precision)
    assert np.allclose(seed_service.embed_questions(q), served.encode(q), atol=1e-6)
    plain = QAService(config=Config(question_encoder=False), reader_top_k=0)
    assert plain.question_encoder is None
    assert np.allclose(plain.embed_questions(q), plain.index.embedder.encode(q), atol=1e-6)


def test_missing_weights_are_one_clear_error(tmp_path):
    from index.errors import QAError

    with pytest.raises(QAError, match="encoder .* is missing; run `python -m eval.train.encoder`"):
        QuestionEncoder(tmp_path)


def test_bfloat16_serving_stays_next_to_float32():
    """The default precision moves a question's vector by less than the gap between sentences."""
    assert Config().question_encoder_precision == "auto"
    qs = ["How many rockets did Hamas fire?", "Who is the Qatari Prime Minister?"]
    full = load_question_encoder(precision="float32").encode(qs)
    half = load_question_encoder(precision="bfloat16").encode(qs)
    assert half.dtype == np.float32 and np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)
    assert 0.99 < float((full * half).sum(1).min()) < 1 - 1e-6  # close, yet it did run in bf16


def test_unknown_precision_is_one_clear_error():
    from index.errors import ConfigError

    with pytest.raises(ConfigError, match="must be one of auto, .*, int8-mixed, not .fp8."):
        QuestionEncoder(precision="fp8")


def test_int8_mixed_keeps_the_feed_forward_outputs_out_of_int8_and_stays_closer_to_float32():
    """The feed-forward output layers take the GELU's few large channels, which per-tensor int8
    rounds worst (``qa/precision.py``): keeping them out of int8 moves vectors less."""
    import torch

    qs = ["How many rockets did Hamas fire?", "Who is the Qatari Prime Minister?",
          "What is the main obstacle in the talks?", "Where did the CIA director travel?"]
    mixed_enc = load_question_encoder(precision="int8-mixed")

    def is_int8(m) -> bool:  # calibrated (qa/precision.py) or per-pass scales
        return isinstance(m, torch.ao.nn.quantized.dynamic.Linear) or type(m).__name__ == "StaticInt8Linear"

    kinds = {n: is_int8(m) for n, m in mixed_enc.model.named_modules()
             if n.endswith(("output.dense", "intermediate.dense"))}
    assert kinds and all(kinds[n] == (".attention." in n or "intermediate" in n) for n in kinds)
    full = load_question_encoder(precision="float32").encode(qs)
    mixed = (full * mixed_enc.encode(qs)).sum(1)
    plain = (full * load_question_encoder(precision="int8").encode(qs)).sum(1)
    # per-channel int8 weights: mean cosine 0.986 mixed against 0.976 all-int8, lowest 0.975
    # (per-layer weights: 0.986 against 0.951, lowest 0.982)
    assert float(mixed.mean()) > float(plain.mean()) and float(mixed.min()) > 0.97


def test_embedding_cache_keeps_each_models_vectors_apart(embedder, tmp_path):
    """The eval's embedding cache (``CachedEmbedder``) keys a text by model and weights: the
    bundled model's vector of a text is never served as the fine-tuned encoder's."""
    from index.embed import CachedEmbedder, bundled_model_path

    text = ["The main obstacle in the talks has been the length of the ceasefire."]
    ours = CachedEmbedder(tmp_path / "cache.npz")
    assert np.allclose(ours.encode(text), embedder.encode(text), atol=1e-6)
    ours.save()
    bundled = CachedEmbedder(tmp_path / "cache.npz", bundled_model_path())
    assert text[0] not in bundled and text[0] in CachedEmbedder(tmp_path / "cache.npz")
    assert float(bundled.encode(text)[0] @ ours.encode(text)[0]) < 0.999


@pytest.mark.parametrize(("native", "expected"), [(True, "bfloat16"), (False, "int8-mixed")])
def test_auto_question_precision_is_bf16_where_native_else_int8_mixed(monkeypatch, native, expected):
    """Where bf16 would be emulated (AVX2 only), questions run int8 but the feed-forward outputs:
    float32 questions took ask p50 over 3x embedding the question there (``qa/qencoder.py``)."""
    import qa.precision
    from qa.qencoder import resolve_question_precision

    monkeypatch.setattr(qa.precision, "bf16_native", lambda: native)
    assert resolve_question_precision("auto") == expected
    assert resolve_question_precision("float32") == "float32"  # a choice is kept as made


def test_questions_encoded_together_or_apart_are_as_alone_in_calibrated_int8():
    """int8 with a scale per pass moves a question padded into a pass with a longer one;
    ``together=False`` (``Config.reader_share_passes`` false) gives each its own pass. The shipped
    encoder's calibrated input scales (``eval.train.calibrate_int8``) make one pass as good as apart."""
    from eval.train.calibrate_int8 import uncalibrated_encoder

    qs = ["Who?", "How many rockets did Hamas fire from Rafah toward the Kerem Shalom crossing?"]
    for precision in ("int8-mixed", "int8"):
        enc = load_question_encoder(precision=precision)
        alone = np.vstack([enc.encode([q]) for q in qs])
        assert np.array_equal(enc.encode(qs, together=False), alone)
        assert np.allclose(enc.encode(qs), alone, atol=1e-6), precision  # float noise at most
        per_pass = uncalibrated_encoder(precision)
        alone = np.vstack([per_pass.encode([q]) for q in qs])
        assert np.array_equal(per_pass.encode(qs, together=False), alone)
        assert not np.allclose(per_pass.encode(qs), alone, atol=1e-4), precision  # one pass moves them
