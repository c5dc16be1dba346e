"""A hostile client against a real ``qa serve`` process on 127.0.0.1: what a probe of the server
found (issue 36), each case bounded in time and failing if the finding comes back."""

from __future__ import annotations

import gc
import re
import signal
import socket
import threading
import time

import httpx
import pytest

from tests.conftest import SEED_ID, serve_process
from ui import guard

TEXT = ("Bridge reopens in Leeds\n\nThe Wellington bridge reopened on Friday after four months of "
        "repairs. The council said the work cost 3 million pounds.")


def _error(r: httpx.Response, status: int, kind: str | None = None) -> str:
    """The one error shape: ``{"error": {"type", "message"}}`` and nothing else."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    if kind is not None:
        assert body["error"]["type"] == kind, body
    return body["error"]["message"]


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder):
    from qa import QAService

    path = tmp_path_factory.mktemp("hostile") / "lib"
    QAService.from_seeds().save(path)
    return path


@pytest.fixture(scope="module")
def served(library):
    with serve_process(library) as url:
        yield url


def test_every_rest_error_has_one_shape(served):
    with httpx.Client(base_url=f"{served}api/v1", timeout=60) as api:
        post = {"headers": {"content-type": "application/json"}}
        bodies = (b"{\"question\": \"\xff\"}", b"[" * 5000 + b"]" * 5000,
                  b"{\"question\": " + b"9" * 100_000 + b"}")
        for body in bodies:
            _error(api.post("/ask", content=body, **post), 400, "BadRequestError")
        _error(api.post("/ask", json={"question": 7}), 422, "ValidationError")
        assert "doc_ids is empty" in _error(api.post("/ask", json={"question": "Who?", "doc_ids": []}), 400)
        assert "POST" in _error(api.get("/ask"), 405, "MethodNotAllowedError")
        assert api.get("/ask").headers["allow"] == "POST"
        _error(api.put(f"/articles/{SEED_ID}"), 405, "MethodNotAllowedError")
        _error(api.get("/no-such-route"), 404, "NotFoundError")
        assert _error(api.get("/articles/nope"), 404, "UnknownDocumentError") == "unknown document id 'nope'"
        assert SEED_ID not in _error(api.get("/articles/nope/guide"), 404)  # no other ids disclosed
        _error(api.post("/articles", json={"text": TEXT, "id": "x" * 300}), 400, "InvalidDocumentError")
        assert api.post("/articles", json={"text": TEXT, "id": "bridge"}).status_code == 201
        _error(api.post("/articles", json={"text": TEXT + " More.", "id": "bridge"}), 409)
        _error(api.post("/articles", content=b"x" * (guard.MAX_REQUEST_BYTES + 1), **post), 413)
        r = api.post("/articles/upload", files={"file": ("deck.pptx", b"PK\x03\x04")})
        assert "unsupported file type" in _error(r, 415, "UnsupportedFileTypeError")


def test_ids_are_normalised_on_every_route_and_sources_are_names(served):
    with httpx.Client(base_url=f"{served}api/v1", timeout=60) as api:
        padded = f"{SEED_ID}  "
        art = api.get(f"/articles/{padded}")
        assert art.status_code == 200 and art.json()["doc_id"] == SEED_ID
        assert art.json()["source"] == f"{SEED_ID}.txt"  # the file's name, not the server's folder
        assert api.get(f"/articles/{padded}/guide").json()["doc_id"] == SEED_ID
        ans = api.post("/ask", json={"question": "Who is Mousa Abu Marzouk?", "doc_ids": [padded]})
        assert ans.status_code == 200 and ans.json()["citations"][0]["doc_id"] == SEED_ID
        assert api.post("/articles", json={"text": TEXT + " Cars wait.", "id": " spaced "}).status_code == 201
        assert api.delete("/articles/spaced  ").json() == {"removed": "spaced"}
        assert api.get("/articles/spaced").status_code == 404


def test_unknown_gradio_endpoint_is_a_clean_404_on_a_kept_connection(served):
    with httpx.Client(base_url=served, timeout=60) as client:
        for route in ("call", "run", "call/v2"):
            r = client.post(f"/gradio_api/{route}/no_such_endpoint", json={"data": []})
            assert "no_such_endpoint" in _error(r, 404, "UnknownEndpointError")
            assert client.get("/api/v1/health").status_code == 200  # the same connection works
        ok = client.post("/gradio_api/call/list_articles", json={"data": []})
        assert ok.status_code == 200 and "event_id" in ok.json()


def test_docs_work_offline(served):
    with httpx.Client(base_url=served, timeout=60) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/docs/assets/") for a in assets), assets  # no CDN
        for asset in assets:
            assert client.get(asset).status_code == 200
        assert "/api/v1/ask" in client.get("/openapi.json").json()["paths"]


def test_slow_clients_are_cut_off(served):
    host, port = served.split("//")[1].strip("/").split(":")
    results: dict[str, tuple[float, bytes]] = {}

    def talk(name: str, data: bytes) -> None:
        with socket.create_connection((host, int(port))) as s:
            t = time.monotonic()
            s.sendall(data)
            s.settimeout(60)
            data = b""
            while chunk := s.recv(4096):  # until the server closes the connection
                data += chunk
                if b"}}" in data:
                    break
            results[name] = (time.monotonic() - t, data)

    cases = {"nothing": b"", "half a header": b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n",
             "body promised": b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                              b"\r\nContent-Length: 100\r\n\r\n{\"que"}
    threads = [threading.Thread(target=talk, args=item) for item in cases.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert set(results) == set(cases)
    for name in ("nothing", "half a header"):
        seconds, data = results[name]
        assert data == b"" and seconds < guard.HEADER_TIMEOUT + 10, (name, seconds)  # closed
    seconds, data = results["body promised"]
    assert data.startswith(b"HTTP/1.1 408") and b"RequestTimeoutError" in data
    assert seconds < guard.BODY_TIMEOUT + 10


def test_uploads_are_bounded_per_client(served):
    with httpx.Client(base_url=served, timeout=60) as client:
        codes = [client.post("/gradio_api/upload", files={"files": ("a.txt", b"tiny")}).status_code
                 for _ in range(guard.UPLOADS_PER_WINDOW + 1)]
    assert codes[:-1] == [200] * guard.UPLOADS_PER_WINDOW
    assert codes[-1] == 429


def test_read_only_takes_no_files(library):
    with serve_process(library, "--read-only") as url, httpx.Client(base_url=url, timeout=60) as client:
        r = client.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)})
        assert "read-only" in _error(r, 403, "ReadOnlyError")
        assert "read-only" in _error(client.post("/api/v1/articles", json={"text": TEXT}), 403)
        assert client.get("/api/v1/health").json()["read_only"] is True


def test_failed_logins_are_throttled_and_docs_are_behind_the_login(library):
    with serve_process(library, "--auth", "ed:s3cret") as url, httpx.Client(base_url=url, timeout=60) as c:
        _error(c.get("/docs"), 401, "AuthenticationError")
        _error(c.get("/openapi.json"), 401, "AuthenticationError")
        assert c.get("/docs", auth=("ed", "s3cret")).status_code == 200
        for _ in range(guard.MAX_FAILED_LOGINS):
            _error(c.get("/api/v1/health", auth=("ed", "wrong")), 401, "AuthenticationError")
        limited = c.get("/api/v1/health", auth=("ed", "s3cret"))  # even the right password, now
        assert "failed logins" in _error(limited, 429, "TooManyRequestsError")
        assert 1 <= int(limited.headers["retry-after"]) <= guard.LOGIN_WINDOW
        form = c.post("/login", data={"username": "ed", "password": "s3cret"})
        _error(form, 429, "TooManyRequestsError")  # the Gradio login form shares the count


def test_sigterm_stops_the_server_with_streams_open_and_keeps_acknowledged_writes(library, tmp_path):
    import shutil

    from qa import QAService
    from ui.server import start_process

    path = tmp_path / "lib"
    shutil.copytree(library, path)
    proc, url = start_process(path)
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=f"{url}api/v1", timeout=30) as api:
            n = 0
            while not stop.is_set():
                try:
                    r = api.post("/articles", json={"text": f"{TEXT} Day {n} of the count.", "id": f"w{n}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    acknowledged.append(r.json()["doc_id"])
                n += 1

    def stream() -> None:
        try:
            with httpx.stream("GET", f"{url}gradio_api/heartbeat/x", timeout=60) as r:
                for _ in r.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass

    threads = [threading.Thread(target=f) for f in (write, stream, stream)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=guard.SHUTDOWN_GRACE + 20)  # before the fix: alive while a stream was open
        assert time.monotonic() - t0 < guard.SHUTDOWN_GRACE + 20
        assert "Traceback" not in proc.stderr.read()  # the cancelled streams are not errors
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
        for t in threads:
            t.join(timeout=60)
    assert len(acknowledged) >= 3
    svc = QAService.open_library(path)
    ids = {d.doc_id for d in svc.documents()}
    assert set(acknowledged) <= ids  # nothing acknowledged is lost
    for doc_id in acknowledged:
        assert svc.document_text(doc_id).startswith(TEXT)


def test_a_full_disk_is_a_503_and_the_library_stays_whole(library, tmp_path):
    import shutil
    import subprocess

    from qa import QAService
    from tests.conftest import fill, small_disk

    disk = small_disk(tmp_path)
    if disk is None:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        shutil.copytree(library, disk / "lib")
        with serve_process(disk / "lib") as url, httpx.Client(base_url=f"{url}api/v1", timeout=60) as api:
            before = {a["doc_id"] for a in api.get("/articles").json()}  # other tests share the library
            filler = fill(disk)
            big = " ".join(f"Sentence {i} of a long report on the harbour." for i in range(3000))
            assert "disk is full" in _error(api.post("/articles", json={"text": big}), 503, "StorageError")
            assert {a["doc_id"] for a in api.get("/articles").json()} == before
            filler.unlink()
            assert api.post("/articles", json={"text": TEXT, "id": "after-full"}).status_code == 201
        stored = {d.doc_id for d in QAService.open_library(disk / "lib").documents()}
        assert SEED_ID in before and stored == before | {"after-full"}
    finally:
        gc.collect()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_an_error_inside_the_app_is_a_500_in_the_error_shape():
    import anyio

    async def broken(scope, receive, send):
        raise RuntimeError("secret detail")

    async def half_sent(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        raise RuntimeError("after the response")

    async def run() -> None:
        for app, status in ((broken, 500), (half_sent, 200)):
            transport = httpx.ASGITransport(app=guard.Shield(app))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                r = await client.get("/anything")
                assert r.status_code == status
                if status == 500:
                    assert "secret" not in r.text and _error(r, 500, "InternalError")

    anyio.run(run)
