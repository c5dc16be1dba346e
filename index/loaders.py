"""Read an article file (.txt, .md, .html) into the text that becomes its document of record.

Plain text and Markdown are kept verbatim. HTML is reduced to its main text by trafilatura, and
that extracted text is what citations point into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from index.config import Config
from index.errors import InvalidDocumentError

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
# Every suffix an article file may have, in the order messages list them.
ACCEPTED_SUFFIXES = (".txt", ".md", ".html")


@dataclass(frozen=True)
class LoadedArticle:
    """An article read from a file: its text of record, title (may be empty), source name, format."""
    text: str
    title: str
    source: str
    format: str  # "text", "markdown" or "html"


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


def html_to_text(html: str, name: str) -> tuple[str, str]:
    """The main text and title of an HTML page (trafilatura).

    :raises InvalidDocumentError: no article text found in the page.
    """
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False) or ""
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta and meta.title else "") or ""
    if not text.strip():
        raise InvalidDocumentError(f"{name}: no article text found in this HTML page")
    return text, title


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
    if suffix and suffix not in TEXT_SUFFIXES | HTML_SUFFIXES:
        raise InvalidDocumentError(
            f"{name}: unsupported file type {suffix!r} (use {', '.join(ACCEPTED_SUFFIXES)})")
    raw = decode_bytes(data, name)
    if suffix in HTML_SUFFIXES or (not suffix and looks_like_html(raw)):
        text, title = html_to_text(raw, name)
        return LoadedArticle(text, title, name, "html")
    fmt = "markdown" if suffix in {".md", ".markdown"} else "text"
    return LoadedArticle(raw, _markdown_title(raw) if fmt == "markdown" else "", name, fmt)


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
