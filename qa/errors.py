"""The project's typed errors (defined in ``index.errors`` so the ingest side can raise them)."""

from index.errors import *  # noqa: F403
