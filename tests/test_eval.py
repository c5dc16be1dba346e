"""The grounding eval: the question set, the metric function on tiny exact cases, and the quick
suite (seed set + 2 SQuAD articles) against measured figures.

Thresholds are the measured values (docs/evaluation.md) minus stated headroom, so a real
regression fails while run-to-run noise does not. Nothing here was used to fit the models.
"""

from __future__ import annotations

import json
import math

import pytest

from eval.metrics import answer_parts, auroc, grounding_metrics
from eval.seed_set import load_seed_set
from tests.conftest import SEED_ID

TEXT = "The mayor resigned on Monday. She cited health reasons. The council meets Friday."


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
    ids = [q["id"] for q in data["questions"] + data["conversations"] + data["paraphrases"]]
    assert len(set(ids)) == len(ids)


def test_paraphrases_and_short_answers_are_written_from_the_article(seed_text):
    from index.text import tokenize

    data = load_seed_set()
    paraphrases = data["paraphrases"]
    assert len(paraphrases) >= 40
    shared = []
    for q in paraphrases:
        assert seed_text.count(q["evidence"]) == 1, q["id"]
        gold = {t.stem for t in tokenize(q["evidence"]) if t.stem}
        shared.append(len({t.stem for t in tokenize(q["question"]) if t.stem} & gold))
    # in other words than the article's: most share no content word with their gold evidence
    assert sum(n == 0 for n in shared) >= len(shared) // 2, shared
    for q in data["questions"] + paraphrases:
        if q["answerable"] and q["short_answers"]:
            assert q["short_answers"][0] in q["evidence"], q["id"]


def _ev(start: int, end: int, doc: str = "d", text: str = TEXT) -> dict:
    return {"doc_id": doc, "start": start, "end": end, "quote": text[start:end]}


def _record(**kw) -> dict:
    base = {
        "id": "q",
        "answerable": True,
        "gold_spans": [["d", 30, 55]],
        "key_facts": [],
        "abstained": False,
        "confidence": 0.9,
        "doc_texts": {"d": TEXT},
        "latency_ms": 1.0,
    }
    return {**base, **kw}


def test_answer_parts():
    assert answer_parts("A b. [1] C d. [2] tail") == [("A b.", 1), ("C d.", 2), ("tail", 0)]


def test_metrics_on_exact_cases():
    records = [
        # cited the gold sentence first: hit@1, supported, valid
        _record(
            id="a",
            text="She cited health reasons. [1]",
            evidence=[_ev(30, 55), _ev(0, 29)],
            n_citations=1,
            key_facts=["health"],
        ),
        # gold only second: hit@3, rr 1/2; its answer sentence paraphrases (not supported)
        _record(id="b", text="He quit. [1]", evidence=[_ev(0, 29), _ev(30, 55)], n_citations=1),
        # unanswerable and abstained; its related passage does not count as a citation
        _record(
            id="c",
            answerable=False,
            gold_spans=[],
            text="The article does not say.",
            abstained=True,
            confidence=0.1,
            evidence=[_ev(56, 82)],
            n_citations=0,
        ),
        # answerable but abstained (a false abstention); quote tampered: invalid evidence
        _record(
            id="d",
            text="The article does not say.",
            abstained=True,
            confidence=0.2,
            evidence=[{**_ev(30, 55), "quote": "She cited reasons."}],
            n_citations=0,
        ),
    ]
    m, rows = grounding_metrics(records)
    assert [r["hit@1"] for r in rows] == [True, False, False, True]
    assert m["hit@1"] == pytest.approx(2 / 3) and m["hit@3"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["answered_hit@1"] == pytest.approx(1 / 3)
    assert m["citation_recall"] == 0.5 and m["citation_precision"] == 0.5
    assert m["citation_validity"] == 0.75
    assert m["abstain_recall"] == 1.0 and m["abstain_precision"] == 0.5
    assert m["false_abstention"] == pytest.approx(1 / 3)
    assert m["cited_chars_per_answer"] == 27.0 and m["first_citation_chars"] == 27.0
    assert m["key_fact_recall"] == 1.0
    assert m["abstain_auroc"] == 1.0  # the unanswerable one has the lowest confidence


def test_auroc_counts_ties_half():
    assert auroc([1, 0], [0.5, 0.5]) == 0.5
    assert auroc([1, 1, 0, 0], [0.9, 0.2, 0.5, 0.1]) == 0.75
    assert math.isnan(auroc([1, 1], [0.2, 0.3]))


@pytest.fixture(scope="module")
def quick(embedder):
    from eval.run import run_suites

    return run_suites(["seed", "paraphrase", "explain", "squad"], limit=2, progress=False)


def test_quick_suite_seed(quick):
    seed = {name: s["metrics"] for name, s in quick["seed"].items()}
    e = seed["engine"]
    assert e["questions"] == 56 and e["unanswerable"] == 12
    assert e["citation_validity"] == 1.0
    assert e["citation_recall"] == 1.0 and e["citation_precision"] == 1.0  # extractive
    assert e["answered_hit@1"] >= 0.86  # measured 0.932 (41/44) with the encoder; headroom 3
    # measured 0.583 (7/12) with the reader's abstention model (0.917 without it: README, limits)
    assert e["abstain_recall"] >= 0.41  # headroom 2 questions
    assert e["false_abstention"] <= 0.10  # measured 0.000 (0.045 earlier); headroom 4 questions
    # measured 0.840 over the 35 answerable with a short gold (0.786 before the reader's last
    # 800 steps; 0.707 when a short answer needed the reader's evidence above 0); headroom 3
    assert e["short_f1"] >= 0.75
    assert seed["engine_no_reader"]["short_given"] == 0.0 and e["short_given"] > 0.6
    assert e["hit@1"] > seed["bm25_sentence"]["hit@1"]  # measured 0.932 vs 0.864
    # measured 0.932 vs 0.841 (plain dense retrieval with the encoder; 0.614 with the bundled
    # model, when the engine led by 0.34); headroom 2 questions
    assert e["hit@1"] > seed["dense_sentence"]["hit@1"] + 0.04
    # an answer cites the sentences that answer, not the next ones too: measured 176.5 characters
    # (367 when unread candidates were scaled up to just below the one read); 178.6 now
    assert e["cited_chars_per_answer"] <= 240
    # the default LlamaIndex pipeline cites whole chunks: measured 6,202 vs 200 characters
    assert seed["llamaindex_default"]["cited_chars_per_answer"] > 10 * e["cited_chars_per_answer"]


def test_quick_suite_squad(quick):
    sq = {name: s["metrics"] for name, s in quick["squad"].items()}
    e = sq["engine"]
    assert e["questions"] == 474 and e["citation_validity"] == 1.0
    assert e["hit@1"] >= 0.85  # measured 0.893 (0.893 without the reader); headroom ~10 of 214
    assert e["hit@1"] > sq["bm25_sentence"]["hit@1"] + 0.05  # measured 0.785
    # measured 0.794 (plain dense retrieval with the encoder; 0.696 with the bundled model)
    assert e["hit@1"] > sq["dense_sentence"]["hit@1"] + 0.06
    assert e["hit@1"] > sq["llamaindex_default"]["hit@1"] + 0.2  # measured 0.533
    # measured 0.731 cross-fitted with the reader's SQuAD 2.0 stage (0.715 before it; 0.686
    # without the reader); headroom 0.04
    assert e["abstain_auroc"] >= 0.69
    # measured 0.699 with the reader's SQuAD 2.0 stage (0.724 before it, 0.650 before the
    # encoder, 0.548 with a floor on the evidence); headroom ~10 of 214
    assert e["short_f1"] >= 0.65
    assert e["first_citation_chars"] <= 270  # measured 203.5 characters
    assert e["cited_chars_per_answer"] <= 290  # measured 218.4


def test_quick_suite_paraphrase(quick):
    para = {name: s["metrics"] for name, s in quick["paraphrase"].items()}
    e = para["engine"]
    assert e["questions"] == 46 and e["citation_validity"] == 1.0
    # measured 0.522 (24/46) after the refit for the reader's SQuAD 2.0 stage, whose re-ranker
    # moved the engine without its reader as much (0.565 before; 0.478-0.500 with the
    # question-only encoder); headroom 2
    assert e["hit@1"] >= 0.47
    assert e["false_abstention"] <= 0.45  # measured 0.239 (0.283, 0.500 earlier): a known limit (README)
    assert e["hit@1"] >= para["engine_no_reader"]["hit@1"]  # measured 0.522 vs 0.522


def test_quick_suite_explain(quick):
    """The why/how questions of the seed article and the why/how follow-ups, reported per kind."""
    ex = quick["explain"]["engine"]
    e = ex["metrics"]
    assert e["questions"] == 37 and e["unanswerable"] == 0 and e["citation_validity"] == 1.0
    # measured 0.811 (30/37; 0.757 before the why/how follow-ups, and with the explanation
    # model ranking, tried and not kept); headroom 4 questions
    assert e["hit@1"] >= 0.70
    assert e["false_abstention"] <= 0.19  # measured 0.108 (4/37; 0.135 before the follow-ups); headroom 3
    assert set(ex["by_kind"]) == {"reason", "manner"}
    assert ex["by_kind"]["reason"]["answerable"] == 24 and ex["by_kind"]["manner"]["answerable"] == 13
    # every suite's rows carry the question's kind, and the kinds add up to the questions
    for suite in quick.values():
        by = suite["engine"]["by_kind"]
        assert sum(v["questions"] for v in by.values()) == suite["engine"]["metrics"]["questions"]


def test_report_files(quick, tmp_path):
    from eval.report import write_report

    paths = write_report(quick, tmp_path, {"suites": ["seed", "squad"], "limit": 2})
    names = {p.name for p in paths}
    assert {
        "report.json",
        "report.md",
        "bars_seed.png",
        "abstention_pr_squad.png",
        "reliability_squad.png",
        "kinds.png",
    } <= names
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["results"]["seed"]["engine"]["metrics"]["questions"] == 56
    assert "| hit@1 |" in (tmp_path / "report.md").read_text()
    assert data["results"]["explain"]["engine"]["by_kind"]["reason"]["answerable"] == 24
    assert "by question kind" in (tmp_path / "report.md").read_text()
    for p in paths:
        if p.suffix == ".png":
            assert p.read_bytes()[:4] == b"\x89PNG"


def test_qa_eval_command(tmp_path, capsys, embedder):
    from qa.cli import main

    assert main(["eval", "--suite", "seed", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "seed: 56 questions" in out and "llamaindex_default" in out
    assert (tmp_path / "report.md").exists()
    assert main(["eval", "--suite", "squad", "--limit", "0"]) == 2


def test_squad_questions_are_answered_by_models_fitted_without_their_article_half():
    """The shipped reader and abstention model saw the public SQuAD 2.0 split: ``qa eval`` swaps
    in, per article, the reader, final ranker and abstention model fitted without its half."""
    from eval.crossfit import article_half, use_cross_fitted
    from eval.squad import SQUAD2_DEV, load_articles
    from qa.service import QAService

    titles = {article_half(a.title): a.title for a in load_articles(SQUAD2_DEV)}
    assert sorted(titles) == [0, 1]
    for half, title in titles.items():
        svc = QAService()
        assert svc.reader.info["squad2_halves"] == [0, 1] and svc.abstainer.info["squad2_public"]
        use_cross_fitted(svc, title)
        assert svc.reader.info["squad2_halves"] == [1 - half]
        assert svc.final.info["for_half"] == half and svc.abstainer.info["for_half"] == half
        assert svc.threshold == svc.abstainer.info["threshold"]
        svc.add_document("The home team won the final on Sunday, 3-1.", doc_id="match")
        assert svc.ask("Who won the final?").citations  # the swapped models answer


def test_qa_eval_guide_suite(tmp_path, capsys, embedder):
    from qa.cli import main

    assert main(["eval", "--suite", "guide", "--limit", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "### The article guide" in out and "Summary choice" in out
    guide = json.loads((tmp_path / "report.json").read_text())["run"]["guide"]
    assert set(guide) == {"seed", "squad"} and guide["squad"]["articles"] == 2
    for part in guide.values():
        # by construction of the filter: every shown question is answered again from its sentence
        assert part["answered again"] == part["shown"] > 0
        assert part["exact"] == part["citations"] > 0
        assert part["candidates"] == part["shown"] + part["dropped"]
    assert "| corpus | articles | candidates |" in (tmp_path / "report.md").read_text()
