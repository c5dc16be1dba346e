"""The plain JSON REST API, ``/api/v1``, served beside the Gradio UI by the same process.

Routes call the same :class:`qa.QAService` as the UI, without Gradio's queue: questions run in
a thread pool of ``ASK_THREADS`` (torch at one thread each, see ``ui/server.py``), writes go
through the UI's write lock. Errors are JSON ``{"error": {"type", "message"}}`` with the Python
API's one-line messages: 400 bad input, 403 a write on a read-only server, 404 unknown article,
409 an id that holds another text, 413 too large, 415 a file type it does not read, 422 wrong
JSON types, 503 the library could not be written; 401, 405, 408, 429 and 500 from the server
itself (``ui/guard.py``).
"""

from __future__ import annotations

import secrets
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.errors import (
    EmptyIndexError,
    IndexExistsError,
    InvalidDocumentError,
    QAError,
    StorageError,
    UnknownDocumentError,
    UnsupportedFileTypeError,
)
from ui.app import App
from ui.render import safe_name

# Questions answered at once: two per core. An ask is about 33 ms of one core (11 ms embedding
# the question, most of the rest reading); more threads only queue (12 instead of 4 gave fewer
# asks/s: `python -m eval.bench.load --api rest`; docs/performance.md).
ASK_THREADS = 4
_ask_limiter: anyio.CapacityLimiter | None = None


class AskRequest(BaseModel):
    """The body of ``POST /api/v1/ask``."""
    question: str = Field(description="the question, up to 500 characters")
    history: list[tuple[str, str]] | None = Field(
        default=None, description="earlier turns as [question, answer] pairs, oldest first")
    doc_ids: list[str] | None = Field(default=None, description="ask only these articles")


class ArticleRequest(BaseModel):
    """The body of ``POST /api/v1/articles``: the article's text, or its URL."""
    text: str | None = Field(default=None, description="the article's plain text")
    url: str | None = Field(default=None, description="or the article's http(s) URL: fetched, "
                            "a web page reduced to its main text (public addresses only unless "
                            "the server runs with --allow-private-urls)")
    title: str | None = Field(default=None, description="at most 300 characters")
    id: str | None = Field(default=None, description="letters, digits, _-.:,()%@+~ and spaces; at most 128")


def _status(exc: QAError) -> int:
    if isinstance(exc, UnknownDocumentError):
        return 404
    if isinstance(exc, UnsupportedFileTypeError):
        return 415
    if isinstance(exc, InvalidDocumentError) and "already holds a different text" in str(exc):
        return 409
    if isinstance(exc, StorageError | IndexExistsError):
        return 503
    if isinstance(exc, EmptyIndexError):
        return 409
    return 400


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


# The error type a client sees for an HTTP status raised by FastAPI or Starlette themselves.
_KINDS = {400: "BadRequestError", 401: "AuthenticationError", 403: "ForbiddenError",
          404: "NotFoundError", 405: "MethodNotAllowedError", 408: "RequestTimeoutError",
          409: "ConflictError", 413: "RequestTooLargeError", 415: "UnsupportedMediaTypeError",
          422: "ValidationError", 429: "TooManyRequestsError", 503: "UnavailableError"}


def install_errors(api: FastAPI) -> None:
    """One error shape, ``{"error": {"type", "message"}}``, for every error of the app's own
    routes: the project's exceptions, request validation and FastAPI's HTTP errors (a body that
    is not JSON, a failed login, a wrong method). Gradio's mounted routes keep their format."""

    @api.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError):
        return _error(_status(exc), type(exc).__name__, str(exc))

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if message == "There was an error parsing the body":  # FastAPI's words for any of these
            message = "the body could not be read as JSON (invalid UTF-8, syntax, depth or numbers)"
        response = _error(exc.status_code, _KINDS.get(exc.status_code, "HTTPError"), message)
        response.headers.update(exc.headers or {})
        return response

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where or 'body'}: {e.get('msg', 'invalid')}")
        return _error(422, "ValidationError", "; ".join(parts))


def router(app: App, auth: tuple[str, str] | None = None) -> APIRouter:
    """The ``/api/v1`` routes over the UI's :class:`ui.app.App` (one engine, one write lock)."""
    deps = [Depends(_basic_auth(auth))] if auth else []
    r = APIRouter(prefix="/api/v1", dependencies=deps)
    svc = app.svc

    async def in_pool(fn, *args):
        global _ask_limiter
        if _ask_limiter is None:
            _ask_limiter = anyio.CapacityLimiter(ASK_THREADS)
        return await anyio.to_thread.run_sync(fn, *args, limiter=_ask_limiter)

    @r.post("/ask", summary="Answer a question with exact citations (or abstain)")
    async def ask(body: AskRequest) -> dict:
        answer = await in_pool(lambda: svc.ask(body.question, history=body.history, doc_ids=body.doc_ids))
        return answer.to_dict()

    @r.get("/articles", summary="Every article: id, title, length")
    async def articles() -> list[dict]:
        return app.api_list_articles()

    @r.get("/articles/{doc_id}", summary="An article's text, title and sentence offsets")
    async def article(doc_id: str) -> dict:
        svc.index.refresh()  # another process may have added it
        record = svc.index.get_document(doc_id)
        sentences = [{"start": n.start_char_idx, "end": n.end_char_idx}
                     for n in svc.index.nodes(doc_id) if n.metadata["kind"] == "sentence"]
        about = svc.details(doc_id)
        return {"doc_id": record.doc_id, "title": record.title, "source": record.public_source,
                "author": about.author, "published": about.published,
                "text": record.text, "sentences": sentences}

    @r.get("/articles/{doc_id}/guide", summary="An article's guide: summary, names, answered questions")
    async def guide(doc_id: str) -> dict:
        svc.index.refresh()  # another process may have added it
        return (await in_pool(lambda: svc.guide(doc_id))).to_dict()

    @r.get("/health", summary="Library generation, article count, model")
    async def health() -> dict:
        docs = svc.documents()
        return {"status": "ok", "generation": svc.index.generation, "articles": len(docs),
                "model": svc.config.model_name, "read_only": app.read_only}

    if app.read_only:
        @r.api_route("/articles", methods=["POST"], include_in_schema=False)
        @r.api_route("/articles/upload", methods=["POST"], include_in_schema=False)
        @r.api_route("/articles/{doc_id}", methods=["DELETE"], include_in_schema=False)
        async def read_only() -> None:
            raise HTTPException(403, "this server is read-only: it adds and removes no articles")

        return _with_fallback(r)

    @r.post("/articles", status_code=201, summary="Add an article (JSON: text or url, title, id)")
    async def add(body: ArticleRequest) -> dict:
        if (body.text is None) == (body.url is None):
            raise InvalidDocumentError("give the article's text or its url (one of them)")
        if body.url is not None:
            doc_id, added = await anyio.to_thread.run_sync(
                lambda: app.add_url(body.url, body.title or "", body.id))
        else:
            doc_id, added = await anyio.to_thread.run_sync(
                lambda: app.add(body.text, body.title or "", "api", body.id))
        return {"doc_id": doc_id, "added": added, "title": svc.index.get_document(doc_id).title}

    @r.post("/articles/upload", status_code=201,
            summary="Add an article from a file (.txt, .md, .html, .pdf)")
    async def upload(file: Annotated[UploadFile, File()], id: Annotated[str | None, Form()] = None) -> dict:
        data = await file.read(svc.config.max_file_bytes + 1)
        name = safe_name(file.filename or "upload")

        def load_and_add() -> tuple[str, bool]:  # in a thread: reading a PDF takes a while
            art = svc.load_upload(data, name)
            return app.add(art.text, art.title, art.source, id, art.details)

        doc_id, added = await anyio.to_thread.run_sync(load_and_add)
        return {"doc_id": doc_id, "added": added, "title": svc.index.get_document(doc_id).title}

    @r.delete("/articles/{doc_id}", summary="Remove an article")
    async def remove(doc_id: str) -> dict:
        return {"removed": await anyio.to_thread.run_sync(app.remove, doc_id)}

    return _with_fallback(r)


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _with_fallback(r: APIRouter) -> APIRouter:
    """The last route under /api/v1: a wrong method is a 405 naming the allowed ones, an unknown
    path a 404, both in the error shape (without it the UI mounted at / would answer them)."""
    routes = [route for route in r.routes if hasattr(route, "path_regex")]

    @r.api_route("/{rest:path}", methods=_METHODS, include_in_schema=False)
    async def fallback(request: Request, rest: str):
        allowed = sorted({m for route in routes if route.path_regex.match(request.url.path)
                          for m in route.methods or ()})
        if allowed:
            raise HTTPException(405, f"{request.method} is not allowed here: use {', '.join(allowed)}",
                                headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no route {request.url.path[:200]!r} in the REST API (see /docs)")

    return r




def _basic_auth(auth: tuple[str, str]):
    basic = HTTPBasic()

    # (a default, not Annotated: with postponed annotations FastAPI cannot see the local `basic`)
    def check(credentials: HTTPBasicCredentials = Depends(basic)) -> None:  # noqa: B008
        user_ok = secrets.compare_digest(credentials.username.encode(), auth[0].encode())
        password_ok = secrets.compare_digest(credentials.password.encode(), auth[1].encode())
        if not (user_ok and password_ok):
            raise HTTPException(status_code=401, detail="wrong user or password",
                                headers={"WWW-Authenticate": "Basic"})

    return check


def install_docs(api: FastAPI, auth: tuple[str, str] | None = None) -> None:
    """``/docs`` (Swagger UI) and ``/openapi.json``, behind the REST login when there is one;
    Swagger UI's scripts served by the app from the ``swagger-ui-bundle`` package, so the page
    works offline (FastAPI's default loads them from a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    deps = [Depends(_basic_auth(auth))] if auth else []
    api.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @api.get("/openapi.json", dependencies=deps, include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(api.openapi())

    @api.get("/docs", dependencies=deps, include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{api.title} - API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")
