"""Find web boilerplate in an article's text without changing the text.

The original text stays the document of record; boilerplate is returned as character spans to
leave out of splitting, so every offset still points into the original.
"""

from __future__ import annotations

import re

# Lines that begin a trailing block of page furniture (comment forms, share bars, newsletter
# boxes). Everything from the first such line to the end of the article is boilerplate.
_TRAILER_START = re.compile(
    r"^\s*(leave a (reply|comment)|post a comment|\d*\s*comments?\s*$|add a comment|"
    r"join the conversation|related (articles|stories|posts)\s*:?\s*$|"
    r"subscribe to (our|the) newsletter|sign up for (our|the) newsletter|"
    r"share this (article|story|post)|you may also like|recommended for you|"
    r"more from \w+\s*$|read more\s*:?\s*$)",
    re.IGNORECASE,
)
# Single boilerplate lines anywhere in the text.
_LINE = re.compile(
    r"^\s*(advertisement|skip to (main )?content|leave a (reply|comment)|post a comment|"
    r"your email address will not be published.*|"
    r"required fields are marked.*|all rights reserved.*|©.*|copyright \d{4}.*|"
    r"(we use|this (site|website) uses) cookies.*|click here to .*|"
    r"(share|tweet|email|print)( on \w+)?\s*$|follow us on .*)$",
    re.IGNORECASE,
)


def boilerplate_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` that are web boilerplate, sorted and non-overlapping."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if body.strip():
            if _TRAILER_START.match(body) and offset > len(text) // 2:
                spans.append((offset, len(text)))
                break
            if _LINE.match(body):
                spans.append((offset, offset + len(body)))
        offset += len(line)
    return spans


def content_spans(text: str) -> list[tuple[int, int]]:
    """The complement of :func:`boilerplate_spans`: the spans that may be split and cited."""
    kept: list[tuple[int, int]] = []
    cursor = 0
    for start, end in boilerplate_spans(text):
        if start > cursor:
            kept.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < len(text):
        kept.append((cursor, len(text)))
    return kept
