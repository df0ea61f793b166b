"""The Milvus backend: passages in a Milvus collection (Milvus Lite on this
machine, or a server or cluster), the index folder keeping only the manifest and
the embedding cache. :mod:`.address` parses ``--store``; :mod:`.collections`
holds the schema and keys; :mod:`.backend` writes, :mod:`.snapshot` reads,
:mod:`.markers` records writes in progress and :mod:`.audit` checks.

pymilvus is imported only when an index opens a Milvus store, after checking it
is installed (so a missing extra is one line naming its install command)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .address import parse_store, require_pymilvus

if TYPE_CHECKING:
    from .backend import MilvusBackend


def open_backend(directory: Path, address: str) -> MilvusBackend:
    spec = parse_store(address)
    require_pymilvus()  # before importing what imports it
    from .backend import MilvusBackend

    return MilvusBackend(directory, spec)


def canonical(address: str) -> str:
    return parse_store(address).address


__all__ = ["canonical", "open_backend"]
