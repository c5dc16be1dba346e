"""The REST API of a real ``qa serve`` process, every route over HTTP with httpx."""

from __future__ import annotations

import httpx
import pytest

from index.config import Config
from tests.conftest import SEED_ID, serve_process

PORT = ("Port strike ends in Valencia\n\nDock workers in Valencia ended a nine-day strike on Friday "
        "after the operator agreed to raise wages by 6 percent. The union said shipments would "
        "resume on Monday.")


@pytest.fixture(scope="module")
def api(tmp_path_factory, embedder):
    from qa import QAService

    path = tmp_path_factory.mktemp("rest") / "lib"
    QAService.from_seeds().save(path)
    with serve_process(path) as url, httpx.Client(base_url=f"{url}api/v1", timeout=120) as client:
        yield client


def _error(r: httpx.Response, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["type"] == kind
    return body["message"]


def test_health_and_articles(api, seed_text):
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["articles"] == 1 and health["generation"] >= 1
    assert health["model"] == Config().model_name
    assert [a["doc_id"] for a in api.get("/articles").json()] == [SEED_ID]
    art = api.get(f"/articles/{SEED_ID}").json()
    assert art["text"] == seed_text and art["title"].startswith("Ceasefire talks")
    assert all(seed_text[s["start"] : s["end"]].strip() for s in art["sentences"])
    assert len(art["sentences"]) == 35


def test_ask_with_exact_citations_and_a_follow_up(api, seed_text):
    ans = api.post("/ask", json={"question": "Who is Mousa Abu Marzouk?"}).json()
    assert ans["abstained"] is False and 0 <= ans["confidence"] <= 1 and ans["timings_ms"]
    for c in ans["citations"]:
        assert seed_text[c["start"] : c["end"]] == c["quote"] and c["doc_id"] == SEED_ID
    follow = api.post("/ask", json={"question": "What did he say the ceasefire must be?",
                                    "history": [["Who is Mousa Abu Marzouk?", ans["text"]]]}).json()
    assert "permanent and fixed" in follow["citations"][0]["quote"]
    assert "Abu Marzouk" in follow["resolved_question"]


def test_add_ask_restricted_then_delete(api):
    added = api.post("/articles", json={"text": PORT, "title": "Port strike", "id": "port-strike"})
    assert added.status_code == 201 and added.json() == {"doc_id": "port-strike", "added": True,
                                                         "title": "Port strike"}
    again = api.post("/articles", json={"text": PORT, "id": "port-strike"})
    assert again.json()["added"] is False
    question = {"question": "By how much will wages rise?", "doc_ids": ["port-strike"]}
    ans = api.post("/ask", json=question).json()
    top = (ans["citations"] or ans["related"])[0]
    assert top["doc_id"] == "port-strike" and "6 percent" in top["quote"]
    assert api.delete("/articles/port-strike").json() == {"removed": "port-strike"}
    assert [a["doc_id"] for a in api.get("/articles").json()] == [SEED_ID]


def test_upload_a_file(api):
    r = api.post("/articles/upload", files={"file": ("port.md", PORT.encode())}, data={"id": "port-file"})
    assert r.status_code == 201 and r.json()["doc_id"] == "port-file"
    assert api.delete("/articles/port-file").status_code == 200
    png = b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(256)
    binary = api.post("/articles/upload", files={"file": ("x.txt", png)})
    assert "binary" in _error(binary, 400, "InvalidDocumentError")


def test_errors_have_types_and_statuses(api):
    assert _error(api.post("/ask", json={"question": ""}), 400, "InvalidQuestionError") == "question is empty"
    assert "unknown document id" in _error(api.post("/ask", json={"question": "Why?", "doc_ids": ["nope"]}),
                                           404, "UnknownDocumentError")
    _error(api.get("/articles/nope"), 404, "UnknownDocumentError")
    _error(api.delete("/articles/nope"), 404, "UnknownDocumentError")
    taken = api.post("/articles", json={"text": "Another text. It differs.", "id": SEED_ID})
    assert "already holds a different text" in _error(taken, 409, "InvalidDocumentError")
    bad_id = api.post("/articles", json={"text": PORT, "id": "<b>"})
    assert "is not allowed" in _error(bad_id, 400, "InvalidDocumentError")
    empty = api.post("/articles", json={"text": "   "})
    assert _error(empty, 400, "InvalidDocumentError") == "document is empty"


@pytest.mark.parametrize(
    "body,where",
    [
        ({"question": 5}, "question"),
        ({"question": "Why?", "history": 5}, "history"),
        ({"question": "Why?", "doc_ids": [["x"]]}, "doc_ids.0"),
        ({}, "question"),
    ],
)
def test_wrong_json_types_get_422_with_a_readable_message(api, body, where):
    assert _error(api.post("/ask", json=body), 422, "ValidationError").startswith(f"{where}:")


def test_oversized_body_is_refused_before_parsing(api):
    r = api.post("/articles", content=b"{" + b" " * (17 * 1024 * 1024) + b"}",
                 headers={"content-type": "application/json"})
    _error(r, 413, "RequestTooLargeError")


def test_openapi_lists_every_route(api):
    spec = httpx.get(str(api.base_url).split("/api/v1")[0] + "/openapi.json", timeout=30).json()
    paths = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert paths >= {("/api/v1/ask", "post"), ("/api/v1/articles", "get"), ("/api/v1/articles", "post"),
                     ("/api/v1/articles/upload", "post"), ("/api/v1/articles/{doc_id}", "get"),
                     ("/api/v1/articles/{doc_id}", "delete"), ("/api/v1/health", "get")}


def test_read_only_and_login(tmp_path, embedder):
    from qa import QAService

    path = tmp_path / "lib"
    QAService.from_seeds().save(path)
    with serve_process(path, "--read-only", "--auth", "ed:s3cret") as url:
        assert httpx.get(f"{url}api/v1/health", timeout=30).status_code == 401
        with httpx.Client(base_url=f"{url}api/v1", auth=("ed", "s3cret"), timeout=120) as api:
            assert api.get("/health").json()["read_only"] is True
            assert api.post("/ask", json={"question": "Who is Mousa Abu Marzouk?"}).status_code == 200
            assert "read-only" in _error(api.post("/articles", json={"text": PORT}), 403, "ForbiddenError")
            assert "read-only" in _error(api.delete(f"/articles/{SEED_ID}"), 403, "ForbiddenError")
        assert httpx.get(f"{url}api/v1/health", auth=("ed", "wrong"), timeout=30).status_code == 401


def test_an_articles_guide(api, seed_text):
    guide = api.get(f"/articles/{SEED_ID}/guide").json()
    assert guide["doc_id"] == SEED_ID and guide["summary"] and guide["names"] and guide["questions"]
    for c in guide["summary"] + [q["citation"] for q in guide["questions"]]:
        assert c["quote"] == seed_text[c["start"]:c["end"]]
    assert "nope" in _error(api.get("/articles/nope/guide"), 404, "UnknownDocumentError")
