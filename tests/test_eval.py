"""The grounding evals run end to end, and their figures stay near what was measured.

Thresholds are the measured values (see README "Evaluation") minus stated headroom, so a real
regression fails while run-to-run noise does not. Nothing here was used to fit the models.
"""

from __future__ import annotations

import json

import pytest

from eval.seed_eval import load_seed_set, run_seed_eval
from tests.conftest import SEED_ID


def test_seed_set_is_written_from_the_article(seed_text):
    data = load_seed_set()
    assert data["article"] == SEED_ID
    answerable = [q for q in data["questions"] if q["answerable"]]
    unanswerable = [q for q in data["questions"] if not q["answerable"]]
    assert len(data["questions"]) >= 40 and len(unanswerable) >= 10 and len(answerable) >= 30
    assert len(data["conversations"]) >= 5
    for q in answerable + data["conversations"]:
        assert seed_text.count(q["evidence"]) == 1, q["id"]  # verbatim and unambiguous
        for fact in q["key_facts"]:
            assert fact.lower() in seed_text.lower(), (q["id"], fact)
    assert len({q["id"] for q in data["questions"] + data["conversations"]}) == len(
        data["questions"]) + len(data["conversations"])


def test_seed_eval_figures(seed_service, tmp_path):
    metrics, rows = run_seed_eval(seed_service)
    (tmp_path / "seed.json").write_text(json.dumps(metrics))
    assert metrics["citation_validity"] == 1.0
    # measured 0.816 (31/38): headroom 2 questions
    assert metrics["hit@1"] >= 0.76
    # measured 0.75 (9/12): headroom 1 question
    assert metrics["abstained_unanswerable"] >= 0.66
    # measured 0.105 (4/38): headroom 2 questions
    assert metrics["false_abstention"] <= 0.16
    # measured 1.0 (6/6): headroom 1 conversation
    assert metrics["followup_hit@1"] >= 0.83
    assert len(rows) == metrics["questions"] + metrics["conversations"]


@pytest.mark.slow
def test_squad_quick_subset_beats_its_baselines():
    from eval.squad_bench import run_bench

    summary, _ = run_bench(limit=2, progress=False)
    assert summary["questions"] == 474
    # measured on these 2 articles: engine 0.860, dense 0.696, BM25 0.785, RRF 0.766
    assert summary["hit@1_engine"] >= 0.82
    assert summary["hit@1_engine"] > summary["hit@1_bm25_sentence"] + 0.03
    assert summary["hit@1_engine"] > summary["hit@1_dense_sentence"] + 0.10
    # first citations stay short: measured 1.08 sentences on average
    assert summary["first_citation_sentences_mean"] <= 1.3
