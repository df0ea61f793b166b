"""``manifest.json``: what an index is, and which of its files are live.

It names the database (``store-N/passages.sqlite``) and the generation folder
holding the FAISS file (``gen-N/``). A fresh build writes both into new
folders and commits by atomically replacing ``manifest.json``. Later writes
change the database in place and record the manifest in the same
transaction, so the database's copy is the one in force (``manifest.json`` is
rewritten just after, for people and tools that read it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import IndexCorruptError, IndexNotFoundError, NotAnIndexError

FORMAT_VERSION = 4
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The index's identity card (JSON, never pickle)."""

    generation: str
    database: str
    encoder: dict[str, Any]
    chunking: dict[str, Any]
    sources: list[str]
    documents: int
    passages: int
    occurrences: int
    built_at: float
    index_type: str = "auto"
    ann: str = "flat"
    ann_trained: int = 0
    """Passages the approximate index was trained on (it is retrained when they double)."""
    ann_base: str = ""
    """The generation whose FAISS file this one uses, when it only adds a delta to it."""
    ann_delta: int = 0
    """Vectors in this generation's delta file (added since the base file was written)."""
    ann_stale: int = 0
    """Vectors in the base file whose passages are gone (skipped when searching)."""
    format: int = FORMAT_VERSION
    tool: str = field(default="semsearch")

    @property
    def dim(self) -> int:
        return int(self.encoder["dim"])


def manifest_path(directory: Path) -> Path:
    return directory / MANIFEST


OWN_ENTRY = re.compile(r"(gen|store)-\d{6}|embeddings\.sqlite")
"""Names semsearch writes in an index folder (besides the manifest and hidden files)."""


def foreign_entries(directory: Path) -> list[str]:
    """Names in a folder without a manifest that semsearch did not put there.

    Hidden files and a README (the repo's ``index/`` ships both) don't count,
    nor what a first build interrupted before its manifest left behind, so
    such a folder can become an index; anything else means the folder holds
    someone's files, which are neither read as an index nor overwritten.
    """
    if not directory.is_dir() or manifest_path(directory).exists():
        return []
    return sorted(
        p.name
        for p in directory.iterdir()
        if not p.name.startswith(".") and p.name != "README.md" and not OWN_ENTRY.fullmatch(p.name)
    )


def read_manifest(directory: Path) -> Manifest:
    """Load and validate the manifest, with an error that says what to do."""
    path = manifest_path(directory)
    if not path.exists():
        if foreign_entries(directory):
            raise NotAnIndexError(
                f"{directory} is not a semsearch index (no {MANIFEST}); "
                "pass --index with a new or empty folder"
            )
        raise IndexNotFoundError(
            f"no index at {directory}; build one with: semsearch index PATH --index {directory}"
        )
    return parse_manifest(path.read_text(encoding="utf-8"), path, directory)


def parse_manifest(text: str, where: Path, directory: Path) -> Manifest:
    """A manifest from its JSON, refused with what to do if it is not one we read."""
    try:
        data = json.loads(text)
        if data.get("tool") != "semsearch":
            raise ValueError("not written by semsearch")
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {data.get('format')}, this version reads {FORMAT_VERSION}")
        return Manifest(**data)
    except (ValueError, TypeError, AttributeError) as exc:
        raise IndexCorruptError(
            f"{where} is unreadable ({exc}); rebuild with: semsearch index PATH --index {directory}"
        ) from None


def recorded_sources(directory: Path) -> list[str]:
    """The folders a manifest names, even one this version cannot otherwise read
    (an index from an older format is rebuilt from its own sources); else none."""
    try:
        sources = json.loads(manifest_path(directory).read_text(encoding="utf-8"))["sources"]
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return [str(s) for s in sources] if isinstance(sources, list) else []


def manifest_json(manifest: Manifest) -> str:
    return json.dumps(asdict(manifest), ensure_ascii=False, indent=2)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Atomically replace the manifest (write, fsync, rename)."""
    tmp = directory / f".{MANIFEST}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(manifest_json(manifest))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, manifest_path(directory))
