"""Checks on everything a caller hands the library, in one place, before any change is made.

Ids: letters and digits of any script and ``_-.:,()%@+~`` or spaces, at most 128 characters.
Titles: at most 300 printable characters. Sources: at most 1000. Texts: non-empty, encodable,
no NUL, at most ``Config.max_document_chars``. Each failure is an ``InvalidDocumentError`` with
a one-line message that shows a bad value escaped and shortened.
"""

from __future__ import annotations

import unicodedata

from index.errors import InvalidDocumentError

# Document ids: letters and digits of any script, and these; at most MAX_ID_CHARS. Enough for
# file names, slugs and SQuAD titles; nothing that means something in a path, a shell or HTML.
ID_PUNCTUATION = "_-.:,()%@+~ "
MAX_ID_CHARS = 128
MAX_TITLE_CHARS = 300
MAX_SOURCE_CHARS = 1000


def validate_doc_id(doc_id: object) -> str:
    """The id, stripped, if it is one we accept; otherwise an ``InvalidDocumentError``."""
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise InvalidDocumentError(f"document id must be a non-empty string, got {_shown(doc_id)}")
    doc_id = doc_id.strip()
    bad = sorted({c for c in doc_id if not (c.isalnum() or c in ID_PUNCTUATION)})
    if bad or len(doc_id) > MAX_ID_CHARS or doc_id in {".", ".."}:
        raise InvalidDocumentError(
            f"document id {_shown(doc_id)} is not allowed: at most {MAX_ID_CHARS} letters, digits "
            f"and {ID_PUNCTUATION.strip()!r} or spaces"
            + (f" (found {_shown(''.join(bad[:5]))})" if bad else "")
        )
    return doc_id


def validate_title(title: object) -> str:
    """The title, stripped ("" for none), if printable text of at most MAX_TITLE_CHARS."""
    return _short_text(title, "title", MAX_TITLE_CHARS)


def validate_source(source: object) -> str:
    """Where the article came from (a file name, "api"), as for a title."""
    return _short_text(source, "source", MAX_SOURCE_CHARS)


def _short_text(value: object, what: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidDocumentError(f"{what} must be text, got {type(value).__name__}")
    value = value.strip()
    _printable(value, what, limit)
    return value


def _printable(value: str, what: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidDocumentError(f"{what} has {len(value):,} characters; the limit is {limit}")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in value):
        raise InvalidDocumentError(f"{what} contains control or invalid characters")


def _shown(value: object) -> str:
    """A short, printable rendering of a bad value for an error message."""
    text = repr(value)
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return text[:60] + ("…" if len(text) > 60 else "")


def validate_document_text(text: object, max_chars: int) -> str:
    """The text, if it is something we can index; otherwise an ``InvalidDocumentError``."""
    if isinstance(text, bytes):
        raise InvalidDocumentError("document must be text (str), not bytes: decode it first")
    if not isinstance(text, str):
        raise InvalidDocumentError(f"document must be text, got {type(text).__name__}")
    if not text.strip():
        raise InvalidDocumentError("document is empty")
    if len(text) > max_chars:
        raise InvalidDocumentError(f"document has {len(text):,} characters; the limit is {max_chars:,}")
    if "\x00" in text:
        raise InvalidDocumentError("document looks binary (it contains NUL characters)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDocumentError("document contains invalid characters (unpaired surrogates)") from None
    return text
