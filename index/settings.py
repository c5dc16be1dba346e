"""Every environment variable the project reads, read here and nowhere else.

========================  ==================================================================
``QA_INDEX_DIR``          the library the ``qa`` command opens (default: a per-user data dir)
``QA_SEEDS_DIR``          the article(s) a new library starts with (default: ``seeds/``)
``QA_CACHE_DIR``          where ``QAService.from_seeds()`` caches its index (default: per-user)
``QA_VECTOR_URI``         vector search of a *new* library: ``""`` FAISS, ``x.db`` Milvus Lite,
                          ``http://host:19530`` a Milvus server
``QA_TORCH_THREADS``      torch threads per request in ``qa serve`` (default 1)
``QA_DATA_DIR``           another folder with the eval data files (default: ``eval/data``)
``QA_LOG_LEVEL``          ``DEBUG``, ``INFO``, ``WARNING`` (default) or ``ERROR``
``QA_ALLOW_PRIVATE_URLS`` ``1``: articles may be fetched from loopback, private and link-local
                          addresses (default ``0``: refused; as ``--allow-private-urls``)
========================  ==================================================================

Values are read when asked for (tests and the server set them at run time); a value that is not
valid raises :class:`~index.errors.ConfigError` naming the variable. Limits on input are not
here: they are :class:`~index.config.Config` fields, saved beside the index.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from index.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "grounded-qa"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _env(name: str, environ: Mapping[str, str] | None) -> str:
    return (os.environ if environ is None else environ).get(name, "").strip()


def index_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The library the ``qa`` command opens: ``$QA_INDEX_DIR``, else the per-user data directory."""
    if value := _env("QA_INDEX_DIR", environ):
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME)) / "index"


def seeds_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of bundled articles a new library starts with."""
    return Path(_env("QA_SEEDS_DIR", environ) or PROJECT_ROOT / "seeds").expanduser()


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where indexes built from the seeds are cached between runs."""
    if value := _env("QA_CACHE_DIR", environ):
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def vector_uri(environ: Mapping[str, str] | None = None) -> str:
    """The vector search a new library is made with (an existing one keeps its own)."""
    return _env("QA_VECTOR_URI", environ)


def torch_threads(environ: Mapping[str, str] | None = None) -> int:
    """Torch threads per request when serving: one, so requests run side by side on the cores."""
    value = _env("QA_TORCH_THREADS", environ) or "1"
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise ConfigError(f"QA_TORCH_THREADS must be a whole number from 1 to 256, not {value!r}")
    return int(value)


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding the eval data files (SQuAD subsets)."""
    return Path(_env("QA_DATA_DIR", environ) or PROJECT_ROOT / "eval" / "data").expanduser()


def log_level(environ: Mapping[str, str] | None = None) -> int:
    """The level of the ``qa`` logger, from ``$QA_LOG_LEVEL`` (default ``WARNING``)."""
    value = (_env("QA_LOG_LEVEL", environ) or "WARNING").upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"QA_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return getattr(logging, value)


def allow_private_urls(environ: Mapping[str, str] | None = None) -> bool:
    """Whether URLs on private addresses may be fetched (``$QA_ALLOW_PRIVATE_URLS``, default no)."""
    value = (_env("QA_ALLOW_PRIVATE_URLS", environ) or "0").lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"QA_ALLOW_PRIVATE_URLS must be 1 or 0, not {value!r}")
    return value in ("1", "true", "yes")


def set_offline() -> None:
    """Nothing may reach a model hub at run time: set before transformers is imported. The
    only environment variables the project writes (and only when they are unset)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class _Stderr(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (tests capture it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def configure_logging(environ: Mapping[str, str] | None = None) -> logging.Logger:
    """The ``qa`` logger, writing ``qa: message`` lines to stderr at ``$QA_LOG_LEVEL``: what the
    library did by itself (seeding a new library, re-making a derived file) is said in one line.

    :raises ConfigError: ``QA_LOG_LEVEL`` is not a level name.
    """
    logger = logging.getLogger("qa")
    level = log_level(environ)
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("qa: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    return logger
