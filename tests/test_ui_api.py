"""The HTTP API of the running app, driven with gradio_client."""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.conftest import SEED_ID

PORT_STRIKE = (
    "Port strike ends in Valencia\n\n"
    "Dock workers in Valencia ended a nine-day strike on Friday after the operator agreed to "
    "raise wages by 6 percent. The union said shipments would resume on Monday."
)


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_ask_returns_json_with_exact_citations(client):
    text = client.predict(SEED_ID, api_name="/article_text")
    ans = client.predict("How many rockets did Hamas fire on Sunday?", None, None, api_name="/ask")
    assert ans["abstained"] is False and 0 <= ans["confidence"] <= 1
    first = ans["citations"][0]
    assert first["doc_id"] == SEED_ID
    assert text[first["start"] : first["end"]] == first["quote"]
    assert first["quote"].startswith("On Sunday, Hamas fired about 10 rockets")
    short = ans["short"]
    assert text[short["start"] : short["end"]] == short["quote"] in ("about 10", "10")
    assert first["start"] <= short["start"] and short["end"] <= first["end"]


def test_follow_up_uses_the_history(client):
    first = client.predict("Who is Mousa Abu Marzouk?", None, None, api_name="/ask")
    ans = client.predict(
        "What did he say the ceasefire must be?",
        [["Who is Mousa Abu Marzouk?", first["text"]]],
        None,
        api_name="/ask",
    )
    assert "permanent and fixed" in ans["citations"][0]["quote"]


def test_add_ask_remove_an_article(client):
    added = client.predict(PORT_STRIKE, "Port strike", "", api_name="/add_article")
    doc_id = added["doc_id"]
    assert added["added"] is True
    assert doc_id in {d["doc_id"] for d in client.predict(api_name="/list_articles")}
    ans = client.predict("By how much will wages rise?", None, [doc_id], api_name="/ask")
    top = (ans["citations"] or ans["related"])[0]  # answered or not, the evidence is this article's
    assert top["doc_id"] == doc_id and "6 percent" in top["quote"]
    again = client.predict(PORT_STRIKE, "Port strike", "", api_name="/add_article")
    assert again == {**added, "added": False}
    assert client.predict(doc_id, api_name="/remove_article") == {"removed": doc_id}
    assert doc_id not in {d["doc_id"] for d in client.predict(api_name="/list_articles")}
    assert SEED_ID in {d["doc_id"] for d in client.predict(api_name="/list_articles")}


@pytest.mark.parametrize(
    "endpoint,args,message",
    [
        ("/ask", ("", None, None), "question is empty"),
        ("/ask", ("Why?", None, ["nope"]), "unknown document id 'nope'"),
        ("/add_article", ("   ", "", ""), "document is empty"),
        ("/remove_article", ("nope",), "unknown document id 'nope'"),
    ],
)
def test_errors_come_back_as_messages(client, endpoint, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name=endpoint)
    assert SEED_ID in {d["doc_id"] for d in client.predict(api_name="/list_articles")}
