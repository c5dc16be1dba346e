"""End to end in a real headless Chromium (Debian's package, driven by Playwright).

Each test saves a screenshot under ``artifacts/``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAYLOAD_ARTICLE = (
    "Council meeting ends in uproar\n\n"
    "The council met on Thursday to vote on the harbour plan. <script>console.error('XSS-FIRED');"
    "alert('script ran')</script> Members approved the plan by 9 votes to 4.\n\n"
    "<img src=x onerror=\"console.error('XSS-FIRED');alert('onerror ran')\"> The mayor said "
    "work would start in June. **Bold claim** [a link](javascript:alert(1)) "
    "<a href=\"javascript:alert('link')\">click</a>"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.dialogs, pg.console_errors = [], []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
    pg.goto(app_url)
    pg.wait_for_selector("#qa-question textarea", timeout=30_000)
    yield pg
    context.close()


def ask(page, question: str) -> float:
    before = page.locator("#qa-chat .message").count()
    page.fill("#qa-question textarea", question)
    t = time.perf_counter()
    page.click("#qa-send")
    page.wait_for_function(
        f"document.querySelectorAll('#qa-chat .message').length >= {before + 2}",
        timeout=30_000,
    )
    return time.perf_counter() - t


def open_library(page) -> None:
    if page.locator("#qa-upload").is_visible():
        return  # open already (a click would close it)
    page.get_by_text("Library: add or remove articles").click()
    page.wait_for_selector("#qa-upload", state="visible")


def upload(page, path) -> str:
    open_library(page)
    page.set_input_files("#qa-upload input[type=file]", str(path))
    page.wait_for_timeout(500)
    page.click("#qa-add")
    page.wait_for_function(
        "document.querySelector('#qa-status') && "
        "/Added|Already in the library|Could not add/"
        ".test(document.querySelector('#qa-status').innerText)",
        timeout=60_000,
    )
    return page.inner_text("#qa-status")


def test_question_gets_answer_and_highlight_in_the_article(page, seed_text):
    seconds = ask(page, "How many rockets did Hamas fire on Sunday?")
    chat = page.inner_text("#qa-chat")
    assert "On Sunday, Hamas fired about 10 rockets" in chat and "Confidence" in chat
    mark = page.locator("#qa-article mark.qa-cite").first
    mark.wait_for(state="visible")
    start = seed_text.index("On Sunday, Hamas fired about 10 rockets")
    assert mark.get_attribute("title").startswith(f"[1] characters {start}–")
    assert "On Sunday, Hamas fired about 10 rockets" in mark.inner_text()
    assert "?\n10 [1]\n" in chat or "?\nabout 10 [1]\n" in chat  # the short answer leads
    assert mark.evaluate("m => m.classList.contains('qa-selected')")
    assert "score" in page.inner_text("#qa-sources")
    # the short answer: bold inside the cited sentence's highlight, and first in the sources
    short = page.locator("#qa-article mark.qa-cite strong.qa-short")
    assert short.count() == 1 and short.inner_text() in ("about 10", "10")
    start = seed_text.index(f"{short.inner_text()} rockets")
    end = start + len(short.inner_text())
    assert short.get_attribute("title") == f"short answer, characters {start}–{end}"
    assert page.inner_text("#qa-short-text") == short.inner_text()
    # the highlighted span is in view inside the article pane
    page.wait_for_function(
        "() => { const m = document.querySelector('#qa-article mark.qa-cite');"
        " const r = m.getBoundingClientRect(), p = document.querySelector('.qa-article')"
        ".getBoundingClientRect(); return r.top >= p.top - 1 && r.bottom <= p.bottom + 1; }",
        timeout=5_000,
    )
    page.screenshot(path=str(ARTIFACTS / "ui-answer.png"), full_page=True)
    (ARTIFACTS / "ui-timings.json").write_text(json.dumps({"answer_seconds_in_browser": seconds}))


def test_abstention_is_shown_as_such(page):
    ask(page, "How many aid trucks entered Gaza last week?")
    chat = page.inner_text("#qa-chat")
    assert "The article does not say" in chat and "below the threshold" in chat
    assert page.locator("#qa-article mark.qa-cite").count() == 0
    assert page.locator("#qa-article mark.qa-related").count() >= 1
    # the first related passage is the one selected and scrolled to, whatever its position
    selected = page.locator("#qa-article mark.qa-selected")
    selected.wait_for(state="visible")
    assert selected.count() == 1 and selected.get_attribute("data-cite").split(",")[0] == "1"
    assert "not</b> as support" in page.inner_html("#qa-sources")
    page.screenshot(path=str(ARTIFACTS / "ui-abstain.png"), full_page=True)


def test_hostile_article_is_rendered_as_text(page, tmp_path):
    path = tmp_path / "council<img src=x onerror=alert(9)>.txt"
    path.write_text(PAYLOAD_ARTICLE, encoding="utf-8")
    status = upload(page, path)
    assert status.startswith("Added: "), status
    page.wait_for_function("document.querySelector('#qa-article').innerText.includes('Council meeting ends')")
    ask(page, "By how many votes was the harbour plan approved?")
    article = page.inner_text("#qa-article")
    assert "<script>console.error('XSS-FIRED');" in article  # shown literally
    assert "<img src=x onerror=" in article
    assert page.locator("#qa-article img, #qa-article script, #qa-chat img").count() == 0
    assert page.locator("#qa-article a[href^='javascript'], #qa-chat a[href^='javascript']").count() == 0
    assert page.locator("#qa-status img").count() == 0
    page.screenshot(path=str(ARTIFACTS / "ui-hostile-article.png"), full_page=True)
    assert page.dialogs == []
    assert not [e for e in page.console_errors if "XSS-FIRED" in e]


def test_the_chat_quotes_exactly_the_characters_cited(page, tmp_path):
    sentence = ("The <b>Wellington</b> bridge &amp; its *north* ramp_way reopened on Friday "
                "<script>window.pwned = 1</script> after four months of repairs.")
    path = tmp_path / "bridge.txt"
    path.write_text(f"Bridge reopens in Leeds\n\n{sentence} The council said the work cost "
                    "3 million pounds. Traffic was light.", encoding="utf-8")
    assert upload(page, path).startswith("Added: ")
    ask(page, "When did the Wellington bridge reopen?")
    assert sentence in page.inner_text("#qa-chat")  # markup, entity and markdown shown as typed
    assert sentence in page.inner_text("#qa-sources")
    assert sentence in page.locator("#qa-article mark.qa-selected").first.inner_text()
    assert page.locator("#qa-chat b, #qa-chat script, #qa-chat em, #qa-chat strong").count() == 0
    assert page.evaluate("() => window.pwned") is None


def test_binary_upload_gets_a_clear_message(page, tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    status = upload(page, path)
    assert "Could not add: photo.txt: this looks like a binary file" in status
    assert page.locator("#qa-status .qa-error").count() == 1
    page.screenshot(path=str(ARTIFACTS / "ui-binary-upload.png"), full_page=True)


def test_markup_in_a_title_is_text_everywhere_and_the_lists_follow_the_library(page, app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    title = "<img src=x id=pwn-title onerror=\"console.error('XSS-FIRED')\">Harbour <b>vote</b>"
    text = "Harbour vote delayed\n\nThe harbour vote was delayed to Friday. The mayor asked for more time."
    added = client.predict(text, title, "harbour-vote", api_name="/add_article")
    assert added["doc_id"] == "harbour-vote"
    # the page was loaded before the add: its list of articles follows without a reload
    page.click("#qa-scope input")
    option = page.locator("#qa-scope li[role=option]", has_text="Harbour <b>vote</b>")
    option.wait_for(timeout=15_000)
    assert "<img src=x id=pwn-title" in option.inner_text()  # shown as text
    option.click()
    page.wait_for_function("document.querySelector('#qa-article h3').innerText.includes('<b>vote</b>')",
                           timeout=15_000)
    ask(page, "When is the harbour vote?")
    assert "Harbour <b>vote</b>" in page.inner_text("#qa-sources")
    # another client removes it; asking about it now gives a pop-up, escaped too
    client.predict("harbour-vote", api_name="/remove_article")
    page.fill("#qa-question textarea", "When is the harbour vote?")
    page.click("#qa-send")
    toast = page.locator(".toast-body", has_text="unknown document id")
    toast.wait_for(timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "ui-markup-title.png"), full_page=True)
    assert page.locator("#pwn-title, #qa-article b, #qa-sources img, .toast-body img").count() == 0
    assert not [e for e in page.console_errors if "XSS-FIRED" in e] and page.dialogs == []


def _add_url(page, url: str) -> str:
    open_library(page)
    page.locator("#qa-url textarea, #qa-url input").first.fill(url)
    page.click("#qa-add")
    page.wait_for_function(
        "document.querySelector('#qa-status') && /Added|Already in the library|Could not add/"
        ".test(document.querySelector('#qa-status').innerText)", timeout=60_000)
    return page.inner_text("#qa-status")


def test_add_from_url_and_a_pdf_with_its_page(page, browser, tmp_path):
    from tests.article_site import article_site, two_page_pdf
    from ui.server import start_in_background

    with article_site() as site:
        # the default server refuses a private address, and says so
        status = _add_url(page, f"{site}/article")
        assert "Could not add: 127.0.0.1 is a loopback address: not fetched" in status
        assert "--allow-private-urls" in status
        running = start_in_background(tmp_path / "lib", allow_private_urls=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            pg = context.new_page()
            pg.goto(running.url)
            pg.wait_for_selector("#qa-question textarea", timeout=30_000)
            status = _add_url(pg, f"{site}/moved")
            assert status.startswith(f"Added: {site}/moved as "), status
            pg.wait_for_function("document.querySelector('#qa-article').innerText"
                                 ".includes('Elm Street bridge')")
            ask(pg, "Why did engineers replace the steel deck?")
            assert "deep corrosion" in pg.inner_text("#qa-chat")
            mark = pg.locator("#qa-article mark.qa-cite").first
            mark.wait_for(state="visible")
            assert "deep corrosion" in mark.inner_text()
            assert f"{site}/article · characters" in pg.inner_text("#qa-sources")  # the URL, shown
            article = pg.inner_text("#qa-article")
            assert "Subscribe" not in article and "bob42" not in article  # the page's boilerplate
            pdf = tmp_path / "talks.pdf"
            pdf.write_bytes(two_page_pdf())
            upload(pg, pdf)  # (the status still shows the URL's line until the PDF's comes)
            pg.wait_for_function("/(Added|Could not add): talks.pdf/"
                                 ".test(document.querySelector('#qa-status').innerText)", timeout=60_000)
            assert pg.inner_text("#qa-status").startswith("Added: talks.pdf as ")
            from gradio.utils import get_upload_folder

            assert not list(Path(get_upload_folder()).rglob("talks.pdf"))  # removed once read
            ask(pg, "What has been the main obstacle?")
            sources = pg.inner_text("#qa-sources")
            assert "length of the ceasefire" in sources and "page 2 · characters" in sources
            pg.screenshot(path=str(ARTIFACTS / "ui-url-and-pdf.png"), full_page=True)
        finally:
            context.close()
            running.close()


def test_a_suggested_question_is_asked_and_its_answer_highlighted(page, seed_text):
    page.wait_for_selector("#qa-guide .qa-guide-summary li")
    assert "Mousa Abu Marzouk" in page.inner_text("#qa-guide")
    button = page.locator("#qa-guide-questions button", has_text="Who is Mousa Abu Marzouk?").first
    button.click()
    page.wait_for_function("document.querySelectorAll('#qa-chat .message').length >= 2", timeout=30_000)
    assert "Mousa Abu Marzouk" in page.inner_text("#qa-chat")
    mark = page.locator("#qa-article mark.qa-cite").first
    mark.wait_for(state="visible")
    assert "Abu Marzouk" in mark.inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-guide.png"), full_page=True)


def test_guide_items_highlight_their_citations(page, seed_text):
    from qa import QAService
    from tests.conftest import SEED_ID

    guide = QAService.from_seeds().guide(SEED_ID)
    page.wait_for_selector("#qa-guide .qa-chip")
    # a name: every mention marked, each mark exactly the characters the guide cites
    name = next(n for n in guide.names if len(n.mentions) >= 2)
    page.locator("#qa-guide .qa-chip", has_text=name.name).first.click()
    page.wait_for_function(f"document.querySelectorAll('#qa-article mark.qa-cite').length == "
                           f"{len(name.mentions)}", timeout=30_000)
    marks = page.locator("#qa-article mark.qa-cite .qa-marker")
    quotes = page.eval_on_selector_all(
        "#qa-article mark.qa-cite",
        "ms => ms.map(m => { const c = m.cloneNode(true); c.querySelector('sup')?.remove(); "
        "return c.textContent; })")
    assert quotes == [m.quote for m in name.mentions] and marks.count() == len(name.mentions)
    # a summary sentence: that one sentence marked, and scrolled to
    second = guide.summary[1]
    page.locator("#qa-guide .qa-guide-sum").nth(1).click()
    one_mark = "document.querySelectorAll('#qa-article mark.qa-cite').length == 1"
    at_second = f"document.querySelector('#qa-article mark.qa-cite').title.includes('{second.start}')"
    page.wait_for_function(f"{one_mark} && {at_second}", timeout=30_000)
    assert page.locator("#qa-article mark.qa-selected").count() == 1
