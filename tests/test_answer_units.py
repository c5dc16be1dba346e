"""Answer composition pieces on hand-written inputs, without loading any model."""

from __future__ import annotations

import pytest

from qa.answer import wants_short
from qa.reader import Reading
from qa.rerank import ReadCandidates, final_probs


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many rockets did Hamas fire?", True),
        ("Who is Mousa Abu Marzouk?", True),
        ("How did Israel respond to the rocket fire?", True),
        ("When will the leadership meet?", True),
        ("Why did the ceasefire talks stall?", False),
        ("  why not?", False),
        ("What caused the delay?", False),
        ("Did the U.S. officials agree?", False),
        ("Is Rafah in Gaza?", False),
        ("Isabel Allende wrote what?", True),  # "Is" only as its own word
    ],
)
def test_wants_short(question, expected):
    assert wants_short(question) is expected


def test_final_probs_put_every_read_candidate_above_the_unread():
    import numpy as np

    probs = np.array([0.9, 0.8, 0.7, 0.6])
    read = ReadCandidates(np.array([0, 1]), [Reading(0, 1, 1.0, 0.0)] * 2, np.zeros((2, 6)))
    out = final_probs(probs, read, np.array([0.2, 0.5]))
    assert list(np.argsort(-out)) == [1, 0, 2, 3]
    assert out[2] < 0.2 and out[3] < 0.2
    assert out[2] > out[3]  # the unread keep their order


def test_final_probs_never_raise_an_unread_candidate():
    """Read the best only (the default when it holds an answer): the others keep the re-ranker's
    low probabilities, so an answer does not cite them as nearly as likely."""
    import numpy as np

    probs = np.array([0.9, 0.1, 0.05])
    read = ReadCandidates(np.array([0]), [Reading(0, 1, 1.0, 0.0)], np.zeros((1, 6)))
    out = final_probs(probs, read, np.array([0.8]))
    assert out.tolist() == [0.8, 0.1, 0.05]
