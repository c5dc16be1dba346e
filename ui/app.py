"""(Over 400 lines: one Gradio Blocks, whose event handlers must be defined inside it beside
the components they update; the HTML they render is ui/render.py.)

The browser app: a thin Gradio shell over :class:`qa.QAService`.

Chat on the left with the article's guide (summary, names, questions it answers) below it, the
article on the right with every cited span highlighted at its exact characters, a sources list,
and a library panel to add (paste, upload a file or a PDF, or give a URL) and remove articles.
Named API endpoints (``ask``, ``add_article``, ``add_article_url``, ``remove_article``, ``list_articles``,
``article_text``) return plain JSON for ``gradio_client``.
"""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from index.errors import QAError
from index.units import ArticleDetails
from qa.service import QAService
from qa.types import Answer
from ui.render import (
    CSS,
    GUIDE_CLICK_JS,
    SCROLL_JS,
    article_html,
    chat_question,
    chat_text,
    guide_html,
    safe_name,
    sources_html,
    status_html,
)

log = logging.getLogger("qa")
ALL = "__all__"
UPLOAD_MAX_AGE = 900  # seconds


class App:
    """State shared by every browser session: the service and where its library is saved."""

    def __init__(self, svc: QAService, index_dir: Path, read_only: bool = False) -> None:
        self.svc = svc
        self.index_dir = index_dir
        self.read_only = read_only
        self.write_lock = threading.Lock()

    def library_version(self) -> tuple[int, int]:
        """Changes whenever the library does (in this process or another one)."""
        docs = self.svc.documents()  # takes in other processes' commits
        return self.svc.index.generation, len(docs)

    # -- helpers used by handlers and API ---------------------------------------------------
    def titles(self) -> dict[str, str]:
        """Document id → title, for every article of the library now."""
        return {d.doc_id: d.title for d in self.svc.documents()}

    def urls(self) -> dict[str, str]:
        """Document id → the URL it was fetched from, for the articles added by URL."""
        return {d.doc_id: d.source for d in self.svc.documents()
                if d.source.startswith(("http://", "https://"))}

    def scope_choices(self) -> list[tuple[str, str]]:
        """The "ask" dropdown: all articles, then each as ``title (id)``."""
        return [("All articles", ALL)] + [(f"{t} ({d})", d) for d, t in self.titles().items()]

    def doc_choices(self) -> list[tuple[str, str]]:
        """The "remove" dropdown: each article as ``title (id)``."""
        return [(f"{t} ({d})", d) for d, t in self.titles().items()]

    def default_doc(self) -> str | None:
        """The article shown before any answer: the first of the library, or None when empty."""
        docs = self.svc.documents()
        return docs[0].doc_id if docs else None

    def guide(self, scope: str | None) -> tuple[str, list[list[str]]]:
        """The guide panel of the article in scope (the only one when all are, else none) and
        its questions as samples for the question list."""
        docs = self.svc.documents()
        doc_id = scope if scope not in (None, ALL) else (docs[0].doc_id if len(docs) == 1 else None)
        if doc_id is None or doc_id not in {d.doc_id for d in docs}:
            return guide_html(None, ""), []
        try:
            g = self.svc.guide(doc_id)
        except QAError:
            return guide_html(None, ""), []
        return guide_html(g, self.titles().get(doc_id, doc_id)), [[q.question] for q in g.questions]

    def guide_view(self, scope: str | None, item: str) -> str:
        """The article pane with a guide item's citations highlighted: ``summary-N`` (one
        summary sentence) or ``name-N`` (every mention of a name); anything else, or an article
        no longer there, shows the article as it is."""
        docs = {d.doc_id for d in self.svc.documents()}
        doc_id = scope if scope not in (None, ALL) else (next(iter(docs)) if len(docs) == 1 else None)
        if doc_id not in docs:
            return self.view(None, scope)
        g = self.svc.guide(doc_id)
        part, _, number = (item or "").partition("-")
        n = int(number) if number.isdigit() else -1
        if part == "summary" and 0 <= n < len(g.summary):
            shown = [g.summary[n]]
        elif part == "name" and 0 <= n < len(g.names):
            shown = g.names[n].mentions
        else:
            return self.view(None, doc_id)
        return article_html(self.titles()[doc_id], self.svc.document_text(doc_id), shown)

    def view(self, answer: Answer | None, scope: str | None) -> str:
        """The article pane: the document the answer cites (else the one in scope) with the
        cited spans highlighted, all text escaped.
        """
        items = (answer.related if answer.abstained else answer.citations) if answer else []
        doc_id = items[0].doc_id if items else (scope if scope and scope != ALL else None)
        doc_id = doc_id if doc_id in self.titles() else self.default_doc()
        if doc_id is None:
            return article_html("The library is empty", "Add an article to start.", [])
        shown = [c for c in items if c.doc_id == doc_id]
        return article_html(
            self.titles()[doc_id],
            self.svc.document_text(doc_id),
            shown,
            related=bool(answer and answer.abstained),
            short=answer.short if answer is not None and answer.short is not None
            and answer.short.doc_id == doc_id else None,
        )

    def add(
        self, text: str, title: str = "", source: str = "", doc_id: str | None = None,
        details: ArticleDetails | None = None,
    ) -> tuple[str, bool]:
        """Add an article for the UI or the REST API.

        :returns: its id, and whether it is new.
        :raises QAError: the server is read-only, or the article is not valid (nothing added).
        """
        if self.read_only:
            raise QAError("this server is read-only: articles cannot be added")
        with self.write_lock:
            before = set(self.titles())
            new_id = self.svc.add_document(text, doc_id=doc_id or None, title=title or None,
                                           source=source, details=details)
            if new_id not in before:
                self._save()
            return new_id, new_id not in before

    def add_url(self, url: str, title: str = "", doc_id: str | None = None) -> tuple[str, bool]:
        """Fetch the article at ``url`` (``QAService.load_url``: public addresses only unless
        the server allows private ones) and add it; the fetch happens outside the write lock.

        :returns: its id, and whether it is new.
        :raises QAError: read-only, not fetched (the rule or the failure), or not an article.
        """
        if self.read_only:
            raise QAError("this server is read-only: articles cannot be added")
        art = self.svc.load_url(url)
        return self.add(art.text, title or art.title, art.source, doc_id, art.details)

    def remove(self, doc_id: str) -> str:
        """Remove an article for the UI or the REST API; returns its id as stored.

        :raises QAError: the server is read-only, or no article has this id.
        """
        if self.read_only:
            raise QAError("this server is read-only: articles cannot be removed")
        with self.write_lock:
            self.svc.index.refresh()
            doc_id = self.svc.index.get_document(doc_id).doc_id
            self.svc.remove_document(doc_id)
            self._save()
        return doc_id

    def _save(self) -> None:
        """Refresh the derived files; the change itself is already committed, so a failure
        here (e.g. a read-only directory) is logged, not reported as a failed write."""
        try:
            self.svc.save()
        except (QAError, OSError) as exc:
            log.warning("qa: derived files not refreshed (%s)", type(exc).__name__)

    # -- API endpoints (JSON in, JSON out) --------------------------------------------------
    def api_ask(
        self, question: str, history: list[list[str]] | None = None, doc_ids: list[str] | None = None
    ) -> dict:
        """Answer a question; every citation has doc_id, start, end and the exact quote."""
        try:
            return self.svc.ask(question, history=history, doc_ids=doc_ids or None).to_dict()
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def api_add_article(self, text: str, title: str = "", doc_id: str = "") -> dict:
        """Index an article's text; returns its doc_id and whether it was new."""
        try:
            new_id, added = self.add(text, title, "api", doc_id or None)
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        return {"doc_id": new_id, "added": added, "title": self.titles()[new_id]}

    def api_add_article_url(self, url: str, title: str = "", doc_id: str = "") -> dict:
        """Fetch the article at ``url`` and index it (public addresses only unless the server
        allows private ones); returns its doc_id and whether it was new."""
        try:
            new_id, added = self.add_url(url, title, doc_id or None)
        except QAError as exc:
            raise gr.Error(str(exc)) from None
        return {"doc_id": new_id, "added": added, "title": self.titles()[new_id]}

    def api_remove_article(self, doc_id: str) -> dict:
        """Remove an article from the library."""
        try:
            return {"removed": self.remove(doc_id)}
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def api_list_articles(self) -> list[dict]:
        """Every article in the library: doc_id, title and length in characters."""
        return [{"doc_id": d.doc_id, "title": d.title, "chars": len(d.text)} for d in self.svc.documents()]

    def api_article_text(self, doc_id: str) -> str:
        """The exact text citations point into."""
        try:
            return self.svc.document_text(doc_id)
        except QAError as exc:
            raise gr.Error(str(exc)) from None


def build_app(svc: QAService, index_dir: Path, read_only: bool = False, app: App | None = None) -> gr.Blocks:
    """The Gradio Blocks of the UI and its named API (no add or remove when ``read_only``);
    ``app`` shares its state (write lock) with the REST API."""
    app = app or App(svc, index_dir, read_only)

    # Uploads a client left unused are removed after UPLOAD_MAX_AGE seconds (used ones at once).
    with gr.Blocks(title="Grounded QA — answers you can check",
                   delete_cache=(UPLOAD_MAX_AGE, UPLOAD_MAX_AGE)) as demo:
        gr.Markdown(
            "## Grounded QA\nAsk about the article. Every answer sentence is a quote from it, "
            "highlighted in place; when the article does not say, the answer says so."
        )
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=360):
                scope = gr.Dropdown(
                    choices=app.scope_choices(),
                    value=app.default_doc() or ALL,
                    label="Ask",
                    elem_id="qa-scope",
                )
                chat = gr.Chatbot(
                    label="Conversation",
                    height=460,
                    render_markdown=False,
                    sanitize_html=True,
                    elem_id="qa-chat",
                    buttons=["copy"],
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about the article…",
                        show_label=False,
                        scale=5,
                        elem_id="qa-question",
                        max_length=app.svc.config.max_question_chars,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-send")
                with gr.Row():
                    new_chat = gr.Button("New chat", size="sm", elem_id="qa-new-chat")
                first_guide, first_questions = app.guide(app.default_doc() or ALL)
                guide_questions = gr.Dataset(
                    components=[question], samples=first_questions or [[""]],
                    label="Questions this article answers (each already answered from it)",
                    elem_id="qa-guide-questions", visible=bool(first_questions))
                guide_box = gr.HTML(first_guide, elem_id="qa-guide", js_on_load=GUIDE_CLICK_JS)
            with gr.Column(scale=6, min_width=420):
                article = gr.HTML(app.view(None, app.default_doc()), elem_id="qa-article")
                sources = gr.HTML(sources_html(None, {}), elem_id="qa-sources")

        with gr.Accordion("Library: add or remove articles", open=False, elem_id="qa-library",
                          visible=not read_only):
            with gr.Row():
                with gr.Column():
                    files = gr.File(
                        label=f"Upload {', '.join(svc.accepted_suffixes)} "
                              f"(up to {svc.config.max_file_bytes // 1_000_000} MB each)",
                        file_count="multiple",
                        file_types=list(svc.accepted_suffixes),
                        elem_id="qa-upload",
                    )
                with gr.Column():
                    paste_title = gr.Textbox(label="Title (optional)", elem_id="qa-paste-title")
                    paste = gr.Textbox(label="…or paste article text", lines=6, elem_id="qa-paste")
                    url_box = gr.Textbox(label="…or add from URL", placeholder="https://…",
                                         elem_id="qa-url")
                    add_btn = gr.Button("Add to library", elem_id="qa-add")
            status = gr.HTML("", elem_id="qa-status")
            with gr.Row():
                remove_choice = gr.Dropdown(
                    choices=app.doc_choices(), label="Remove article", elem_id="qa-remove-choice", scale=4
                )
                remove_btn = gr.Button("Remove", variant="stop", scale=1, elem_id="qa-remove")

        def on_ask(q: str, messages: list, history: list, where: str):
            try:
                ans = app.svc.ask(
                    q, history=[tuple(t) for t in history], doc_ids=None if where in (None, ALL) else [where]
                )
            except QAError as exc:
                gr.Warning(html.escape(str(exc)))  # the pop-up renders HTML
                return gr.update(), messages, history, gr.update(), gr.update()
            messages = [
                *messages,
                {"role": "user", "content": chat_question(ans.question)},
                {"role": "assistant", "content": chat_text(ans)},
            ]
            return (
                "",
                messages,
                [*history, [ans.question, ans.text]],
                app.view(ans, where),
                sources_html(ans, app.titles(), app.urls()),
            )

        ask_io = dict(
            fn=on_ask,
            inputs=[question, chat, turns, scope],
            outputs=[question, chat, turns, article, sources],
            api_visibility="private",
        )
        send.click(**ask_io).then(fn=None, js=SCROLL_JS)
        question.submit(**ask_io).then(fn=None, js=SCROLL_JS)

        def on_new_chat(where: str):
            return [], [], app.view(None, where), sources_html(None, {})

        new_chat.click(on_new_chat, [scope], [chat, turns, article, sources], api_visibility="private")

        def on_scope(where: str):
            panel, samples = app.guide(where)
            return (app.view(None, where), panel,
                    gr.update(samples=samples or [[""]], visible=bool(samples)))

        scope.change(on_scope, [scope], [article, guide_box, guide_questions], api_visibility="private")

        def on_guide_click(where: str, evt: gr.EventData):
            return app.guide_view(where, str(getattr(evt, "item", "")))

        # a summary sentence or a name clicked: its citations highlighted in the article
        guide_box.click(on_guide_click, [scope], [article], api_visibility="private").then(
            fn=None, js=SCROLL_JS)
        # a suggested question is asked when clicked
        guide_questions.click(lambda sample: sample[0], [guide_questions], [question],
                              api_visibility="private").then(**ask_io).then(fn=None, js=SCROLL_JS)

        def library_updates(message: str, focus: str | None):
            scope_update = (
                gr.update(choices=app.scope_choices(), value=focus)
                if focus
                else gr.update(choices=app.scope_choices())
            )
            return (
                message,
                scope_update,
                gr.update(choices=app.doc_choices(), value=None),
                None,
                "",
                "",
                "",
                app.view(None, focus),
            )

        def on_add(uploads: list | None, text: str, title: str, url: str,
                   progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
            notes, last = [], None
            jobs: list[tuple[str, Any]] = [(safe_name(Path(f).name), f) for f in uploads or []]
            if text and text.strip():
                jobs.append(("pasted text", None))
            if url and url.strip():
                jobs.append((url.strip(), "url"))
            if not jobs:
                return library_updates(
                    status_html([("error", "Choose a file, paste some text or give a URL first.")]), None
                )
            for i, (name, path) in enumerate(jobs):
                progress(i / len(jobs), desc=f"{'Fetching' if path == 'url' else 'Indexing'} {name}")
                try:
                    if path is None:
                        doc_id, added = app.add(text, title, "pasted")
                    elif path == "url":
                        doc_id, added = app.add_url(name, title)
                    else:
                        try:
                            data = Path(path).read_bytes()
                        finally:  # read once: the upload leaves the server's temp folder now
                            Path(path).unlink(missing_ok=True)
                        art = svc.load_upload(data, name)
                        doc_id, added = app.add(art.text, art.title or title, name)
                    last = doc_id
                    notes.append(
                        ("ok", f"{'Added' if added else 'Already in the library'}: {name} as {doc_id}")
                    )
                except QAError as exc:
                    notes.append(("error", f"Could not add: {exc}"))
                except OSError:
                    notes.append(("error", f"Could not add: {name}: the upload could not be read"))
            progress(1.0, desc="Done")
            return library_updates(status_html(notes), last)

        add_btn.click(
            on_add,
            [files, paste, paste_title, url_box],
            [status, scope, remove_choice, files, paste, paste_title, url_box, article],
            api_visibility="private",
        )

        def on_remove(doc_id: str | None):
            if not doc_id:
                return library_updates(status_html([("error", "Choose an article to remove.")]), None)
            try:
                app.remove(doc_id)
            except QAError as exc:
                return library_updates(status_html([("error", f"Could not remove: {exc}")]), None)
            return library_updates(status_html([("ok", f"Removed: {doc_id}")]), app.default_doc())

        remove_btn.click(
            on_remove,
            [remove_choice],
            [status, scope, remove_choice, files, paste, paste_title, url_box, article],
            api_visibility="private",
        )

        # Choices follow the library: at page load, and when it changes (polled; cheap when
        # nothing did). Other processes' and other browsers' changes show without a restart.
        seen = gr.State(None)

        def refresh_choices(last):
            version = app.library_version()
            if version == last:
                return gr.skip(), gr.skip(), last
            return (gr.update(choices=app.scope_choices()), gr.update(choices=app.doc_choices()),
                    version)

        demo.load(refresh_choices, [seen], [scope, remove_choice, seen], api_visibility="private")
        gr.Timer(3).tick(refresh_choices, [seen], [scope, remove_choice, seen], api_visibility="private",
                         show_progress="hidden")

        gr.api(app.api_ask, api_name="ask")
        if not read_only:
            gr.api(app.api_add_article, api_name="add_article")
            gr.api(app.api_add_article_url, api_name="add_article_url")
            gr.api(app.api_remove_article, api_name="remove_article")
        gr.api(app.api_list_articles, api_name="list_articles")
        gr.api(app.api_article_text, api_name="article_text")
    return demo


def launch_kwargs(svc: QAService) -> dict:
    """Gradio's launch/mount settings for the app of ``svc`` (uploads up to twice its file
    limit reach our own check, which names the limit)."""
    return {"css": CSS, "theme": gr.themes.Soft(), "max_file_size": 2 * svc.config.max_file_bytes,
            "show_error": True}
