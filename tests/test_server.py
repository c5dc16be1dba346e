"""The server over real HTTP: request limits, typed errors for wrong arguments, poison input,
read-only and login modes, and questions answered while a large article is being added."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from gradio_client import Client

from tests.conftest import SEED_ID


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def _error(call) -> str:
    with pytest.raises(Exception) as info:  # noqa: PT011 - gradio_client raises AppError
        call()
    return str(info.value)


def _raw_call(app_url: str, api: str, body: str) -> str:
    """Gradio's two-step call with a hand-written JSON body (gradio_client cannot send a lone
    surrogate: it encodes before sending). Returns the event stream's text."""
    r = httpx.post(f"{app_url}gradio_api/call/{api}", content=body.encode("ascii"),
                   headers={"content-type": "application/json"}, timeout=60)
    r.raise_for_status()
    return httpx.get(f"{app_url}gradio_api/call/{api}/{r.json()['event_id']}", timeout=60).text


def test_lone_surrogates_over_http_are_refused(client, app_url):
    text = "The bakery on Elm Street reopened on Monday. It sells rye bread again."
    before = {d["doc_id"] for d in client.predict(api_name="/list_articles")}
    out = _raw_call(app_url, "add_article", f'{{"data": ["{text}", "bad \\ud800 title", ""]}}')
    assert "event: error" in out and "title contains control or invalid characters" in out
    out = _raw_call(app_url, "add_article", f'{{"data": ["{text}", "t", "id\\udc00"]}}')
    assert "event: error" in out and "document id" in out
    out = _raw_call(app_url, "ask", '{"data": ["why \\ud800?", null, null]}')
    assert "event: error" in out and "question contains invalid characters" in out
    assert {d["doc_id"] for d in client.predict(api_name="/list_articles")} == before


def test_an_oversized_body_is_refused_before_it_is_read(app_url):
    big = b"x" * (17 * 1024 * 1024)
    r = httpx.post(f"{app_url}gradio_api/call/ask", content=big, headers={"content-type": "application/json"},
                   timeout=60)
    assert r.status_code == 413 and r.json()["error"]["type"] == "RequestTooLargeError"

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * (1024 * 1024)

    r = httpx.post(f"{app_url}gradio_api/call/ask", content=chunks(), timeout=60)
    assert r.status_code == 413


@pytest.mark.parametrize(
    "args,message",
    [
        (("Why?", 5, None), "history must be a list of (question, answer) pairs"),
        (("Why?", None, 5), "doc_ids must be a list of document ids"),
        (("Why?", None, [["x"]]), "doc_ids must be a list of document ids (text)"),
        ((5, None, None), "question must be text"),
    ],
)
def test_wrong_argument_types_get_the_one_line_messages(client, args, message):
    assert message in _error(lambda: client.predict(*args, api_name="/ask"))


@pytest.mark.parametrize(
    "title,doc_id,message",
    [
        ("bell \x07 title", "", "title contains control or invalid characters"),
        ("t" * 301, "", "title has 301 characters; the limit is 300"),
        (5, "", "title must be text"),
        ("ok", "<a href=x>", "document id"),
    ],
)
def test_poison_input_is_refused_and_later_writes_still_work(client, title, doc_id, message):
    before = {d["doc_id"] for d in client.predict(api_name="/list_articles")}
    text = "The bakery on Elm Street reopened on Monday. It sells rye bread again."
    assert message in _error(lambda: client.predict(text, title, doc_id, api_name="/add_article"))
    assert {d["doc_id"] for d in client.predict(api_name="/list_articles")} == before
    added = client.predict(text, "Bakery", "bakery", api_name="/add_article")
    assert added["doc_id"] == "bakery"
    assert client.predict("bakery", api_name="/remove_article") == {"removed": "bakery"}


def test_asks_are_answered_while_a_large_article_is_added(client, app_url):
    big = "\n\n".join(f"Harbour report part {i}. The crane on pier {i} lifted {i * 11} containers on "
                      f"Tuesday. Workers on pier {i} asked for a new shift plan." for i in range(2500))
    done = threading.Event()
    span: list[float] = []

    def add() -> None:
        span.append(time.perf_counter())
        Client(app_url, verbose=False).predict(big, "Harbour", "harbour-big", api_name="/add_article")
        span.append(time.perf_counter())
        done.set()

    answered: list[float] = []

    def ask() -> None:
        c = Client(app_url, verbose=False)
        while not done.is_set():
            c.predict("How many rockets did Hamas fire on Sunday?", None, [SEED_ID], api_name="/ask")
            answered.append(time.perf_counter())

    askers = [threading.Thread(target=ask) for _ in range(4)]
    adder = threading.Thread(target=add)
    for t in askers:
        t.start()
    time.sleep(1.0)
    adder.start()
    adder.join(timeout=600)
    for t in askers:
        t.join(timeout=120)
    assert len(span) == 2
    during = [t for t in answered if span[0] < t < span[1]]
    print(f"\nadd took {span[1] - span[0]:.1f} s; {len(during)} questions answered meanwhile")
    assert during  # questions were not held up until the add finished
    assert client.predict("harbour-big", api_name="/remove_article") == {"removed": "harbour-big"}


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory, embedder):
    from ui.server import start_in_background

    running = start_in_background(tmp_path_factory.mktemp("locked") / "index", auth=("ed", "s3cret"),
                                  read_only=True)
    yield running.url
    running.close()


def test_read_only_server_with_a_login(locked_server):
    with pytest.raises(Exception):  # noqa: B017, PT011 - no login, no client
        Client(locked_server, verbose=False)
    client = Client(locked_server, auth=("ed", "s3cret"), verbose=False)
    ans = client.predict("How many rockets did Hamas fire on Sunday?", None, None, api_name="/ask")
    assert ans["citations"][0]["doc_id"] == SEED_ID
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/ask" in endpoints and "/add_article" not in endpoints and "/remove_article" not in endpoints
    assert httpx.get(f"{locked_server}gradio_api/info", timeout=30).status_code in (401, 403)
