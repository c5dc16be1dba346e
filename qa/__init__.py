"""Grounded question answering over news articles: every answer sentence cites exact characters.

import qa
svc = qa.QAService.from_seeds()
ans = svc.ask("Why did the talks stall?")
"""

from __future__ import annotations

from index.config import Config
from index.errors import (
    ConfigError,
    CorruptIndexError,
    EmptyIndexError,
    IndexNotFoundError,
    InvalidDocumentError,
    InvalidQuestionError,
    OutdatedIndexError,
    QAError,
    StorageError,
    UnknownDocumentError,
    UnsupportedFileTypeError,
)
from index.units import ArticleDetails
from qa.guide import ArticleGuide, GuideName, GuideQuestion
from qa.service import QAService
from qa.types import Answer, Citation

__all__ = [
    "ArticleDetails",
    "ArticleGuide",
    "GuideName",
    "GuideQuestion",
    "Answer",
    "Citation",
    "Config",
    "ConfigError",
    "CorruptIndexError",
    "EmptyIndexError",
    "IndexNotFoundError",
    "InvalidDocumentError",
    "InvalidQuestionError",
    "OutdatedIndexError",
    "QAError",
    "QAService",
    "StorageError",
    "UnknownDocumentError",
    "UnsupportedFileTypeError",
]
