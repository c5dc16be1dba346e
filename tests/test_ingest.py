"""Articles by URL and as PDF: a real HTTP server on 127.0.0.1 (``tests/article_site.py``), PDFs
made by fpdf2, the real engine answering from them, the CLI and the REST API of a real
``qa serve``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from index.errors import InvalidDocumentError
from index.fetch import FetchError, address_rule, check_url, fetch
from index.loaders import load_bytes, load_url
from index.pdf import PAGE_BREAK, page_of, pdf_to_text
from tests.article_site import BOILERPLATE, HUGE, article_site, two_page_pdf
from tests.conftest import serve_process


@pytest.fixture(scope="module")
def site():
    with article_site() as url:
        yield url

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


def test_the_author_and_date_are_kept_with_the_article(site, tmp_path, embedder):
    import sqlite3

    from qa import ArticleDetails, QAService

    svc = QAService.create(tmp_path / "lib")
    svc.index.embedder = embedder
    svc.allow_private_urls = True
    plain = svc.add_document("The council met on Monday. It approved the budget.", doc_id="plain")
    svc.index.save(tmp_path / "lib")  # bound to its store from now on
    [(bridge, _)] = svc.add_files([f"{site}/article"])
    jane = ArticleDetails("Jane Roe", "2026-11-30")
    assert (svc.details(bridge), svc.details(plain)) == (jane, ArticleDetails())
    assert QAService.open(tmp_path / "lib").details(bridge) == jane  # in the store of record
    svc.index.save(tmp_path / "copy")  # a copy keeps them; so does an index made in memory
    assert QAService.open(tmp_path / "copy").details(bridge) == jane
    memory = QAService()
    memory.index.embedder = embedder
    memory.add_document("The ferry resumed on Tuesday.", doc_id="ferry", details=jane)
    memory.index.compact()
    memory.index.save(tmp_path / "from-memory")
    assert QAService.open(tmp_path / "from-memory").details("ferry") == jane
    svc.remove_document(bridge)
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite") as db:
        assert db.execute("SELECT count(*) FROM details").fetchone() == (1,)  # kept with the row
        db.execute("DROP TABLE details")  # a library made before the table
    old = QAService.open(tmp_path / "lib")
    assert old.details(plain) == ArticleDetails()
    old.index.embedder = embedder
    old.add_document("A second ferry resumed on Friday.", doc_id="f2", details=jane)
    assert QAService.open(tmp_path / "lib").details("f2") == jane


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


# -- over HTTP: a real `qa serve --allow-private-urls`, and the Gradio endpoint ---------------

@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    from qa import QAService

    path = tmp_path_factory.mktemp("ingest") / "lib"
    QAService.from_seeds().save(path)
    with serve_process(path, "--allow-private-urls") as url:
        yield url


def test_rest_adds_by_url_and_pdf_upload_with_pages(served, site):
    import httpx

    with httpx.Client(base_url=f"{served}api/v1", timeout=120) as api:
        r = api.post("/articles", json={"url": f"{site}/moved", "id": "bridge"})
        assert r.status_code == 201, r.text
        assert r.json() == {"doc_id": "bridge", "added": True, "title": "Bridge reopens after repairs"}
        got = api.get("/articles/bridge").json()
        assert (got["source"], got["author"], got["published"]) == (f"{site}/article", "Jane Roe",
                                                                    "2026-11-30")
        ans = api.post("/ask", json={"question": "What did the work cost?", "doc_ids": ["bridge"]}).json()
        text = api.get("/articles/bridge").json()["text"]
        assert ans["citations"] and all(c["quote"] == text[c["start"]:c["end"]] for c in ans["citations"])
        assert "12 million dollars" in ans["citations"][0]["quote"]
        for body, says in (({"url": f"{site}/gone"}, "404 Not Found"),
                           ({"url": "file:///etc/passwd"}, "only http:// and https://"),
                           ({"url": f"{site}/article", "text": "Both."}, "text or its url"),
                           ({"title": "neither"}, "text or its url")):
            r = api.post("/articles", json=body)
            assert r.status_code == 400 and says in r.json()["error"]["message"], r.text
        r = api.post("/articles/upload", files={"file": ("talks.pdf", two_page_pdf())}, data={"id": "talks"})
        assert r.status_code == 201, r.text
        ans = api.post("/ask", json={"question": "What has been the main obstacle?",
                                     "doc_ids": ["talks"]}).json()
        assert ans["citations"][0]["page"] == 2 and "ceasefire" in ans["citations"][0]["quote"]


def test_gradio_adds_an_article_by_url(served, site):
    from gradio_client import Client

    client = Client(served, verbose=False)
    out = client.predict(f"{site}/article", "", "bridge-2", api_name="/add_article_url")
    assert out["doc_id"] == "bridge-2" and out["title"] == "Bridge reopens after repairs"
