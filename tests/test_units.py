"""Features, answer composition and follow-up resolution on small hand-written inputs with
exact expectations (worked out by hand in the comments), without loading any model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from index.config import Config
from index.split import split_sentences
from index.text import tokenize
from qa.answer import ABSTAIN_TEXT, compose, pick_sentences
from qa.features import analyse_question, question_type, ranks, sentence_features
from qa.followup import names, needs_context, resolve
from qa.types import Citation

TEXT = ("The council met on Tuesday. It approved a budget of 12 million euros.\n\n"
        "Critics said the plan ignores housing. The mayor, Ana Ruiz, disagreed.")


class Sentences:
    """The read API answer composition needs (qa.answer.SentenceSource), over one real split."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sentences = split_sentences("c", text)

    def document_text(self, doc_id: str) -> str:
        return self.text

    def same_document(self, row_a: int, row_b: int) -> bool:
        return 0 <= row_b < len(self.sentences)


@pytest.fixture
def src() -> Sentences:
    return Sentences(TEXT)


def cite(start: int, end: int, score: float) -> Citation:
    return Citation("c", start, end, TEXT[start:end], score)


# -- features -------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "qtype"), [
    ("How many rockets were fired?", "number"), ("What percentage voted?", "number"),
    ("In what year did it start?", "date"), ("When will they meet?", "date"),
    ("Whom did Burns meet?", "person"), ("Which company won?", "person"),
    ("Where is Rafah?", "place"), ("Why did the talks stall?", "reason"),
    ("What caused the delay?", "reason"), ("What did the council approve?", "other"),
])
def test_question_type(question, qtype):
    assert question_type(question) == qtype


def test_sentence_features_by_hand():
    q = analyse_question("How many euros did the council approve?", {"euro": 2.0, "council": 1.0}, 0.5)
    assert q.qtype == "number" and q.stems == {"mani", "euro", "council", "approv"}
    assert q.weights == {"mani": 0.5, "euro": 2.0, "council": 1.0, "approv": 0.5}
    f = sentence_features(q, tokenize("It approved a budget of 12 million euros."), set(),
                          dense=0.5, best_dense=0.6, dense_rank=1, bm25=2.0, best_bm25=4.0, bm25_rank=0,
                          passage_dense=0.4, passage_bm25=1.0, context_dense=0.3, rrf=0.02)
    # sentence stems: approv budget 12 million euro; matched: approv, euro
    assert f["overlap"] == 2 / 4
    assert f["overlap_idf"] == (0.5 + 2.0) / 4.0
    assert f["novelty"] == 3 / 5  # budget, 12, million
    assert f["proximity"] == 2 / 7  # "approved ... euros": tokens 1..7
    assert f["missing_idf"] == 1.0 / 2.0  # council (1.0) is missing; the top weight is 2.0
    assert f["log_length"] == math.log1p(8)
    assert f["match_number"] == 1.0 and f["q_number"] == 1.0 and f["match_date"] == 0.0
    assert (f["dense_gap"], f["dense_rank"], f["bm25"], f["bm25_rank"]) == (0.5 - 0.6, 1 / 2, 0.5, 1.0)


def test_context_words_count_for_overlap_in_context_only():
    q = analyse_question("Who approved the budget?", {}, 1.0)
    f = sentence_features(q, tokenize("It passed easily."), {"budget"}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert f["overlap"] == 0 and f["overlap_context"] == 1 / 2  # budget of {approv, budget}
    assert f["proximity"] == 0.0


def test_ranks_highest_first_ties_in_order():
    assert ranks(np.array([0.2, 0.9, 0.2, 0.5])).tolist() == [2, 0, 3, 1]


# -- answer composition ---------------------------------------------------------------------
def test_split_offsets_are_exact(src):
    assert [(s.start, s.end, s.paragraph) for s in src.sentences] == [
        (0, 27, 0), (28, 69, 0), (71, 109, 1), (110, 141, 1)]


def test_best_sentence_joins_its_close_neighbour_in_the_same_paragraph(src):
    # row 1 is best (0.9); row 0, its neighbour in paragraph 0, scores 0.7 >= 0.6 * 0.9
    rows, probs = np.array([1, 0, 2, 3]), np.array([0.9, 0.7, 0.3, 0.2])
    text, cites, related = compose(src, rows, probs, False, Config())
    assert cites == [cite(0, 69, 0.9)]
    assert text == "The council met on Tuesday. It approved a budget of 12 million euros. [1]"
    assert related == [cite(71, 109, 0.3), cite(110, 141, 0.2)]


def test_a_sentence_opening_with_a_pronoun_cites_the_one_before(src):
    # row 1 ("It approved ...") alone: its neighbour scores too low to join, but "It" needs it
    _, cites, _ = compose(src, np.array([1, 0]), np.array([0.9, 0.1]), False, Config())
    assert cites == [cite(0, 69, 0.9)]


def test_second_answer_sentence_needs_a_close_score_and_at_least_half(src):
    rows = np.array([3, 0, 2, 1])
    assert pick_sentences(src, rows, np.array([0.9, 0.8, 0.3, 0.2]), Config()) == [(3, 3, 0.9), (0, 0, 0.8)]
    assert pick_sentences(src, rows, np.array([0.9, 0.5, 0.3, 0.2]), Config()) == [(3, 3, 0.9)]
    assert pick_sentences(src, rows, np.array([0.6, 0.45, 0.3, 0.2]), Config()) == [(3, 3, 0.6)]  # < 0.5
    text, cites, _ = compose(src, rows, np.array([0.9, 0.8, 0.3, 0.2]), False, Config())
    assert text == "The mayor, Ana Ruiz, disagreed. [1] The council met on Tuesday. [2]"
    assert cites == [cite(110, 141, 0.9), cite(0, 27, 0.8)]


def test_abstaining_lists_what_would_have_been_cited_as_related_only(src):
    rows, probs = np.array([1, 0, 2, 3]), np.array([0.9, 0.7, 0.3, 0.2])
    text, cites, related = compose(src, rows, probs, True, Config())
    assert (text, cites) == (ABSTAIN_TEXT, [])
    assert related == [cite(0, 69, 0.9), cite(71, 109, 0.3), cite(110, 141, 0.2)]


def test_the_short_answer_leads_the_text(src):
    short = cite(52, 68, 0.8)  # "12 million euros"
    text, _, _ = compose(src, np.array([1, 0]), np.array([0.9, 0.1]), False, Config(), short=short)
    assert text.startswith("12 million euros [1]\n\nThe council met on Tuesday.")


# -- follow-up resolution -------------------------------------------------------------------
def test_names_skip_question_words_and_keep_runs():
    assert names("Who did Bill Burns meet in Doha?") == ["Bill Burns", "Doha"]
    assert names("What did Mohammed bin Abdulrahman Al Thani say?") == ["Mohammed bin Abdulrahman Al Thani"]


@pytest.mark.parametrize(("question", "needs"), [
    ("What did he say?", True), ("And the group?", True), ("Why?", True),
    ("What did the council approve?", False), ("How many rockets did Hamas fire?", False),
])
def test_needs_context(question, needs):
    assert needs_context(question) is needs


def test_resolve_uses_the_previous_question_then_the_previous_answer():
    history = [("Who is Mousa Abu Marzouk?", "A Hamas official.")]
    assert resolve("What did he say?", history) == "What did he say? (Mousa Abu Marzouk)"
    assert resolve("What did the council approve?", history) == "What did the council approve?"
    assert resolve("What did he say?", None) == "What did he say?"
    # no names in the question: the names of the answer (citation marks dropped)
    history = [("who leads it?", "Yahya Sinwar [1] leads the group in Gaza [2].")]
    assert resolve("Where is he?", history) == "Where is he? (Yahya Sinwar, Gaza)"
    # an abstention carries no names: the question's own words instead
    history = [("who leads it?", ABSTAIN_TEXT)]
    assert resolve("Where is he?", history) == "Where is he? (leads)"
