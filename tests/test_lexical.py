"""Incremental BM25 against bm25s built from scratch on the live rows."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from index.lexical import LexicalIndex
from index.text import content_stems

TEXTS = [
    "The ceasefire talks stalled over the length of the truce.",
    "Negotiators met in Cairo on Tuesday to discuss the hostages.",
    "The city council approved a new budget for parks and housing.",
    "Critics said the budget ignores housing and transport.",
    "A new ferry terminal opened in the harbour on Friday.",
    "The harbour authority expects two million passengers a year.",
    "Talks in Cairo resumed after a week of silence from both sides.",
    "Housing prices rose by four percent in the city last year.",
    "The truce was extended by two days after the hostages were released.",
    "Transport unions threatened a strike over the new budget.",
]
QUERIES = [["ceasefir", "talk"], ["budget", "hous"], ["harbour", "ferri", "passeng"], ["cairo"], ["zzz"]]


def tokens(texts):
    return [content_stems(t) for t in texts]


def oracle(live_texts, query):
    bm = bm25s.BM25()
    bm.index(tokens(live_texts), show_progress=False)
    known = [t for t in query if t in bm.vocab_dict]
    return np.asarray(bm.get_scores(known), dtype=np.float32) if known else np.zeros(len(live_texts))


@pytest.mark.parametrize("chunks", [[10], [3, 3, 4], [1] * 10])
def test_scores_equal_bm25s_after_adds_and_removes(chunks):
    index = LexicalIndex()
    start = 0
    for size in chunks:
        index.add(tokens(TEXTS[start : start + size]))
        start += size
    removed = [2, 5, 6]
    index.remove(np.array(removed))
    live = [i for i in range(len(TEXTS)) if i not in removed]
    for q in QUERIES:
        got = index.scores(q)
        assert got.shape == (len(TEXTS),)
        assert np.all(got[removed] == 0)
        np.testing.assert_allclose(got[live], oracle([TEXTS[i] for i in live], q), rtol=1e-5, atol=1e-6)


def test_removing_twice_changes_nothing_and_stats_follow_the_live_rows():
    index = LexicalIndex()
    index.add(tokens(TEXTS))
    index.remove(np.array([0]))
    once = index.scores(["talk", "cairo"])
    index.remove(np.array([0]))
    np.testing.assert_array_equal(index.scores(["talk", "cairo"]), once)
    assert index.live == 9
    assert index.df[index.vocab["ceasefir"]] == 0


def test_saved_rows_score_the_same_after_loading():
    index = LexicalIndex()
    index.add(tokens(TEXTS[:6]))
    index.add(tokens(TEXTS[6:]))
    head, tail = index.to_arrays(0), index.to_arrays(6)
    again = LexicalIndex()
    again.add_arrays(head)
    assert again.size == 10
    partial = LexicalIndex()
    partial.add(tokens(TEXTS[:6]))
    partial.add_arrays(tail)
    for q in QUERIES:
        np.testing.assert_allclose(again.scores(q), index.scores(q), rtol=1e-6)
        np.testing.assert_allclose(partial.scores(q), index.scores(q), rtol=1e-6)


def test_one_row_at_a_time_keeps_few_segments():
    rows = [content_stems(TEXTS[i % 10]) + [f"doc{i}"] for i in range(500)]
    index, whole = LexicalIndex(), LexicalIndex()
    for r in rows:
        index.add([r])
    whole.add(rows)
    assert len(index.segments) <= 2 * np.log2(500)
    for q in (["doc7", "talk"], ["hous", "doc499"]):
        np.testing.assert_allclose(index.scores(q), whole.scores(q), rtol=1e-6)


def test_best_bm25_rows_are_the_positive_ones_best_first_ties_in_row_order():
    from qa.retrieve import top_positive

    scores = np.array([0.0, 2.0, 5.0, 2.0, 0.0, 2.0, 7.0, 1.0], dtype=np.float32)
    assert top_positive(scores, 3, None) == [6, 2, 1]
    assert top_positive(scores, 4, None) == [6, 2, 1, 3]  # the tie at 2.0 is cut in row order
    assert top_positive(scores, 20, None) == [6, 2, 1, 3, 5, 7]  # never a row sharing no term
    allowed = np.array([True, True, False, False, True, True, False, True])
    assert top_positive(scores, 2, allowed) == [1, 5]
    assert top_positive(scores, 0, None) == [] and top_positive(np.zeros(4), 2, None) == []
