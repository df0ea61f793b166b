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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError, IndexNotFoundError, InputError, NotAnIndexError
from .folder import MANIFEST, foreign_entries, rebuild_hint

FORMAT_VERSION = 4
INDEX_TYPES = ("auto", "flat", "hnsw", "ivf")
"""How vectors are found: auto (exact while small), flat (exact), hnsw or ivf (approximate)."""


AUTO_FLAT_BELOW = 20_000
"""Below this many passages exact search is fast enough; above it `auto` picks IVF,SQ8.

bench/ann.py on clustered 384-dim vectors, this 2-core machine (p50 per query,
recall@10 against exact search):
- 100k: IVF1264,SQ8 (nprobe 16) 0.21 ms at 0.985; HNSW32,SQ8 0.46 ms at 0.990;
  exact flat 17.6 ms; numpy brute force 8.1 ms.
- 1M: IVF4000,SQ8 0.63 ms at 0.978, 380 MB, opens in 0.43 s; HNSW32,SQ8 0.32 ms
  but recall 0.767, 626 MB, 1.58 s to open; exact flat 186 ms; numpy 89 ms.
The search path rescores the candidates with the exact vectors, which lifts
the recall of whatever the approximate index returns.
"""


def resolve_type(kind: str, count: int) -> str:
    """The index type to build for ``count`` vectors (``auto`` decides by size)."""
    if kind == "auto":
        return "flat" if count < AUTO_FLAT_BELOW else "ivf"
    return kind


def check_index_type(kind: str) -> None:
    if kind not in INDEX_TYPES:
        raise InputError(f"unknown index type {kind!r}; choose one of: {', '.join(INDEX_TYPES)}")


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
    store: str = ""
    """Where the passages live when not in this folder: a Milvus address (see semsearch.storage)."""
    format: int = FORMAT_VERSION
    tool: str = field(default="semsearch")

    @property
    def dim(self) -> int:
        return int(self.encoder["dim"])


def manifest_path(directory: Path) -> Path:
    return directory / MANIFEST


def read_manifest(directory: Path) -> Manifest:
    """Load and validate the manifest, with an error that says what to do."""
    path = manifest_path(directory)
    if directory.exists() and not directory.is_dir():
        raise NotAnIndexError(f"{directory} is a file, not an index folder; pass --index FOLDER")
    if not path.exists():
        if foreign_entries(directory):
            raise NotAnIndexError(
                f"{directory} is not a semsearch index (no {MANIFEST}); "
                "pass --index with a new or empty folder"
            )
        raise IndexNotFoundError(
            f"no index at {directory}; build one with: semsearch index PATH --index {directory}"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}){rebuild_hint(directory)}") from None
    return parse_manifest(text, path, directory)


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
        raise IndexCorruptError(f"{where} is unreadable ({exc}){rebuild_hint(directory)}") from None


def recorded_sources(directory: Path) -> list[str]:
    """The folders a manifest names, even one this version cannot otherwise read
    (an index from an older format is rebuilt from its own sources); else none."""
    try:
        sources = json.loads(manifest_path(directory).read_text(encoding="utf-8"))["sources"]
    except (OSError, ValueError, TypeError, KeyError):  # UnicodeDecodeError is a ValueError
        return []
    return [str(s) for s in sources] if isinstance(sources, list) else []


def recorded_store(directory: Path) -> str:
    """The store a manifest names (even one this version cannot otherwise read); else ""."""
    try:
        store = json.loads(manifest_path(directory).read_text(encoding="utf-8")).get("store")
    except (OSError, ValueError, TypeError, AttributeError):
        return ""
    return store if isinstance(store, str) else ""


def manifest_json(manifest: Manifest) -> str:
    return json.dumps(asdict(manifest), ensure_ascii=False, indent=2)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Atomically replace the manifest (write, fsync, rename)."""
    tmp = directory / f".{MANIFEST}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(manifest_json(manifest))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, manifest_path(directory))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
