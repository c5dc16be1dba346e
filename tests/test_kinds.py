"""Question kinds, definitions by apposition, why/how follow-ups and the explanation features, on
small real text with exact expectations."""

from __future__ import annotations

import pytest

from eval.metrics import metrics_by_kind
from qa.define import apposition, definition_subject
from qa.explain import EXPLAIN_FEATURES, explanation_features
from qa.followup import answered_event, resolve
from qa.kinds import KINDS, question_kind
from qa.reader import Reading


@pytest.mark.parametrize(("question", "kind"), [
    ("Why did the ceasefire talks stall?", "reason"),
    ("why did talks stall?", "reason"),
    ("What caused the delay?", "reason"),
    ("What was the main obstacle in the talks?", "reason"),
    ("How did Israel respond to the rocket fire?", "manner"),
    ("In what way did Hamas answer?", "manner"),
    ("How many rockets did Hamas fire?", "number"),
    ("How long did the strike last?", "number"),
    ("What is Rafah?", "definition"),
    ("Who is Mousa Abu Marzouk?", "definition"),
    ("What is the name of the city?", "other"),
    ("Who met Al Thani in Doha?", "person"),
    ("When will the delegation return to Cairo?", "date"),
    ("Where did Bill Burns meet Al Thani?", "place"),
    ("Did Israel send a delegation?", "yesno"),
    ("What did he say the ceasefire must be?", "other"),
])
def test_question_kinds(question, kind):
    assert question_kind(question) == kind
    assert kind in KINDS


SENTENCE = ("Bill Burns, director of the Central Intelligence Agency, met with Qatari Prime Minister "
            "Mohammed bin Abdulrahman Al Thani in Doha on Sunday to discuss resuming talks, one of "
            "the officials said.")


def test_a_definition_is_the_apposition_after_the_name():
    assert definition_subject("Who is Bill Burns?") == "Bill Burns"
    assert definition_subject("What is the Gaza Strip?") == "Gaza Strip"
    assert definition_subject("What is the winner?") is None  # not a name
    assert definition_subject("Who met Bill Burns?") is None
    lo, hi = apposition(SENTENCE, "Bill Burns")
    assert SENTENCE[lo:hi] == "director of the Central Intelligence Agency"
    rafah = ("Hamas has blamed the lack of progress on Netanyahu, who in recent days has again promised "
             "that the Israeli army will invade Rafah, the southernmost city of the Gaza Strip, with or "
             "without a deal.")
    lo, hi = apposition(rafah, "rafah")
    assert rafah[lo:hi] == "the southernmost city of the Gaza Strip"
    assert apposition(rafah, "Netanyahu") is None  # ", who ...": a relative clause, not a definition
    assert apposition("Hamas, Abu Marzouk said, believes Netanyahu wants a deal.", "Hamas") is None
    assert apposition("The airport, opened in 1916, is small.", "airport") is None


def test_a_why_follow_up_asks_about_the_previous_answers_event():
    answer = "An Israeli delegation never arrived in Cairo for the latest round of talks. [1] More. [2]"
    event = "An Israeli delegation never arrived in Cairo for the latest round of talks."
    assert answered_event(answer) == event
    assert answered_event("10 [1]\n\nOn Sunday, Hamas fired about 10 rockets. [1]") == (
        "On Sunday, Hamas fired about 10 rockets.")
    assert answered_event("The article does not say. The closest passages are listed as related.") is None
    history = [("Which delegation never arrived in Cairo?", answer)]
    assert resolve("Why not?", history) == f"Why not? ({event})"
    assert resolve("What did he say?", [("Who is Mousa Abu Marzouk?", "x [1]")]) == (
        "What did he say? (Mousa Abu Marzouk)")  # not a why/how: the names, as before
    standalone = "Why did the Israeli army strike the launch site?"
    assert resolve(standalone, history) == standalone  # needs no context: searched as it is


def test_explanation_features_tell_a_cause_from_a_restatement():
    stems = frozenset({"talk", "stall"})
    restating = "Negotiations had stalled, an official said of the talks."
    cause = "The main obstacle in the talks has been the length of the ceasefire."
    r = Reading(0, 5, 1.0, 0.0)

    def named(kind: str, sentence: str, p: float) -> dict[str, float]:
        values = explanation_features(kind, stems, sentence, r, p, 0.6)
        return dict(zip(EXPLAIN_FEATURES, values, strict=True))

    a, b = named("reason", restating, 0.6), named("reason", cause, 0.2)
    assert a["cue"] == 0.0 and b["cue"] == 1.0 and b["cue_reason"] == 1.0  # "obstacle"
    assert a["restate"] > b["restate"]  # its content is mostly the question's own
    assert a["final_gap"] == 0.0 and b["final_gap"] < 0
    assert a["reason"] == 1.0
    m = named("manner", cause, 0.2)
    assert m["reason"] == 0.0 and m["cue_reason"] == 0.0


def test_metrics_by_kind_counts_each_kind_apart():
    rows = [
        {"kind": "reason", "answerable": True, "hit@1": True, "short_f1": 0.5, "abstained": False},
        {"kind": "reason", "answerable": True, "hit@1": False, "short_f1": None, "abstained": True},
        {"kind": "reason", "answerable": False, "hit@1": False, "short_f1": None, "abstained": True},
        {"kind": "number", "answerable": True, "hit@1": True, "short_f1": 1.0, "abstained": False},
    ]
    by = metrics_by_kind(rows)
    assert list(by) == ["reason", "number"]  # in qa.kinds.KINDS order
    assert by["reason"]["questions"] == 3 and by["reason"]["answerable"] == 2
    assert by["reason"]["hit@1"] == 0.5 and by["reason"]["short_f1"] == 0.5
    assert by["reason"]["false_abstention"] == 0.5 and by["reason"]["abstain_recall"] == 1.0
    assert by["number"]["hit@1"] == 1.0


def test_a_definition_named_in_the_article_is_answered_not_refused(seed_service):
    ans = seed_service.ask("What is Rafah?")  # refused (confidence 0.24) before qa/define.py
    assert not ans.abstained and ans.kind == "definition"
    assert ans.short is not None and ans.short.quote == "the southernmost city of the Gaza Strip"
    assert ans.short.quote == seed_service.document_text(ans.short.doc_id)[ans.short.start : ans.short.end]
    first = ans.citations[0]
    assert first.start <= ans.short.start and ans.short.end <= first.end
    assert seed_service.ask("What is Hamas?").abstained  # the article never says what Hamas is


def test_a_why_follow_up_is_answered_about_the_previous_answers_event(seed_service):
    first = "What did Netanyahu say he would not agree to?"
    ans = seed_service.ask("Why not?", history=[(first, seed_service.ask(first).text)])
    assert ans.resolved_question.startswith("Why not? (Netanyahu said on Sunday that he would not agree")
    assert not ans.abstained and ans.kind == "reason"
    # the reason follows in the next sentence, cited with it ("he said" needs its speaker)
    assert "would allow Hamas to reestablish control over Gaza" in ans.citations[0].quote
