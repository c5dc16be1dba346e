"""Reading a sentence after its previous one (``eval/context_probe.py``): the context is read,
labelled and decoded around, never answered from."""

from __future__ import annotations

import pytest

from eval.context_probe import MARKER, PREV_TOKENS, context_prefix, read_in_context
from eval.reader_data import ReaderExample
from eval.train_reader import tensorize
from index.encoder import load_tokenizer

SENTENCE = "Tesla was born in 1856 in Smiljan."
PREVIOUS = "Edison was born in 1847 in Ohio."


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def test_prefix_is_the_previous_sentence_cut_from_the_left_then_the_marker(tokenizer):
    assert context_prefix(tokenizer, PREVIOUS, "context") == PREVIOUS + MARKER
    assert context_prefix(tokenizer, PREVIOUS, "plain") == PREVIOUS + " "
    assert context_prefix(tokenizer, PREVIOUS, "none") == ""
    assert context_prefix(tokenizer, "", "context") == ""  # a paragraph's first sentence
    long = " ".join(f"w{i}" for i in range(100))
    cut = context_prefix(tokenizer, long, "context")
    assert cut.endswith(f"w99{MARKER}") and not cut.startswith("w0 ")
    assert len(tokenizer(cut[: -len(MARKER)], add_special_tokens=False)["input_ids"]) == PREV_TOKENS
    with pytest.raises(ValueError, match="mode"):
        context_prefix(tokenizer, PREVIOUS, "paragraph")


def test_labels_point_at_the_answer_in_the_sentence_after_the_prefix(tokenizer):
    a = SENTENCE.index("1856")
    batch = [ReaderExample("When was Tesla born?", SENTENCE, (a, a + 4), "positive"),
             ReaderExample("When was Tesla born?", PREVIOUS, None, "hard_negative")]
    prefix = context_prefix(tokenizer, PREVIOUS, "context")
    for prefixes in (None, [prefix, prefix]):
        t = tensorize(tokenizer, batch, prefixes, max_length=176)
        s, e = int(t["start_positions"][0]), int(t["end_positions"][0])
        assert tokenizer.decode(t["input_ids"][0][s : e + 1]) == "1856"
        assert int(t["start_positions"][1]) == int(t["end_positions"][1]) == 0  # no answer: [CLS]


def test_spans_come_from_the_sentence_never_from_the_context():
    from eval.context_probe import _base

    reader = _base()
    prefix = context_prefix(reader.tokenizer, PREVIOUS, "context")
    tesla, edison = read_in_context(reader.model, reader.tokenizer, [
        ("When was Tesla born?", SENTENCE, prefix),
        ("When was Edison born?", SENTENCE, prefix),  # the context holds its answer
    ])
    assert SENTENCE[tesla.start : tesla.end] == "1856"
    assert 0 <= edison.start <= edison.end <= len(SENTENCE)
