"""Read an article file (.txt, .md, .html, .pdf) or a URL into the text that becomes its
document of record.

Plain text and Markdown are kept verbatim. HTML is reduced to its main text by trafilatura, a
PDF to its text layer (``index/pdf.py``, page breaks as form feeds), and that extracted text is
what citations point into. A URL is fetched by ``index/fetch.py`` and read by its content type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from index.config import Config
from index.errors import InvalidDocumentError, UnsupportedFileTypeError
from index.fetch import HTML_TYPES, PDF_TYPES, FetchError, fetch
from index.units import ArticleDetails

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
# Every suffix an article file may have, in the order messages list them.
ACCEPTED_SUFFIXES = (".txt", ".md", ".html", ".pdf")


@dataclass(frozen=True)
class LoadedArticle:
    """An article read from a file or a URL: its text of record, title (may be empty), source
    (the file's name or the URL), format, and the author and date a web page names."""
    text: str
    title: str
    source: str
    format: str  # "text", "markdown", "html" or "pdf"
    author: str = ""
    date: str = ""

    @property
    def details(self) -> ArticleDetails:
        """The author and date, as the library keeps them with the article."""
        return ArticleDetails(self.author, self.date)


def decode_bytes(data: bytes, name: str) -> str:
    """A file's bytes as text.

    :raises InvalidDocumentError: empty, binary or not UTF-8 (the message says which byte).
    """
    if not data.strip():
        raise InvalidDocumentError(f"{name}: the file is empty")
    if b"\x00" in data[:8192]:
        raise InvalidDocumentError(f"{name}: this looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(
            f"{name}: not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"
        ) from None


def looks_like_html(text: str) -> bool:
    """Whether text without a file suffix is an HTML page."""
    head = text[:2000].lower()
    return "<html" in head or "<!doctype html" in head or "<body" in head


def html_article(html: str | bytes, name: str, url: str | None = None) -> LoadedArticle:
    """An HTML page as an article: its main text, title, author and date (trafilatura; bytes
    are decoded by trafilatura from the page's own declaration).

    :raises InvalidDocumentError: no article text found in the page.
    """
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False) or ""
    if not text.strip():
        raise InvalidDocumentError(f"{name}: no article text found in this HTML page")
    meta = trafilatura.extract_metadata(html, default_url=url)
    return LoadedArticle(text, _field(meta, "title"), name, "html", _field(meta, "author"),
                         _field(meta, "date"))


def _field(meta, name: str) -> str:
    value = getattr(meta, name, None) if meta is not None else None
    return " ".join(str(value).split())[:300] if value else ""


def pdf_article(data: bytes, name: str) -> LoadedArticle:
    """A PDF as an article (``index/pdf.py``).

    :raises InvalidDocumentError: encrypted, damaged or without a text layer.
    """
    from index.pdf import pdf_to_text

    text, title = pdf_to_text(data, name)
    return LoadedArticle(text, title, name, "pdf")


def load_bytes(data: bytes, name: str, max_bytes: int | None = None) -> LoadedArticle:
    """Turn an uploaded or read file into an article; ``name`` only picks the format.

    :param max_bytes: the largest file accepted (default ``Config().max_file_bytes``).
    :raises InvalidDocumentError: too large, empty, binary, not UTF-8, an unsupported type, or
        HTML with no article text in it.
    """
    limit = Config().max_file_bytes if max_bytes is None else max_bytes
    if len(data) > limit:
        raise InvalidDocumentError(f"{name}: file is {len(data):,} bytes; the limit is {limit:,}")
    suffix = Path(name).suffix.lower()
    if suffix and suffix not in TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES:
        raise UnsupportedFileTypeError(
            f"{name}: unsupported file type {suffix!r} (use {', '.join(ACCEPTED_SUFFIXES)})")
    if suffix in PDF_SUFFIXES or (not suffix and data.startswith(b"%PDF-")):
        return pdf_article(data, name)
    raw = decode_bytes(data, name)
    if suffix in HTML_SUFFIXES or (not suffix and looks_like_html(raw)):
        return html_article(raw, name)
    fmt = "markdown" if suffix in {".md", ".markdown"} else "text"
    return LoadedArticle(raw, _markdown_title(raw) if fmt == "markdown" else "", name, fmt)


def is_url(value: str) -> bool:
    """Whether a command-line argument names a URL rather than a file (it has a scheme)."""
    return "://" in value[:20]


def load_url(url: str, max_bytes: int | None = None, allow_private: bool = False) -> LoadedArticle:
    """Fetch ``url`` (``index/fetch.py``: public addresses only unless ``allow_private``) and
    read it by its content type: a web page's main text, a PDF's text, or plain text. The
    source is the final URL (after redirects).

    :raises FetchError: not fetched (the message names the rule or the failure).
    :raises InvalidDocumentError: fetched, but no article text in it.
    """
    limit = Config().max_file_bytes if max_bytes is None else max_bytes
    got = fetch(url, limit, allow_private)
    if got.content_type in HTML_TYPES:
        return html_article(got.body, got.url, url=got.url)
    if got.content_type in PDF_TYPES:
        return pdf_article(got.body, got.url)
    try:
        text = got.body.decode(got.charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        raise FetchError(f"{got.url}: not text in {got.charset or 'UTF-8'}") from None
    if not text.strip():
        raise FetchError(f"{got.url}: the page is empty")
    fmt = "markdown" if "markdown" in got.content_type else "text"
    return LoadedArticle(text, _markdown_title(text) if fmt == "markdown" else "", got.url, fmt)


def load_path(path: str | Path, max_bytes: int | None = None) -> LoadedArticle:
    """Read an article file (see :func:`load_bytes`); a missing or unreadable file is an
    :class:`InvalidDocumentError` too."""
    p = Path(path)
    if not p.is_file():
        raise InvalidDocumentError(f"{p}: no such file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidDocumentError(f"{p}: cannot read ({exc.strerror})") from None
    return load_bytes(data, str(p), max_bytes)


def _markdown_title(text: str) -> str:
    m = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else ""
