"""The on-disk layout of a saved index: file names, checksums, fsync, the manifest."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

MANIFEST = "manifest.json"
CONFIG = "config.json"
FORMAT = 2


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
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
        tmp.unlink(missing_ok=True) if tmp.is_file() else None


def read_manifest(root: Path) -> dict | None:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def referenced(manifest: dict) -> set[str]:
    names = {MANIFEST, CONFIG}
    for seg in manifest.get("segments", []):
        names.update(seg["files"])
    names.update(manifest.get("vectors", {}).get("files", {}))
    return names


# Names this package writes (the last two: the previous format). Nothing else is ever deleted.
OURS = re.compile(r"^(seg-.+\.(npz|jsonl)|(sentences|passages)(-.+)?\.faiss|.+\.tmp|"
                  r"docstore\.json|texts\.jsonl)$")


def delete_unreferenced(root: Path, manifest: dict) -> None:
    """Remove index files an earlier save, a killed writer or an older format left behind
    (only names this module writes: anything else in the directory is left alone)."""
    keep = referenced(manifest)
    for f in root.iterdir():
        if f.is_file() and f.name not in keep and OURS.match(f.name):
            f.unlink(missing_ok=True)


def clear_manifest(root: Path) -> None:
    (root / MANIFEST).unlink(missing_ok=True)
