"""The reader's near-miss training questions (``eval/train/reader_data.py``), on hand-written text."""

from __future__ import annotations

import random

import pytest

from eval.squad import SquadArticle, SquadQuestion
from eval.train.reader_data import antonym, article_examples, negate, overlap, swap_word

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
    assert antonym(question, SENTENCE) == expected


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
    assert negate(question, sentence) == expected


KILLED = "Three soldiers were killed on Sunday near the crossing."
WORDS = {"ed": ["killed", "wounded"], "ing": ["fighting"], "s": ["rockets", "soldiers"]}


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        # the one shared word with an ending: another of the article's words ending so
        ("How many were killed there?", "Three", "How many were wounded there?"),
        ("How many soldiers died?", "Three", "How many rockets died?"),
        ("How many were killed there?", "Three soldiers were killed", None),  # in the answer
        ("How many were shot there?", "Three", None),  # the sentence does not share it
        ("When did Hamas fire?", "Sunday", None),  # names and words without an ending stay
    ],
)
def test_word_swap_replaces_a_shared_word_by_another_article_word_of_its_ending(question, answer, expected):
    assert swap_word(question, KILLED, answer, WORDS, random.Random(0)) == expected


def test_overlap_is_the_share_of_the_question_content_stems_in_the_sentence():
    assert overlap("Who was killed near the crossing?", KILLED) == 1.0  # kill, near, cross
    assert overlap("How many troops died in the attack?", KILLED) == 0.0  # many, troop, die, attack
    assert overlap("How many soldiers died?", KILLED) == pytest.approx(1 / 3)  # soldier of 3
    assert overlap("Who was it?", KILLED) == 0.0  # no content word at all


ARTICLE_TEXT = (
    "Three soldiers were killed on Sunday near the crossing. "
    "The army said it answered with airstrikes on the launch site."
)
ARTICLE = SquadArticle(
    "t", ARTICLE_TEXT, ((0, len(ARTICLE_TEXT)),),
    (SquadQuestion("1", "How many soldiers were killed near the crossing?", ("Three",), False, 0),
     SquadQuestion("2", "How did the military retaliate?", ("with airstrikes on the launch site",),
                   False, 0)),
)


@pytest.mark.parametrize(("low_overlap", "kinds"), [
    (0.0, {"How many soldiers were killed near the crossing?": "positive",
           "How did the military retaliate?": "positive"}),  # off: every answer sentence positive
    (0.25, {"How many soldiers were killed near the crossing?": "positive",
            "How did the military retaliate?": "low_overlap"}),  # shares no word with its sentence
])
def test_answer_sentences_in_other_words_are_their_own_kind(low_overlap, kinds):
    found = {e.question: e.kind for e in article_examples(ARTICLE, random.Random(0), hard_negatives=0,
                                                          adversarial_share=0.0, low_overlap=low_overlap)
             if e.answer is not None}
    assert found == kinds


def test_question_encoder_training_marks_the_questions_asked_in_other_words():
    from eval.train.encoder import gather

    texts, ranges, items = gather([ARTICLE])
    assert ranges == [(0, 2)] and texts[1].startswith("The army said")
    assert [(it.question, it.gold, it.low_overlap) for it in items] == [
        ("How many soldiers were killed near the crossing?", 0, False),
        ("How did the military retaliate?", 1, True),
    ]


def test_encoder_hard_negatives_skip_the_gold_and_with_mining_the_answers_other_sentences():
    import numpy as np

    from eval.train.encoder import Item, hard_negatives

    texts = ["Hamas fired 10 rockets.", "About 10 rockets were fired, the IDF said.", "Talks stalled.",
             "Burns met Al Thani.", "Israel did not send a delegation."]
    item = Item("How many rockets were fired?", 0, 0, False, "10")
    nearest = np.asarray([1, 0, 2, 3, 4])
    assert hard_negatives(item, nearest, texts, skip_answer=False) == [1, 2, 3]
    assert hard_negatives(item, nearest, texts, skip_answer=True) == [2, 3, 4]


def test_reranker_fit_weights_every_candidate_of_a_question_asked_in_other_words():
    import numpy as np

    from eval.train.fit_rerank import FEATURES, question_weights

    x = np.zeros((5, len(FEATURES)))
    x[:, FEATURES.index("overlap")] = [0.8, 0.1, 0.2, 0.5, 0.9]
    y = np.array([1, 0, 1, 0, 1])  # question 0's answer holds 0.8 of it; question 1's only 0.2
    groups = np.array([0, 1, 1, 1, 2])
    assert question_weights(y, groups, x, 4.0).tolist() == [1.0, 4.0, 4.0, 4.0, 1.0]
    assert question_weights(y, groups, x, 1.0).tolist() == [1.0] * 5


def test_squad2_reader_examples_label_the_answer_sentence_and_the_engines_misses_only():
    from eval.train.squad2_reader import squad2_examples

    rows = [
        {"question": "How many rockets?", "answers": ["10"], "impossible": False, "half": 0,
         "gold": ["About 10 rockets were fired.", 6, 8],
         "top": ["About 10 rockets were fired.", "Hamas fired 10 more later.", "Talks stalled."]},
        {"question": "How many planes?", "answers": [], "impossible": True, "half": 0, "gold": None,
         "top": ["About 10 rockets were fired.", "Talks stalled."]},
        {"question": "Who met Burns?", "answers": ["Al Thani"], "impossible": False, "half": 1,
         "gold": ["Burns met Al Thani.", 10, 18], "top": ["Talks stalled."]},
    ]
    got = [(e.question, e.sentence, e.answer, e.kind) for e in squad2_examples(rows, (0,))]
    assert got == [
        ("How many rockets?", "About 10 rockets were fired.", (6, 8), "squad2_positive"),
        ("How many rockets?", "Talks stalled.", None, "squad2_negative"),
        ("How many planes?", "About 10 rockets were fired.", None, "squad2_negative"),
        ("How many planes?", "Talks stalled.", None, "squad2_negative"),
    ]
