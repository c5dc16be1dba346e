"""The Python API on the seed article: which sentence is cited, exact offsets, abstention,
follow-ups, and a clear typed error for every bad input."""

from __future__ import annotations

import hashlib

import pytest

import qa
from tests.conftest import SEED_ID

# question -> the start of the sentence its first citation must be (found by offset, not text).
CITED = {
    "What further guarantees is Hamas seeking?": "Hamas, the official said, is now seeking",
    "How many rockets did Hamas fire on Sunday?": "On Sunday, Hamas fired about 10 rockets",
    "Where will Hamas's political leadership meet?": "Hamas's political leadership will meet in Doha",
    "Whom did Bill Burns meet in Doha?": "Bill Burns, director of the Central Intelligence",
    "What did Netanyahu say he would not agree to?": "Netanyahu said on Sunday that he would not",
}


@pytest.mark.parametrize("question,sentence", CITED.items())
def test_first_citation_is_the_answering_sentence(seed_service, seed_text, question, sentence):
    ans = seed_service.ask(question)
    assert not ans.abstained
    first = ans.citations[0]
    start = seed_text.index(sentence)
    end = seed_text.index(".", start + len(sentence)) + 1
    assert (first.doc_id, first.start, first.end) == (SEED_ID, start, end)
    assert first.quote == seed_text[start:end]
    body = ans.text.split("\n\n", 1)[1] if ans.short else ans.text  # after the short answer, if any
    assert body.startswith(" ".join(first.quote.split())) and "[1]" in ans.text


def test_every_citation_is_an_exact_slice(seed_service):
    questions = [
        *CITED,
        "Who is Mousa Abu Marzouk?",
        "What did the U.S. officials say?",
        "What is the capital of France?",
        "Leave a reply",
        "Required fields are marked",
    ]
    for q in questions:
        ans = seed_service.ask(q)
        assert 0.0 <= ans.confidence <= 1.0
        for c in [*ans.citations, *ans.related]:
            assert c.quote == seed_service.document_text(c.doc_id)[c.start : c.end]
            assert c.end - c.start > 0


def test_comment_form_boilerplate_is_never_cited(seed_service, seed_text):
    boiler = seed_text.index("Leave a Reply")
    for q in [
        "Leave a reply",
        "Will my email address be published?",
        "Which fields are required?",
        "How do I leave a comment?",
    ]:
        ans = seed_service.ask(q)
        assert all(c.end <= boiler for c in [*ans.citations, *ans.related]), q


def test_unanswerable_question_abstains_with_related_passages(seed_service):
    ans = seed_service.ask("What is the capital of France?")
    assert ans.abstained and ans.citations == []
    assert ans.text.startswith("The article does not say")
    assert ans.confidence < seed_service.threshold
    assert 1 <= len(ans.related) <= 3


def test_quote_followed_by_he_said_cites_its_speaker(seed_service, seed_text):
    ans = seed_service.ask("What did Netanyahu say about who is delaying the hostages' release?")
    first = ans.citations[0]
    quote = "“It is Hamas that is delaying the release of our hostages,” he said."
    assert quote in first.quote
    # the sentence before names the speaker; a "he said" sentence is cited together with it
    assert first.start == seed_text.index("Netanyahu and the United States argue") or (
        first.start < seed_text.index(quote)
    )


def test_follow_up_is_resolved_against_the_conversation(seed_service, seed_text):
    first = seed_service.ask("Who is Mousa Abu Marzouk?")
    ans = seed_service.ask(
        "What did he say the ceasefire must be?", history=[("Who is Mousa Abu Marzouk?", first.text)]
    )
    assert "Mousa Abu Marzouk" in ans.resolved_question
    target = seed_text.index("“The ceasefire must be permanent and fixed,” he said.")
    c = ans.citations[0]
    assert c.start < target < c.end
    # without the conversation the same words do not find Abu Marzouk's quote first
    alone = seed_service.ask("What did he say the ceasefire must be?")
    assert alone.resolved_question == "What did he say the ceasefire must be?"


def test_from_texts_and_doc_filter(embedder):
    svc = qa.QAService.from_texts(
        {
            "storm": "A storm cut power to 20,000 homes in Brittany on Monday. Crews expect to "
            "restore it by Wednesday.",
            "budget": "The council approved a budget of 12 million euros. The vote was 7 to 2.",
        }
    )
    ans = svc.ask("How many homes lost power?")
    top = (ans.citations or ans.related)[0]  # answered or not, the best evidence is the storm's
    assert top.doc_id == "storm" and "20,000 homes" in top.quote
    only = svc.ask("How many homes lost power?", doc_ids=["budget"])
    assert all(c.doc_id == "budget" for c in [*only.citations, *only.related])


@pytest.mark.parametrize(
    "question,error,message",
    [
        ("", qa.InvalidQuestionError, "question is empty"),
        (" \n\t ", qa.InvalidQuestionError, "question is empty"),
        ("\x00\x07", qa.InvalidQuestionError, "question is empty"),
        ("why " * 126, qa.InvalidQuestionError, "the limit is 500"),
        (None, qa.InvalidQuestionError, "question must be text"),
        (b"why?", qa.InvalidQuestionError, "question must be text"),
        ("why\ud800?", qa.InvalidQuestionError, "invalid characters"),
    ],
)
def test_bad_questions_raise_typed_errors(seed_service, question, error, message):
    with pytest.raises(error, match=message):
        seed_service.ask(question)


def test_control_characters_inside_a_question_are_ignored(seed_service):
    ans = seed_service.ask("How many rockets\x00 did Hamas\x1b fire?")
    assert ans.question == "How many rockets did Hamas fire?"


def test_bad_history_is_refused(seed_service):
    with pytest.raises(qa.InvalidQuestionError, match="history"):
        seed_service.ask("And then?", history="Who is he?")
    with pytest.raises(qa.InvalidQuestionError, match="history"):
        seed_service.ask("And then?", history=[("only one",)])


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "document is empty"),
        ("   \n ", "document is empty"),
        (b"bytes", "not bytes"),
        (42, "must be text"),
        ("abc\x00def", "binary"),
        ("x\udc80y", "unpaired surrogates"),
        ("Leave a Reply\n\nYour email address will not be published.", "only boilerplate"),
    ],
)
def test_bad_documents_raise_and_keep_the_index(fresh_service, seed_text, text, message):
    with pytest.raises(qa.InvalidDocumentError, match=message):
        fresh_service.add_document(text)
    assert [d.doc_id for d in fresh_service.documents()] == [SEED_ID]
    assert fresh_service.document_text(SEED_ID) == seed_text
    assert len(fresh_service.index.sentences) == 35


def test_document_over_the_size_limit(embedder):
    svc = qa.QAService(config=qa.Config(max_document_chars=1000))
    with pytest.raises(qa.InvalidDocumentError, match="the limit is 1,000"):
        svc.add_document("word " * 300)


@pytest.mark.parametrize("bad_id", ["../etc", "a/b", "", "   ", "bad\ud800id", "x" * 129, "<b>", "tab\tid"])
def test_bad_document_ids(fresh_service, bad_id):
    with pytest.raises(qa.InvalidDocumentError):
        fresh_service.add_document("The bridge reopened on Monday.", doc_id=bad_id)


@pytest.mark.parametrize("title", ["bad \ud800 title", "bell \x07", "line\nbreak", "t" * 301, 5])
def test_poison_titles_change_nothing_and_later_saves_work(fresh_service, tmp_path, title):
    path = fresh_service.save(tmp_path / "lib")
    with pytest.raises(qa.InvalidDocumentError, match="title"):
        fresh_service.add_document("The bridge reopened on Monday.", doc_id="bridge", title=title)
    assert "bridge" not in fresh_service.index.documents
    fresh_service.add_document("The bridge reopened on Monday.", doc_id="bridge", title="Bridge")
    fresh_service.save()
    assert qa.QAService.open(path).index.get_document("bridge").title == "Bridge"


def test_unknown_document_ids(fresh_service):
    with pytest.raises(qa.UnknownDocumentError, match="unknown document id 'nope'"):
        fresh_service.document_text("nope")
    with pytest.raises(qa.UnknownDocumentError, match="'nope'"):
        fresh_service.remove_document("nope")
    with pytest.raises(qa.UnknownDocumentError, match="'nope'"):
        fresh_service.ask("Why?", doc_ids=["nope"])
    assert [d.doc_id for d in fresh_service.documents()] == [SEED_ID]


def test_empty_service_says_so(embedder):
    with pytest.raises(qa.EmptyIndexError, match="add an article first"):
        qa.QAService().ask("Why?")


def test_from_seeds_is_cached_on_disk(seed_service, tmp_path, monkeypatch):
    import index.store

    calls = []
    monkeypatch.setattr(index.store.ArticleIndex, "add_document", lambda *a, **k: calls.append(a))
    again = qa.QAService.from_seeds()
    assert calls == [] and [d.doc_id for d in again.documents()] == [SEED_ID]


def test_library_of_the_previous_format_is_upgraded_from_its_texts(tmp_path, seed_text, embedder):
    import json

    lib = tmp_path / "lib"
    lib.mkdir()
    other = "The bridge reopened on Monday after repairs. Traffic returned to normal by noon."
    lines = [{"doc_id": d, "title": d, "source": "", "text": t,
              "content_hash": hashlib.sha256(t.encode()).hexdigest()}
             for d, t in ((SEED_ID, seed_text), ("bridge", other))]
    (lib / "texts.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (lib / "docstore.json").write_text("{}")
    (lib / "manifest.json").write_text(json.dumps({"files": {}}))
    (lib / "config.json").write_text(json.dumps({"version": 1}))
    svc = qa.QAService.open_library(lib)
    assert sorted(d.doc_id for d in svc.documents()) == sorted([SEED_ID, "bridge"])
    assert not (lib / "docstore.json").exists() and not (lib / "texts.jsonl").exists()
    assert svc.document_text("bridge") == other
