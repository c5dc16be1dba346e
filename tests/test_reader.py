"""The reading model as shipped: its file, its scores, and what it adds to answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.crossfit import XFIT_DIR
from index.encoder import MODEL_DIR as ENCODER_DIR
from index.encoder import WORD_EMBEDDINGS as ENCODER_WORDS
from qa.models import ScoringModel
from qa.reader import MODEL_DIR, WORD_EMBEDDINGS, load_reader

ROCKETS = "On Sunday, Hamas fired about 10 rockets from the Rafah border crossing area, the IDF said."


# the shipped reader, and in eval/models the one it was trained from and the two ``qa eval``
# uses on each half of the public SQuAD 2.0 split (eval.train.squad2_reader)
READERS = [(MODEL_DIR, "reader"), (XFIT_DIR, "reader-base"), (XFIT_DIR, "reader-xfit-0"),
           (XFIT_DIR, "reader-xfit-1")]


@pytest.mark.parametrize("path, word_key", [*((d / f"{n}.safetensors", WORD_EMBEDDINGS) for d, n in READERS),
                                            (ENCODER_DIR / "encoder.safetensors", ENCODER_WORDS)])
def test_shipped_weights_are_compact_and_without_word_embeddings(path, word_key):
    """Every model fine-tuned here: the readers and the library's encoder (``index/encoder.py``)."""
    from safetensors import safe_open

    assert path.stat().st_size <= 25 * 1024 * 1024
    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
        assert word_key not in keys
        assert all(str(f.get_tensor(k).dtype) == "torch.float16" for k in keys)


@pytest.mark.parametrize("directory, name", READERS)
def test_shipped_reader_scores_the_fixed_pair_as_when_saved(directory, name):
    info = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    check = info["check"]
    reader = load_reader(directory, name, precision="float32")
    reading = reader.read(check["question"], [check["sentence"]])[0]
    assert (reading.start, reading.end) == (check["start"], check["end"])
    assert reading.span_score == pytest.approx(check["span_score"], abs=1e-3)
    assert reading.null_score == pytest.approx(check["null_score"], abs=1e-3)


def test_reader_finds_the_span_and_knows_when_a_sentence_does_not_answer():
    reader = load_reader()
    hit, miss = reader.read("How many rockets did Hamas fire on Sunday?", [ROCKETS, "The mayor resigned."])
    assert ROCKETS[hit.start : hit.end] in ("about 10", "10")
    assert hit.evidence > miss.evidence
    # Near-miss questions (another actor, place, year or act than the sentence's) are weaker
    # evidence. (Not every one: a name that is nowhere in the text, "Hezbollah" for "Hamas",
    # reads as strongly as the right one; the engine's missing-name feature lowers its
    # confidence instead: test_engine_is_less_sure_of_a_name_the_article_never_mentions.)
    near_misses = ["How many rockets did Israel fire on Sunday?",
                   "How many rockets did the IDF fire on Sunday?",
                   "How many rockets did Hamas fire from the Erez crossing?",
                   "How many rockets did Hamas intercept on Sunday?",
                   "How many rockets did Hamas fire in 2019?"]
    for q in near_misses:
        assert reader.read(q, [ROCKETS])[0].evidence < hit.evidence, q
    assert reader.read("Anything?", []) == []


def test_engine_is_less_sure_of_a_name_the_article_never_mentions(seed_service):
    right = seed_service.ask("How many rockets did Hamas fire on Sunday?")
    swapped = seed_service.ask("How many rockets did Hezbollah fire on Sunday?")
    # measured 0.92 vs 0.66 (0.93 vs 0.75 before the reader's low-overlap steps, 0.91 vs 0.78
    # before its word-swap steps, 0.89 vs 0.69 before its antonym and negation steps)
    assert not right.abstained and right.confidence - swapped.confidence > 0.1


def test_many_pairs_read_in_sorted_passes_come_back_in_their_own_order():
    """More pairs than one pass takes (``CHUNK_PAIRS``), of mixed lengths and from two questions:
    each reading is of its own sentence, as when that sentence is read alone."""
    from qa.reader import CHUNK_PAIRS

    reader = load_reader()
    fillers = ["The mayor resigned.", "Rain fell all week across the north of the country, and the "
               "rivers rose to levels not seen since the floods of the last decade.", "Talks resumed.",
               "A spokesman for the ministry declined to comment on the matter when asked on Monday."]
    sentences = [fillers[i % 4] for i in range(CHUNK_PAIRS + 3)] + [ROCKETS]
    q1, q2 = "How many rockets did Hamas fire on Sunday?", "Who resigned?"
    first, second = reader.read_many([(q1, sentences), (q2, sentences[:5])])
    assert len(first) == len(sentences) and len(second) == 5
    for reading, sentence in zip(first + second, sentences + sentences[:5], strict=True):
        assert 0 <= reading.start <= reading.end <= len(sentence)
    assert ROCKETS[first[-1].start : first[-1].end] in ("about 10", "10")
    assert sentences[0][second[0].start : second[0].end] == "The mayor"
    assert max(first, key=lambda r: r.evidence) is first[-1]


def test_models_are_bound_to_feature_names():
    model = ScoringModel(["b", "a"], np.zeros(2), np.ones(2), [np.array([[1.0], [-1.0]])], [np.zeros(1)])
    x = np.array([[0.0, 2.0, 9.0]])  # columns a, b, c
    p = model.bind(("a", "b", "c")).predict(x)
    assert p[0] == pytest.approx(1 / (1 + np.exp(-(2.0 - 0.0))))  # b - a, whatever the order
    with pytest.raises(Exception, match="needs features the code does not produce: b"):
        model.bind(("a", "c"))


def test_shipped_models_match_the_features_the_code_makes():
    from qa.abstain import ABSTAIN_FEATURES
    from qa.features import FEATURES
    from qa.models import load_model
    from qa.rerank import FINAL_FEATURES, READER_ABSTAIN_FEATURES

    load_model("reranker", FEATURES)
    load_model("final", FINAL_FEATURES)
    load_model("abstainer", ABSTAIN_FEATURES + READER_ABSTAIN_FEATURES)
    load_model("abstainer-lexical", ABSTAIN_FEATURES)


@pytest.mark.parametrize("directory, name", [(MODEL_DIR, "final"), (XFIT_DIR, "final-xfit-0"),
                                             (XFIT_DIR, "final-xfit-1")])
def test_final_rankers_are_fitted_for_the_reading_policy_the_engine_uses(directory, name):
    from eval.crossfit import policy_of
    from index.config import Config

    info = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))["info"]
    assert tuple(info["read_policy"]) == policy_of(Config())


def test_a_deep_reading_cut_to_the_policy_is_what_the_engine_reads(seed_service):
    """Fitting, ``eval.read_policy`` and the reader curve read each question once, to the deepest
    k, and cut that to each policy (``qa.rerank.as_if_read``); in float32 (no int8 scales that
    depend on what shares a pass) the cut is what ``read_top`` reads with the policy itself."""
    from eval.crossfit import policy_of
    from eval.train.fit_reading import fixed
    from index.config import Config
    from qa.rerank import as_if_read, read_top
    from qa.retrieve import retrieve

    reader, policy = load_reader(precision="float32"), policy_of(Config())
    depths = set()
    for question in ("How many rockets did Hamas fire on Sunday?",
                     "What was the sticking point in the negotiations?"):
        cands = retrieve(seed_service.index, seed_service.embed_questions([question])[0], question, None)
        probs = seed_service.reranker.predict(cands.features)
        texts = [seed_service.index.sentences[int(r)].text for r in cands.rows]
        direct = read_top(reader, question, texts.__getitem__, probs, *policy)
        cut = as_if_read(read_top(reader, question, texts.__getitem__, probs, *fixed(8)), *policy)
        assert list(direct.positions) == list(cut.positions)
        np.testing.assert_allclose(direct.features, cut.features, atol=1e-3)
        depths.add(len(direct.positions))
    assert depths == {1, policy[0]}  # one question read its best only, the other further down


@pytest.mark.xfail(
    strict=True,
    reason="known limit (README, issue 32): the re-ranker puts 'The main obstacle in the talks...' "
    "5th and the reader's evidence on it is -3.1, below the sentences saying that the talks "
    "stalled (docs/models.md); strict, so the day it passes this mark must go",
)
def test_why_question_cites_the_main_obstacle_first(seed_service):
    ans = seed_service.ask("Why did the ceasefire talks stall?")
    assert not ans.abstained
    assert "The main obstacle in the talks has been the length of the ceasefire" in ans.citations[0].quote


def test_why_question_short_answer_is_the_cause_phrase_inside_citation_one(seed_service):
    ans = seed_service.ask("Why did Hamas toughen its demands?")
    assert not ans.abstained and ans.kind == "reason"
    s, first = ans.short, ans.citations[0]
    assert s is not None and s.quote.startswith("to ensure that Israeli forces")  # the purpose clause
    assert first.start <= s.start and s.end <= first.end
    assert ans.text.startswith(f"{s.quote} [1]\n\n")
    yes_no = seed_service.ask("Is the ceasefire permanent?")
    assert yes_no.kind == "yesno" and yes_no.short is None  # answered by a sentence


def test_short_answer_is_an_exact_span_inside_citation_one(seed_service):
    ans = seed_service.ask("How many rockets did Hamas fire on Sunday?")
    s, first = ans.short, ans.citations[0]
    assert s is not None and s.quote in ("about 10", "10")
    assert s.quote == seed_service.document_text(s.doc_id)[s.start : s.end]
    assert s.doc_id == first.doc_id and first.start <= s.start and s.end <= first.end
    assert ans.text.startswith(f"{s.quote} [1]\n\n")
    assert ans.to_dict()["short"]["quote"] == s.quote


def test_without_the_reader_there_is_no_short_answer(seed_service):
    import qa

    plain = qa.QAService(seed_service.index, reader_top_k=0)
    ans = plain.ask("How many rockets did Hamas fire on Sunday?")
    assert ans.short is None and plain.reader is None
    assert "about 10 rockets" in ans.citations[0].quote


def test_reader_precisions_read_alike_and_do_not_drift_with_what_shares_their_pass():
    """``Config.reader_precision``: bf16 stays nearer float32 than int8 does; both score a pair
    the same whatever else is read in its pass (int8 with the reader's calibrated input scales,
    ``eval.train.calibrate_int8``; with scales taken from each pass it moved by 0.82 logits on
    average, ``python -m eval.probes.batch_drift``)."""
    from index.config import Config

    assert Config().reader_precision == "int8"
    q = "How many rockets did Hamas fire on Sunday?"
    others = [("Who resigned?", ["The mayor resigned after a week of protests in the capital."]),
              ("When did talks resume?", ["Talks resumed in Cairo on Tuesday, 2 million people "
                                          "watched, and 40,000 troops waited near the border."])] * 3
    others.append(("Who said so?", ["The IDF said so."]))  # 7 others: one pass (CHUNK_PAIRS)
    full = load_reader(precision="float32").read(q, [ROCKETS])[0]
    off = {}
    for precision in ("bfloat16", "int8"):
        reader = load_reader(precision=precision)
        assert reader.precision == precision
        alone = reader.read(q, [ROCKETS])[0]
        shared = reader.read_many([(q, [ROCKETS]), *others])[0][0]
        assert (alone.start, alone.end) == (full.start, full.end), precision
        off[precision] = abs(alone.evidence - full.evidence)
        # int8: 0.0 here with calibrated scales, 0.10 for this pair with per-pass ones; the
        # bound leaves room for float noise on other CPUs (eval.probes.batch_drift)
        assert abs(shared.evidence - alone.evidence) < (0.05 if precision == "int8" else 0.1), precision
    assert off["bfloat16"] < 0.3 and off["bfloat16"] < off["int8"] < 3.0, off


@pytest.mark.parametrize("directory, name", READERS)
def test_every_reader_has_calibrated_int8_input_ranges_for_each_linear_layer(directory, name):
    import torch

    from qa.precision import input_ranges
    from qa.reader import build_model

    info = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    ranges = input_ranges(info, directory / f"{name}.json")
    layers = {n for n, m in build_model(int(info["layers"]), pretrained=False).named_modules()
              if isinstance(m, torch.nn.Linear)}
    assert ranges is not None and set(ranges) == layers
    assert all(lo < 0 < hi for lo, hi in ranges.values())


@pytest.mark.parametrize("bad", [{"bert.pooler.dense": "wide"}, {"qa_outputs": [1.0]},
                                 {"qa_outputs": [2.0, 1.0]}, {"qa_outputs": ["nan", 1.0]}, [1, 2]])
def test_malformed_input_ranges_are_one_clear_error(tmp_path, bad):
    from index.errors import QAError
    from qa.precision import input_ranges

    with pytest.raises(QAError, match=r"reader\.json: input_ranges must"):
        input_ranges({"input_ranges": bad}, tmp_path / "reader.json")


def test_unknown_reader_precision_is_one_clear_error_and_old_configs_keep_theirs():
    from index.config import Config
    from index.errors import ConfigError
    from qa.service import QAService

    with pytest.raises(ConfigError, match="reader_precision must be one of auto, .*, not .fp8."):
        QAService(overrides={"reader_precision": "fp8"})
    # an index saved before reader_precision recorded reader_int8
    assert Config.from_dict({"reader_int8": False}).reader_precision == "float32"
    assert Config.from_dict({"reader_int8": True}).reader_precision == "int8"
