"""Reading article files: formats, and every kind of bad file gets a clear message."""

from __future__ import annotations

import pytest

from index.config import Config
from index.errors import InvalidDocumentError
from index.loaders import load_bytes, load_path

HTML = """<!doctype html><html><head><title>Port strike ends</title></head><body>
<nav>Home | World | Sport</nav>
<article><h1>Port strike ends</h1>
<p>Dock workers in the port of Valencia ended a nine-day strike on Friday after the operator
agreed to raise wages by 6 percent.</p>
<p>The union said shipments would resume on Monday. Some 40 ships had been waiting offshore.</p>
</article><footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>"""


def test_text_is_kept_verbatim(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("Line one.\r\nLine two — “quoted”.\n".encode())
    art = load_path(p)
    assert art.text == "Line one.\r\nLine two — “quoted”.\n" and art.format == "text"


def test_markdown_title(tmp_path):
    p = tmp_path / "a.md"
    p.write_text("# Budget passes\n\nThe council voted 7 to 2.\n", encoding="utf-8")
    art = load_path(p)
    assert art.title == "Budget passes" and art.format == "markdown"


def test_html_main_text_without_navigation_or_footer():
    art = load_bytes(HTML.encode(), "strike.html")
    assert art.format == "html" and art.title == "Port strike ends"
    assert "nine-day strike on Friday" in art.text and "Some 40 ships" in art.text
    assert "Home | World" not in art.text and "All rights reserved" not in art.text


@pytest.mark.parametrize(
    "data,name,message",
    [
        (b"", "empty.txt", "the file is empty"),
        (b"   \n\t ", "blank.txt", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image.txt", "binary file"),
        ("café".encode("latin-1"), "latin.txt", "not UTF-8"),
        (b"hello", "slides.pptx", "unsupported file type '.pptx'"),
        (b"hello", "slides.pdf", "not a PDF this program can read"),
        (b"a" * (Config().max_file_bytes + 1), "huge.txt", "the limit is 5,000,000"),
        (b"<html><body><script>x()</script></body></html>", "empty.html", "no article text"),
    ],
)
def test_bad_files_get_a_clear_message(data, name, message):
    with pytest.raises(InvalidDocumentError, match=message):
        load_bytes(data, name)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidDocumentError, match="no such file"):
        load_path(tmp_path / "missing.txt")


def test_the_file_limit_is_a_config_setting():
    with pytest.raises(InvalidDocumentError, match="huge.txt: file is 11 bytes; the limit is 10"):
        load_bytes(b"hello world", "huge.txt", max_bytes=10)
    assert load_bytes(b"hello world", "ok.txt", max_bytes=11).text == "hello world"
