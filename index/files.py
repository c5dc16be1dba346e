"""File helpers of a saved library: names, checksums, fsync, the config copy, and the previous
format's manifest (read only to upgrade it)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

MANIFEST = "manifest.json"
CONFIG = "config.json"
FORMAT = 2  # the previous format's manifest version (index/repair.py upgrades it)


def content_hash(text: str) -> str:
    """The sha256 of a text's UTF-8, hex: an article's identity in the library."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, hex, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync(path: Path) -> None:
    """Flush a file's bytes to the disk."""
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename or link in it) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_config_copy(root: Path, config) -> None:
    """``config.json`` beside the store, for people to read (the store keeps the one used)."""
    text = config.to_json()
    try:
        if (root / CONFIG).read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    tmp = root / f"{CONFIG}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, root / CONFIG)
    except OSError:  # only a copy: the store keeps the config that counts
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def read_json_of_format(path: Path, version: int) -> dict | None:
    """The JSON object at ``path`` if it reads and says ``"format": version``; else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == version else None


def read_manifest(root: Path) -> dict | None:
    """The previous format's manifest, if readable."""
    return read_json_of_format(root / MANIFEST, FORMAT)
