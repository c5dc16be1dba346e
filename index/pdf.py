"""A PDF's text layer as the text of record, its page breaks kept as form feeds.

pypdfium2 (PDFium, the PDF engine of Chromium) reads the text: measured against pypdf and
pdfminer.six on PDFs with two columns, ligatures and hyphenated line ends (``docs/reliability.md``,
"PDF text"), it alone kept the columns apart, expanded the ligatures *and* marked the hyphens it
broke a word at, and it was the fastest. What PDFium gives is lines; this module writes them back
as paragraphs (a line that wraps is joined to the next), drops running headers, footers and page
numbers, and joins pages with a form feed (``\\f``): the page a character is on is one more than
the form feeds before it (:func:`page_of`), whatever splits or re-embeds the text later.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from index.errors import InvalidDocumentError

PAGE_BREAK = "\f"
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—(\[]?\s*\d{1,4}\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d{1,4})?$",
                          re.IGNORECASE)
_ENDS_PARAGRAPH = re.compile(r"[.!?:;\"'”’)\]]$")
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_EDGE_LINES = 2  # lines at the top and the bottom of a page that may be a header or footer
_RUNNING_CHARS = 80  # a header or footer is at most this long


def page_of(text: str, offset: int) -> int | None:
    """The page (from 1) of character ``offset`` of a text with page breaks; None without any."""
    if PAGE_BREAK not in text:
        return None
    return text.count(PAGE_BREAK, 0, offset) + 1


def pdf_to_text(data: bytes, name: str) -> tuple[str, str]:
    """The text and the title (from the PDF's metadata, may be empty) of a PDF file.

    :raises InvalidDocumentError: encrypted, damaged, or with no text layer (scanned pages).
    """
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise InvalidDocumentError(
                f"{name}: the PDF is encrypted (it needs a password); add an unprotected copy") from None
        raise InvalidDocumentError(f"{name}: not a PDF this program can read ({_reason(exc)})") from None
    try:
        pages = [_page_lines(doc[i].get_textpage().get_text_bounded()) for i in range(len(doc))]
        title = str(doc.get_metadata_dict().get("Title", "") or "").strip()
    except pdfium.PdfiumError as exc:
        raise InvalidDocumentError(f"{name}: the PDF is damaged ({_reason(exc)})") from None
    finally:
        doc.close()
    pages = _without_running_lines(pages)
    text = _join_pages([_paragraphs(lines) for lines in pages])
    if not re.search(r"\w{2}", text):
        raise InvalidDocumentError(
            f"{name}: the PDF has no text layer (scanned pages?); this program does not read "
            "images (OCR)")
    title = "".join(c for c in title if unicodedata.category(c)[0] != "C")[:300]
    return text, title


def _reason(exc: Exception) -> str:
    return str(exc).split("\n")[0].strip() or type(exc).__name__


def _page_lines(raw: str) -> list[str]:
    """A page's lines, cleaned: PDFium's hyphen at a broken word (U+0002) and soft hyphens
    removed (the word joined), ligatures as their letters, spaces collapsed."""
    raw = raw.replace("\x02", "").replace("\xad", "")
    raw = _LIGATURES.sub(lambda m: unicodedata.normalize("NFKC", m.group()), raw)
    lines = []
    for line in re.split(r"\r\n|\r|\n", raw):
        line = " ".join("".join(c for c in line if c == "\t" or unicodedata.category(c)[0] != "C").split())
        if line:
            lines.append(line)
    return lines


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower())


def _without_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Pages without their page numbers and the headers and footers repeated on other pages
    (short lines that are not a sentence, compared with digits blanked: "Page 2 of 3" is "Page 3
    of 3")."""
    edges = Counter()
    for lines in pages:
        edge = set(lines[:_EDGE_LINES]) | set(lines[-_EDGE_LINES:])
        edges.update({_shape(x) for x in edge if len(x) <= _RUNNING_CHARS and not x.endswith(".")})
    repeated = {s for s, n in edges.items() if n >= max(2, len(pages) // 2)} if len(pages) > 1 else set()
    out = []
    for lines in pages:
        keep = []
        for i, line in enumerate(lines):
            at_edge = i < _EDGE_LINES or i >= len(lines) - _EDGE_LINES
            if at_edge and (_PAGE_NUMBER.match(line) or _shape(line) in repeated):
                continue
            keep.append(line)
        out.append(keep)
    return out


def _paragraphs(lines: list[str]) -> str:
    """A page's lines as paragraphs: a line is joined to the next unless it is short and ends
    a sentence (a paragraph's last line), as a reader of the printed page would."""
    if not lines:
        return ""
    width = sorted(len(x) for x in lines)[int(0.9 * (len(lines) - 1))]
    out = lines[0]
    for prev, line in zip(lines, lines[1:]):
        if len(prev) < 0.75 * width and _ENDS_PARAGRAPH.search(prev):
            out += "\n" + line
        elif prev.endswith("-") and prev[-2:-1].isalpha():
            out += line  # a hyphen that is part of the word ("long-term" across a line end)
        else:
            out += " " + line
    return out


def _join_pages(pages: list[str]) -> str:
    """Pages joined by a form feed: on a line of its own after a page that ends a paragraph,
    inside the sentence (in place of a space) when the page ends mid-sentence."""
    text = pages[0] if pages else ""
    for page in pages[1:]:
        mid_sentence = text and not text.endswith(PAGE_BREAK) and not _ENDS_PARAGRAPH.search(text)
        text += (PAGE_BREAK if mid_sentence else "\n" + PAGE_BREAK) + page
    return text
