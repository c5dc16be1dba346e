"""Articles by URL and as PDF: a real HTTP server on 127.0.0.1 (http.server in a thread), PDFs
made by fpdf2, the real engine answering from them."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.errors import InvalidDocumentError
from index.fetch import FetchError, address_rule, check_url, fetch
from index.loaders import load_bytes, load_url
from index.pdf import PAGE_BREAK, page_of, pdf_to_text

ARTICLE = """<!doctype html><html><head><title>Bridge reopens after repairs | City News</title>
<meta name="author" content="Jane Roe">
<meta property="article:published_time" content="2026-11-30"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a> Subscribe now for full access</nav>
<article><h1>Bridge reopens after repairs</h1>
<p>The Elm Street bridge reopened on Friday after eight months of repairs, the city's transport
department said.</p>
<p>Engineers replaced the steel deck because inspectors had found deep corrosion in the supports
last spring.</p>
<p>The work cost 12 million dollars and was paid for by a state grant, officials said.</p>
</article>
<section class="comments"><h3>Comments</h3><p>Great news, finally! Posted by bob42</p>
<p>Leave a comment: your email address will not be published.</p></section>
<footer>Copyright 2026 City News. All rights reserved. Privacy policy.</footer></body></html>"""
BOILERPLATE = ("Subscribe", "Home", "Comments", "bob42", "email address", "Copyright", "Privacy")
NO_ARTICLE = ("<html><head><title>App</title></head><body><div id='root'></div>"
              "<script>start()</script></body></html>")
HUGE = 3_000_000


def two_page_pdf() -> bytes:
    """Two pages with a running header and page numbers; page 1 in two columns and with a
    word hyphenated at a line end; page 2 holds the ceasefire fact."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_title("Talks in Doha")
    left = ("Negotiators met in Doha on Tuesday for a third round. The mediators said both sides "
            "had sent senior delegations this time.")
    right = ("Officials in Cairo said the talks would resume next week. A new draft was shared "
             "with both delegations on Monday evening.")
    for page in (1, 2):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 6, "THE DAILY WIRE - World news", align="C")
        pdf.set_font("Helvetica", size=11)
        if page == 1:
            pdf.set_xy(10, 20)
            pdf.multi_cell(90, 6, left)
            pdf.set_xy(110, 20)
            pdf.multi_cell(90, 6, right)
            pdf.set_xy(10, 80)
            pdf.multi_cell(0, 6, "The mediators praised the nego-", new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, 6, "tiations as serious.", new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_xy(10, 20)
            pdf.multi_cell(0, 6, "The main obstacle has been the length of the ceasefire, with "
                           "Hamas calling for it to be permanent.", new_x="LMARGIN", new_y="NEXT")
        pdf.set_xy(10, 280)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 6, f"Page {page} of 2", align="C")
    return bytes(pdf.output())


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path
        if path == "/article":
            self._send(200, ARTICLE.encode())
        elif path == "/moved":
            self._send(302, b"", extra={"Location": "/article"})
        elif path == "/loop":
            self._send(302, b"", extra={"Location": "/loop"})
        elif path == "/to-metadata":
            self._send(302, b"", extra={"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/gone":
            self._send(404, b"not here")
        elif path == "/broken":
            self._send(500, b"oops")
        elif path == "/slow":
            time.sleep(3)
            self._send(200, ARTICLE.encode())
        elif path == "/huge":
            self._send(200, b"x" * HUGE, "text/plain")
        elif path == "/huge-unannounced":  # no Content-Length: the cap must hold as it streams
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(HUGE // 65536 + 1):
                self.wfile.write(b"y" * 65536)
            self.close_connection = True
        elif path == "/image":
            self._send(200, b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
        elif path == "/empty":
            self._send(200, NO_ARTICLE.encode())
        elif path == "/report.pdf":
            self._send(200, two_page_pdf(), "application/pdf")
        else:
            self._send(404, b"")


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


LOCAL = frozenset({"127.0.0.1"})  # the test server's address allowed, every other private one not


@pytest.mark.parametrize(("ip", "rule"), [
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("fd00::1", "unique-local"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("100.64.0.1", "reserved (not a public address)"),
    ("93.184.216.34", None), ("2606:4700:4700::1111", None),
])
def test_address_rules(ip, rule):
    assert address_rule(ip) == rule


@pytest.mark.parametrize(("url", "says"), [
    ("file:///etc/passwd", "only http:// and https://"), ("ftp://example.com/a", "not ftp"),
    ("gopher://x/", "not gopher"), ("example.com/article", "without a scheme"),
    ("http:///nohost", "has no host"), ("http://user:pw@example.com/", "user name or password"),
    ("http://example.com:port/", "not a valid URL"),
])
def test_only_plain_http_urls(url, says):
    with pytest.raises(FetchError) as err:
        check_url(url)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_private_addresses_refused_unless_allowed(site):
    for url in (f"{site}/article", site.replace("127.0.0.1", "localhost") + "/article"):
        with pytest.raises(FetchError) as err:
            load_url(url)
        assert "loopback address: not fetched" in str(err.value)
        assert "--allow-private-urls" in str(err.value)
    assert load_url(f"{site}/article", allow_private=True).title == "Bridge reopens after repairs"


def test_a_redirect_to_a_private_address_is_refused(site):
    with pytest.raises(FetchError, match="169.254.169.254 is a link-local address"):
        fetch(f"{site}/to-metadata", 1_000_000, LOCAL)


def test_redirects_followed_a_few_times(site):
    got = fetch(f"{site}/moved", 1_000_000, LOCAL)
    assert got.url == f"{site}/article" and got.content_type == "text/html"
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(f"{site}/loop", 1_000_000, LOCAL)


@pytest.mark.parametrize(("path", "says"), [
    ("/gone", "the server answered 404 Not Found"),
    ("/broken", "the server answered 500 Internal Server Error"),
    ("/image", "the server sent image/png, not a web page, a PDF or text"),
    ("/huge", f"the page is {HUGE:,} bytes; the limit is 100,000"),
    ("/huge-unannounced", "over the limit of 100,000 bytes"),
])
def test_fetch_failures_are_one_line(site, path, says):
    with pytest.raises(FetchError) as err:
        fetch(f"{site}{path}", 100_000, LOCAL)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_slow_server_times_out(site):
    with pytest.raises(FetchError, match="sent nothing for 0.5 s"):
        fetch(f"{site}/slow", 1_000_000, LOCAL, read_timeout=0.5)


def test_a_page_without_article_text_is_refused(site):
    with pytest.raises(InvalidDocumentError, match="no article text found"):
        load_url(f"{site}/empty", allow_private=True)


def test_a_web_page_keeps_its_metadata_and_loses_its_boilerplate(site):
    art = load_url(f"{site}/moved", allow_private=True)
    assert (art.title, art.author, art.date, art.source, art.format) == (
        "Bridge reopens after repairs", "Jane Roe", "2026-11-30", f"{site}/article", "html")
    assert "deep corrosion in the supports" in art.text
    assert not [b for b in BOILERPLATE if b in art.text]


def test_an_article_by_url_is_answered_with_exact_citations(site, fresh_service):
    svc = fresh_service
    with pytest.raises(FetchError, match="loopback"):
        svc.add_file(f"{site}/article")
    before = [d.doc_id for d in svc.documents()]
    with pytest.raises(FetchError, match="404"):  # one bad URL: nothing of the batch is added
        svc.allow_private_urls = True
        svc.add_files([f"{site}/article", f"{site}/gone"])
    assert [d.doc_id for d in svc.documents()] == before
    [(doc_id, new)] = svc.add_files([f"{site}/article"])
    assert new and svc.index.get_document(doc_id).source == f"{site}/article"
    ans = svc.ask("Why did engineers replace the steel deck?", doc_ids=[doc_id])
    assert not ans.abstained
    text = svc.document_text(doc_id)
    for c in ans.citations:
        assert c.quote == text[c.start:c.end] and c.page is None
        assert not [b for b in BOILERPLATE if b in c.quote]
    assert "corrosion" in ans.citations[0].quote


def test_qa_index_add_takes_urls(site, tmp_path, embedder):
    qa = [str(Path(sys.executable).parent / "qa"), "--index-dir", str(tmp_path / "lib"), "index", "add"]
    refused = subprocess.run([*qa, f"{site}/article"], capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    [error] = [line for line in refused.stderr.splitlines() if line.startswith("qa: error:")]
    assert "127.0.0.1 is a loopback address: not fetched" in error
    added = subprocess.run([*qa, "--allow-private-urls", f"{site}/article", "--id", "bridge"],
                           capture_output=True, text=True, timeout=600)
    assert added.returncode == 0, added.stderr
    assert f"added: {site}/article as bridge" in added.stdout


# -- PDF -------------------------------------------------------------------------------------

def test_pdf_text_keeps_columns_words_and_pages():
    text, title = pdf_to_text(two_page_pdf(), "talks.pdf")
    assert title == "Talks in Doha"
    left, right = text.find("Negotiators met in Doha"), text.find("Officials in Cairo said")
    assert 0 <= left < right  # the left column whole, then the right one
    assert "senior delegations this time." in text[left:right]
    assert "praised the negotiations as serious." in text  # the hyphen at the line end joined
    assert "Page 1 of 2" not in text and "DAILY WIRE" not in text  # running header, page numbers
    assert text.count(PAGE_BREAK) == 1
    assert page_of(text, text.find("The main obstacle")) == 2
    assert page_of(text, left) == 1 and page_of("no pages here", 3) is None


def test_a_pdf_is_answered_with_its_page(fresh_service):
    svc = fresh_service
    art = svc.load_upload(two_page_pdf(), "talks.pdf")
    assert art.format == "pdf" and art.source == "talks.pdf"
    doc_id = svc.add_document(art.text, title=art.title, source=art.source)
    ans = svc.ask("What has been the main obstacle?", doc_ids=[doc_id])
    assert not ans.abstained
    top = ans.citations[0]
    assert top.quote == svc.document_text(doc_id)[top.start:top.end]
    assert "length of the ceasefire" in top.quote and top.page == 2


def test_pdf_by_url(site):
    art = load_url(f"{site}/report.pdf", allow_private=True)
    assert art.format == "pdf" and art.text == pdf_to_text(two_page_pdf(), "x")[0]


def _encrypted_pdf() -> bytes:
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Secret text.")
    pdf.set_encryption(owner_password="o", user_password="u", encryption_method=EncryptionMethod.RC4)
    return bytes(pdf.output())


def _image_only_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 100, 100, style="F")  # a drawing, as a scan would be an image: no text
    return bytes(pdf.output())


@pytest.mark.parametrize(("make", "says"), [
    (_encrypted_pdf, "the PDF is encrypted (it needs a password)"),
    (_image_only_pdf, "the PDF has no text layer (scanned pages?)"),
    (lambda: two_page_pdf()[:400], "not a PDF this program can read"),
    (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 4, "not a PDF this program can read"),
])
def test_bad_pdfs_get_a_reason(make, says):
    with pytest.raises(InvalidDocumentError) as err:
        load_bytes(make(), "bad.pdf")
    assert str(err.value).startswith(f"bad.pdf: {says}") and "\n" not in str(err.value)


def test_a_pdf_without_its_suffix_is_read_as_pdf():
    assert load_bytes(two_page_pdf(), "upload").format == "pdf"
