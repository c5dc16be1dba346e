"""What stands between a client and the app: ASGI middleware in front of every route.

Written as plain ASGI (no library does these for uvicorn + a mounted Gradio app) and applied to
the whole server, so a rule holds for the REST API, the Gradio API and the pages alike:

* :class:`BodyLimit`: a body over the limit is refused with 413 before it is read, and a body
  that stops arriving is cut off with 408 after ``BODY_TIMEOUT`` seconds.
* :class:`LoginThrottle`: after ``MAX_FAILED_LOGINS`` failed logins from one address within
  ``LOGIN_WINDOW`` seconds (REST Basic and the Gradio login alike), its next attempts get 429
  with ``Retry-After`` until the window has passed.
* :class:`UploadPolicy`: a read-only server takes no file at all (403); a writable one at most
  ``UPLOADS_PER_WINDOW`` upload requests and ``UPLOAD_BYTES_FACTOR`` x the file limit per
  address per ``UPLOAD_WINDOW`` seconds (429).
* :class:`KnownEndpoints`: a call of a Gradio endpoint the app does not have is a 404.
* :class:`Shield`: an error inside the app never reaches the client as a traceback or a reset
  connection: a 500 in the error shape when nothing was sent yet, logged once.

Every refusal is JSON ``{"error": {"type", "message"}}``, the REST API's shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections import defaultdict, deque

import anyio

log = logging.getLogger("qa")

# Requests larger than this are refused before they are read: an article's text of the largest
# size the library takes (Config.max_document_chars), JSON-escaped, fits with room to spare.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
BODY_TIMEOUT = 15.0  # seconds a body may pause between two of its parts
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW = 60.0
UPLOADS_PER_WINDOW = 30
UPLOAD_BYTES_FACTOR = 5
UPLOAD_WINDOW = 600.0

_UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/upload/")
_LOGIN_PATHS = ("/login", "/login/")
_CALL = re.compile(r"^/gradio_api/(?:call/v2|call|run|api)/([^/]+)/?$")


async def send_error(send, status: int, kind: str, message: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A complete JSON error response."""
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "?"


class _Window:
    """Events per key within a sliding window of ``seconds`` (thread-safe)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._events: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> deque[tuple[float, int]]:
        events = self._events[key]
        while events and events[0][0] <= now - self.seconds:
            events.popleft()
        if not events:
            del self._events[key]  # an idle address costs nothing
            return deque()
        return events

    def count(self, key: str) -> tuple[int, int, float]:
        """(events, their total weight, seconds until the oldest leaves the window)."""
        now = time.monotonic()
        with self._lock:
            events = self._live(key, now)
            if not events:
                return 0, 0, 0.0
            return len(events), sum(w for _, w in events), events[0][0] + self.seconds - now

    def add(self, key: str, weight: int = 1) -> None:
        with self._lock:
            self._events[key].append((time.monotonic(), weight))

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


def _retry_after(seconds: float) -> list[tuple[bytes, bytes]]:
    return [(b"retry-after", str(max(1, int(seconds + 0.999))).encode())]


class BodyLimit:
    """413 for a body over ``limit`` bytes, before the app reads any of it; 408 for a body that
    pauses longer than ``timeout`` seconds (a ``Content-Length`` promised and never sent)."""

    def __init__(self, app, limit: int = MAX_REQUEST_BYTES, timeout: float = BODY_TIMEOUT) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _too_large(send, self.limit)
        seen, started, rejected = 0, False, False
        body_done = length == b"0" or (length is None and b"transfer-encoding" not in headers)

        async def counted_receive():
            nonlocal seen, started, rejected, body_done
            if rejected:
                return {"type": "http.disconnect"}
            if body_done:  # after the body, receive() waits for a disconnect: no time limit
                return await receive()
            try:
                with anyio.fail_after(self.timeout):
                    message = await receive()
            except TimeoutError:
                rejected = True
                if not started:
                    started = True
                    await send_error(send, 408, "RequestTimeoutError",
                                     f"the request body stopped arriving for {self.timeout:.0f} s")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if seen > self.limit:  # answer now; the app sees the client go away
                    rejected = True
                    if not started:
                        started = True
                        await _too_large(send, self.limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if rejected:
                return  # the 413 or 408 has been sent
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not rejected:
                raise


async def _too_large(send, limit: int) -> None:
    await send_error(send, 413, "RequestTooLargeError", f"request body over the limit of {limit:,} bytes")


class LoginThrottle:
    """Failed logins limited per client address: REST Basic (a 401 to a request that carried
    credentials) and the Gradio login form (``POST /login`` refused)."""

    def __init__(self, app, max_failed: int = MAX_FAILED_LOGINS, window: float = LOGIN_WINDOW) -> None:
        self.app, self.max_failed = app, max_failed
        self.failures = _Window(window)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        is_form = scope["path"] in _LOGIN_PATHS and scope["method"] == "POST"
        has_credentials = any(k == b"authorization" for k, _ in scope.get("headers") or [])
        if not (is_form or has_credentials):
            return await self.app(scope, receive, send)
        client = _client(scope)
        failed, _, wait = self.failures.count(client)
        if failed >= self.max_failed:
            return await send_error(send, 429, "TooManyRequestsError",
                                    f"{failed} failed logins from this address: try again in "
                                    f"{wait:.0f} s", _retry_after(wait))
        status = 0

        async def watched_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched_send)
        if status == 401 or (is_form and status in (400, 401, 403)):
            self.failures.add(client)
        elif is_form and status == 200:
            self.failures.clear(client)


class UploadPolicy:
    """Gradio's file upload route: closed on a read-only server, bounded per address otherwise."""

    def __init__(self, app, read_only: bool, max_file_bytes: int,
                 per_window: int = UPLOADS_PER_WINDOW, window: float = UPLOAD_WINDOW) -> None:
        self.app, self.read_only, self.per_window = app, read_only, per_window
        self.max_bytes = UPLOAD_BYTES_FACTOR * max_file_bytes
        self.uploads = _Window(window)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] not in _UPLOAD_PATHS:
            return await self.app(scope, receive, send)
        if self.read_only:
            return await send_error(send, 403, "ReadOnlyError",
                                    "this server is read-only: it takes no files")
        client = _client(scope)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        size = int(length) if length.isdigit() else self.max_bytes // UPLOAD_BYTES_FACTOR
        count, total, wait = self.uploads.count(client)
        if count >= self.per_window or total + size > self.max_bytes:
            return await send_error(send, 429, "TooManyRequestsError",
                                    f"upload limit reached for this address ({self.per_window} uploads, "
                                    f"{self.max_bytes:,} bytes per {self.uploads.seconds:.0f} s): "
                                    f"try again in {wait:.0f} s", _retry_after(wait))
        self.uploads.add(client, size)
        await self.app(scope, receive, send)


class KnownEndpoints:
    """A call of a Gradio endpoint by a name the app does not have: 404, not Gradio's 500."""

    def __init__(self, app, names: set[str]) -> None:
        self.app, self.names = app, names

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            m = _CALL.match(scope["path"])
            if m and m.group(1) not in self.names:
                return await send_error(send, 404, "UnknownEndpointError",
                                        f"no endpoint named {m.group(1)[:80]!r}")
        await self.app(scope, receive, send)


class Shield:
    """Outermost: an exception from the app is logged once and answered with a 500 in the error
    shape if nothing was sent yet; a response already sent stays complete, so the connection
    is not reset."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except asyncio.CancelledError:
            # uvicorn cancels the requests still open SHUTDOWN_GRACE seconds after SIGTERM (a
            # stream): expected, so one line instead of uvicorn's traceback; the task ends here
            log.info("%s %s closed by the shutdown", scope.get("method"), scope.get("path"))
        except Exception:
            log.exception("error answering %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_error(send, 500, "InternalError", "internal error: see the server's log")


HEADER_TIMEOUT = 10.0  # seconds a connection may take to send a request's headers
SHUTDOWN_GRACE = 3  # seconds open streams get after SIGTERM/SIGINT before they are cancelled


def _h11_protocol():
    """uvicorn's h11 protocol with a time limit on request headers (uvicorn has none: a client
    sending nothing, or a header a byte at a time, would hold its connection for ever)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedHeaders(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_late)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            waiting = self.conn.their_state is h11.IDLE
            if waiting and self._header_timer is None:
                self._header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_late)
            elif not waiting and self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def connection_lost(self, exc) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _headers_late(self) -> None:
            self._header_timer = None
            between_requests = self.cycle is None or self.cycle.response_complete
            if self.conn.their_state is h11.IDLE and between_requests:
                self.transport.close()

    return TimedHeaders


def uvicorn_config(app, host: str, port: int):
    """The server's uvicorn settings: header time-out, bounded graceful shutdown."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", http=_h11_protocol(),
                          timeout_keep_alive=5, timeout_graceful_shutdown=SHUTDOWN_GRACE)
