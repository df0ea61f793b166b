"""``semsearch check`` on an index in Milvus: the rules its collections keep (see
:mod:`semsearch.storage.milvus.collections`), each counted over every row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..base import Audit
from ..manifest import Manifest
from .collections import MARKER, Collections


def audit(c: Collections, manifest: Manifest, directory: Path) -> Audit:
    """Every rule the collections keep, counted: problems are empty when sound."""
    n = c.names
    problems: list[str] = []
    local = _local_encoder(directory)
    if local is not None and local != manifest.encoder:
        problems.append(
            f"{directory}/manifest.json names encoder {local.get('name')!r} "
            f"({local.get('fingerprint')}), the collection was built with "
            f"{manifest.encoder['name']!r} ({manifest.encoder.get('fingerprint')})"
        )
    stored = c.ids(n.passages, "id", "id >= 0")
    placed = c.ids(n.places, "passage_id", "seq >= 0")
    sentences = c.ids(n.sentences, "passage_id", "id >= 0")
    documents = c.files()["d"]
    sources = {r["source"] for b in c.batches(n.places, "seq >= 0", ["source"]) for r in b}
    for count, what in (
        (len(stored - placed), "passages with no place"),
        (len(placed - stored), "places of missing passages"),
        (len(sentences - stored), "sentence vectors of missing passages"),
        (len(sources - set(documents)), "files with places but no file row"),
        (len(set(documents) - sources), "indexed files with no place"),
    ):
        if count:
            problems.append(f"{count} {what}")
    if stale := [k for k in c.meta() if k.startswith(MARKER)]:
        problems.append(
            f"{len(stale)} writes in progress or interrupted "
            "(the next semsearch index cleans up after an interrupted one)"
        )
    if (manifest.documents, manifest.passages) != (len(documents), len(stored)):
        problems.append(
            f"manifest says {manifest.documents} documents and {manifest.passages} passages, "
            f"the collections hold {len(documents)} and {len(stored)}"
        )
    vectors = c.count(n.passages)  # every row has one: Milvus refuses a row without
    states = {p: (f.size, f.mtime_ns) for p, f in documents.items()}
    return Audit(states, len(stored & placed), vectors, tuple(problems))


def _local_encoder(directory: Path) -> dict[str, Any] | None:
    """The encoder the folder's manifest.json names (a copy of the collection's)."""
    try:
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["encoder"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
