"""A news site for the tests, on 127.0.0.1 (http.server in a thread): an article page with
boilerplate, redirects, errors, a slow page, oversized bodies, an image, a page with no article
and a PDF that the tests make with fpdf2."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

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


class ArticleHandler(http.server.BaseHTTPRequestHandler):
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


@contextlib.contextmanager
def article_site() -> Iterator[str]:
    """The site running; yields its base URL (``http://127.0.0.1:PORT``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArticleHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
