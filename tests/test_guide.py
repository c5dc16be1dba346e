"""An article's guide (qa/guide.py): summary, names and questions, every item an exact citation,
on the bundled article and on articles added by the test; kept beside a library on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEED_ID

HARBOUR = (
    "Harbour strike ends after nine days\n\n"
    "Dock workers in Valencia ended a nine-day strike on Friday after the port operator agreed to "
    "raise wages by 6 percent. Maria Lopez, the leader of the dockers' union, said shipments would "
    "resume on Monday. Lopez said the union had won a safer night shift as well. The strike had "
    "halted exports of citrus fruit from Valencia, the region's biggest port. The operator said the "
    "deal would cost it 14 million euros a year."
)


def _exact(svc, c) -> bool:
    return c.quote == svc.document_text(c.doc_id)[c.start:c.end]


def _check(svc, guide) -> None:
    assert 1 <= len(guide.summary) <= 3
    assert [c.start for c in guide.summary] == sorted(c.start for c in guide.summary)
    mentions = [m for n in guide.names for m in n.mentions]
    for c in guide.summary + mentions + [q.citation for q in guide.questions]:
        assert _exact(svc, c)
    for q in guide.questions:  # each shown question is one the engine answers, from that sentence
        ans = svc.ask(q.question, doc_ids=[guide.doc_id])
        assert not ans.abstained and ans.citations[0] == q.citation


def test_the_bundled_article_has_a_cited_guide(fresh_service):
    svc = fresh_service
    guide = svc.guide(SEED_ID)
    _check(svc, guide)
    names = {n.name: n for n in guide.names}
    assert names["Mousa Abu Marzouk"].kind == "person"
    assert "Abu Marzouk" in names["Mousa Abu Marzouk"].variants
    assert set(names["Benjamin Netanyahu"].variants) >= {"Benjamin Netanyahu", "Netanyahu"}
    assert names["Hamas"].kind == "organisation" and len(names["Hamas"].mentions) >= 20
    assert "Who is Mousa Abu Marzouk?" in [q.question for q in guide.questions]
    assert any("main obstacle" in c.quote for c in guide.summary)
    assert svc.guide(SEED_ID) is guide  # made once


def test_an_added_article_gets_its_own_guide(fresh_service):
    svc = fresh_service
    doc_id = svc.add_document(HARBOUR, doc_id="harbour")
    guide = svc.guide(doc_id)
    _check(svc, guide)
    names = {n.name: n for n in guide.names}
    assert set(names["Maria Lopez"].variants) == {"Maria Lopez", "Lopez"}
    assert len(names["Maria Lopez"].mentions) == 2 and names["Maria Lopez"].kind == "person"
    assert len(names["Valencia"].mentions) == 2
    assert guide.questions, guide


def test_a_guide_is_kept_beside_the_library_and_made_again_when_missing(tmp_path, embedder):
    from qa import QAService

    path = tmp_path / "lib"
    QAService.from_seeds().save(path)
    svc = QAService.open_library(path)
    first = svc.guide(SEED_ID)
    [stored] = (path / "guides").glob("*.json")
    again = QAService.open_library(path).guide(SEED_ID)
    assert again.to_dict() == first.to_dict()  # read back, not made anew (same timing recorded)
    stored.write_text("{not json", encoding="utf-8")
    remade = QAService.open_library(path).guide(SEED_ID)
    assert [c.quote for c in remade.summary] == [c.quote for c in first.summary]
    assert json.loads(stored.read_text(encoding="utf-8"))["doc_id"] == SEED_ID


def test_qa_guide_command(tmp_path, embedder):
    from qa import QAService

    path = tmp_path / "lib"
    QAService.from_seeds().save(path)
    qa = [str(Path(sys.executable).parent / "qa"), "--index-dir", str(path), "guide"]
    out = subprocess.run([*qa, SEED_ID, "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["doc_id"] == SEED_ID and data["summary"] and data["names"]
    text = subprocess.run([*qa, SEED_ID], capture_output=True, text=True, timeout=600).stdout
    assert text.startswith("Summary:") and "Questions it answers:" in text
    missing = subprocess.run([*qa, "nope"], capture_output=True, text=True, timeout=600)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "nope" in missing.stderr


def test_questions_are_made_from_what_the_sentences_say():
    from qa.define import apposition
    from qa.guide import find_names, name_questions, why_topic

    assert why_topic("the bridge was closed") == "was the bridge closed"
    assert why_topic("Imperialism and colonialism have been used") == (
        "have Imperialism and colonialism been used")
    for clause in ("For example, 5 is prime",  # a comma in the subject
                   "the participation of Austria was primarily",  # ends on an adverb
                   "Normally water is the fluid of choice",  # a leading adverb
                   "the talks stalled"):  # no auxiliary to move
        assert why_topic(clause) is None, clause

    texts = ["The Normans (Norman: Nourmands) were the people who gave their name to Normandy.",
             "Initially the Normans were famed for their martial spirit.",
             "Norman adventurers founded the Kingdom of Sicily in 1130.",
             "The Old Bridge was built in 1819."]
    text = " ".join(texts)
    spans, at = [], 0
    for t in texts:
        spans.append((at, at + len(t)))
        at += len(t) + 1
    names = {name: (kind, [text[a:b] for a, b in found]) for name, kind, found in find_names(text, spans)}
    assert names["Normans"][1] == ["Normans", "Norman", "Normans", "Norman"]  # the singular with the plural
    assert "Initially the Normans" not in names
    from qa.guide import GuideName

    normans = GuideName("Normans", names["Normans"][0], ["Normans", "Norman"], [])
    assert name_questions(normans, texts, apposition) == [("What were the Normans?", 0),
                                                           ("What were the Normans famed for?", 1)]
    bridge = GuideName("Old Bridge", "name", ["Old Bridge"], [])
    assert name_questions(bridge, texts, apposition) == [("When was the Old Bridge built?", 3)]
    ruler = "The duchy was forged under Richard I of Normandy. Later Richard I of Normandy died."
    [(name, kind, _)] = find_names(ruler, [(0, 49), (50, len(ruler))])
    assert (name, kind) == ("Richard I of Normandy", "person")  # a regnal number: a person
    both = ruler + " Normandy grew rich. Normandy traded wool."
    names = {n: [both[a:b] for a, b in found] for n, _, found in find_names(
        both, [(0, 49), (50, 82), (83, 102), (103, len(both))])}
    assert names["Normandy"] == ["Normandy", "Normandy"]  # the place after "of" is its own name
