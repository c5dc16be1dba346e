"""The server: one FastAPI app, the Gradio UI mounted in it, one engine shared.

Served by uvicorn, with the middleware of ``ui/guard.py`` in front of every route (body limit
and time-outs, login throttling, upload bounds, clean errors). ``auth`` puts the UI, its API,
the REST API and the API docs behind a login (Gradio's form; HTTP Basic for REST); ``read_only``
serves no add, remove or upload anywhere.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from index import settings
from index.errors import QAError
from qa.service import QAService
from ui import guard
from ui.app import build_app, launch_kwargs

log = logging.getLogger("qa")

def make_app(svc: QAService, index_dir: Path, auth: tuple[str, str] | None = None,
             read_only: bool = False) -> FastAPI:
    """The whole server as one ASGI app: FastAPI with the Gradio UI mounted at ``/``."""
    from ui import rest
    from ui.app import App

    api = FastAPI(title="Grounded QA", description="Answers from the articles of a library, every "
                  "sentence cited by exact character offsets; or an honest abstention.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    state = App(svc, index_dir, read_only)
    rest.install_errors(api)
    rest.install_docs(api, auth)
    api.include_router(rest.router(state, auth))
    demo = build_app(svc, index_dir, read_only=read_only, app=state)
    demo.queue(default_concurrency_limit=4)
    kwargs = launch_kwargs(svc)
    api = gr.mount_gradio_app(api, demo, path="/", auth=auth, show_error=True,
                              max_file_size=kwargs["max_file_size"], theme=kwargs["theme"], css=kwargs["css"])
    names = {fn.api_name for fn in demo.fns.values() if fn.api_name}
    # (added innermost first: the last one added runs first)
    api.add_middleware(guard.KnownEndpoints, names=names)
    api.add_middleware(guard.UploadPolicy, read_only=read_only, max_file_bytes=svc.config.max_file_bytes)
    if auth is not None:
        api.add_middleware(guard.LoginThrottle)
    api.add_middleware(guard.BodyLimit)
    api.add_middleware(guard.Shield)
    return api


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:password`` as a pair; a one-line error otherwise."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise QAError("--auth takes user:password (both non-empty)")
    return user, password


def check_port(host: str, port: int) -> None:
    """A clear error before start-up for a port out of range or already taken."""
    if not 1 <= port <= 65535:
        raise QAError(f"--port must be between 1 and 65535, got {port}")
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise QAError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@dataclass
class Running:
    """A server started in a background thread (tests, load tests)."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def close(self) -> None:
        """Stop the server and wait for its thread (up to 30 s)."""
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _serving_threads() -> None:
    """One torch thread per request: requests run side by side on the cores, and torch's own
    threads would only oversubscribe them (measured: docs/performance.md)."""
    import torch

    torch.set_num_threads(settings.torch_threads())


def _prepare(index_dir: Path, auth: tuple[str, str] | None, read_only: bool,
             allow_private_urls: bool = False) -> tuple[QAService, FastAPI]:
    """Threads set, the library open, the model loaded (not on the first question), the app made."""
    _serving_threads()
    svc = QAService.open_library(index_dir)
    svc.allow_private_urls = svc.allow_private_urls or allow_private_urls
    svc.index.embedder.encode_one("warm up")  # the first forward passes, not on the first request
    svc.embed_questions(["warm up"])
    return svc, make_app(svc, Path(index_dir), auth=auth, read_only=read_only)


def start_in_background(index_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                        auth: tuple[str, str] | None = None, read_only: bool = False,
                        allow_private_urls: bool = False) -> Running:
    """Serve the library at ``index_dir`` from a background thread (tests, notebooks).

    :param port: default: a free port.
    :returns: the running server; ``.url`` is its address, ``.close()`` stops it.
    :raises QAError: the port is out of range or taken, or the library cannot be opened.
    """
    svc, app = _prepare(index_dir, auth, read_only, allow_private_urls)
    port = port or _free_port()
    server = uvicorn.Server(guard.uvicorn_config(app, host, port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline and thread.is_alive():
        time.sleep(0.05)
    return Running(server, thread, f"http://{host}:{port}/")


def serve(index_dir: Path, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
          auth: tuple[str, str] | None = None, read_only: bool = False,
          allow_private_urls: bool = False) -> None:
    """Serve the library at ``index_dir`` until interrupted (``qa serve``): the UI at ``/``,
    the REST API at ``/api/v1``, OpenAPI at ``/docs``.

    :raises QAError: the port is out of range or taken, or the library cannot be opened.
    """
    check_port(host, port)
    svc, app = _prepare(index_dir, auth, read_only, allow_private_urls)
    mode = ", read-only" if read_only else ""
    print(f"Serving {len(svc.documents())} article(s) from {index_dir} at http://{host}:{port}{mode}",
          flush=True)
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        log.warning("listening on %s without --auth: anyone who reaches this port can %s",
                    host, "read the library" if read_only else "read and change the library")
    if open_browser:
        import webbrowser

        threading.Timer(2.0, webbrowser.open, [f"http://127.0.0.1:{port}/"]).start()
    uvicorn.Server(guard.uvicorn_config(app, host, port)).run()


def start_process(index_dir: Path, *args: str, timeout: float = 300):
    """``qa serve`` on the library at ``index_dir`` in a process of its own on a free loopback
    port, once it answers: ``(process, url)``. The caller stops it (:func:`serve_process` does).

    :param args: more ``qa serve`` options, e.g. ``"--read-only"``.
    :raises QAError: the server exited, or did not answer within ``timeout`` seconds.
    """
    import subprocess
    import sys

    import httpx

    port = _free_port()
    qa = Path(sys.executable).parent / "qa"
    proc = subprocess.Popen([str(qa), "--index-dir", str(index_dir), "serve", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise QAError(f"qa serve exited: {proc.stderr.read().strip()[-300:]}")
        if time.time() > deadline:
            proc.kill()
            raise QAError(f"qa serve did not answer within {timeout:.0f} s")
        try:
            if httpx.get(f"{url}api/v1/health", timeout=5).status_code in (200, 401):
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)


@contextlib.contextmanager
def serve_process(index_dir: Path, *args: str, timeout: float = 300) -> Iterator[str]:
    """:func:`start_process` as a context: yields the URL, stops the server on exit (tests
    and load tests: the server then shares no interpreter lock with its clients)."""
    proc, url = start_process(index_dir, *args, timeout=timeout)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
