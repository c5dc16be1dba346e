"""The project's typed errors, in one place (re-exported as ``qa.errors``).

Every error a user can cause is a subclass of :class:`QAError`; the CLI and UI turn them into
one-line messages, never tracebacks.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error the service raises on purpose."""


class InvalidQuestionError(QAError, ValueError):
    """The question is empty, too long or not text."""


class InvalidDocumentError(QAError, ValueError):
    """The document is empty, binary, not UTF-8, too large or has nothing citable in it."""


class UnsupportedFileTypeError(InvalidDocumentError):
    """A file of a type the library does not read (by its suffix)."""


class UnknownDocumentError(QAError, KeyError):
    """A document id that is not in the index."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown document"


class IndexNotFoundError(QAError, FileNotFoundError):
    """No saved index at the given directory."""


class CorruptIndexError(QAError):
    """A saved index that is incomplete, altered or from an incompatible configuration."""


class OutdatedIndexError(CorruptIndexError):
    """A saved index of an older format: ``qa index rebuild`` re-creates it from its texts."""


class IndexExistsError(QAError, FileExistsError):
    """Saving a new library where one already is (open it instead)."""


class StorageError(QAError, OSError):
    """The library could not be written (disk full, read-only, locked by another process too
    long); nothing was changed, in memory or on disk."""


class EmptyIndexError(QAError):
    """A question asked of an index with no documents in it."""


class ConfigError(QAError, ValueError):
    """A configuration mistake: an environment variable with a value that is not valid, a
    ``Config`` that cannot work (e.g. a Milvus address that does not answer)."""
