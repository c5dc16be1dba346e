"""The reader's near-miss training questions (``eval/reader_data.py``), on hand-written text."""

from __future__ import annotations

import pytest

from eval.reader_data import _antonym, _negate

SENTENCE = "The largest city in the north, Tromsø, was founded before 1800 and is governed by a council."


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the largest city in the north?", "What is the smallest city in the north?"),
        ("Was the city founded before 1800?", "Was the city founded after 1800?"),
        ("Who governs the city?", None),  # no word with an antonym
        ("Which city is Largest?", None),  # only lower-case words: never a name
        ("What is the smallest city?", None),  # the sentence does not say "smallest" either
    ],
)
def test_antonym_flips_a_word_the_sentence_shares(question, expected):
    assert _antonym(question, SENTENCE) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("Who is governed by a council?", SENTENCE, "Who is not governed by a council?"),
        ("When was Tromsø founded?", SENTENCE, None),  # not a passive after the copula
        ("What was founded before 1800?", SENTENCE, "What was not founded before 1800?"),
        ("What was founded before 1800?", "No city was founded before 1800.", None),  # negated already
        ("Who founded the city?", SENTENCE, None),
    ],
)
def test_negation_only_of_passive_questions_whose_sentence_is_not_negated(question, sentence, expected):
    assert _negate(question, sentence) == expected
