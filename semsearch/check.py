"""``semsearch check``: is an index sound, and are its sources still what was indexed?"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import faiss

from .index import ANN, DATABASE, VECTORS, default_index_dir
from .manifest import read_manifest
from .vectors import load_vectors


@dataclass(frozen=True)
class CheckReport:
    """What ``semsearch check`` found; ``problems`` is empty for a sound index."""

    documents: int
    passages: int
    vectors: int
    problems: tuple[str, ...]
    stale: tuple[str, ...]


def check_index(directory: str | Path | None = None) -> CheckReport:
    """Verify that the FAISS ids and the SQLite passages are in step, and more.

    Reads the files directly rather than through :meth:`Index.open`, which
    refuses an inconsistent index, so that it can say what is wrong. ``stale``
    lists indexed files changed or deleted on disk since (not a fault).
    """
    directory = Path(directory) if directory is not None else default_index_dir()
    manifest = read_manifest(directory)
    gen = directory / manifest.generation
    if not (gen / DATABASE).is_file() or not (gen / VECTORS).is_file():
        return CheckReport(0, 0, 0, (f"{gen} is missing its files",), ())
    problems: list[str] = []
    vectors = load_vectors(gen / VECTORS, manifest.dim)
    vector_ids = set(faiss.vector_to_array(vectors.id_map).tolist())
    db = sqlite3.connect(f"{(gen / DATABASE).resolve().as_uri()}?mode=ro", uri=True)
    try:
        if (verdict := db.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
            problems.append(f"SQLite integrity check: {verdict}")
        passage_ids = {r[0] for r in db.execute("SELECT id FROM passages")}
        queries = {
            "passages with no occurrence": "SELECT count(*) FROM passages WHERE id NOT IN "
            "(SELECT passage_id FROM occurrences)",
            "occurrences of missing passages": "SELECT count(*) FROM occurrences WHERE passage_id "
            "NOT IN (SELECT id FROM passages)",
            "sentences of missing passages": "SELECT count(*) FROM sentences WHERE passage_id NOT IN "
            "(SELECT id FROM passages)",
            "name-term rows of missing passages": "SELECT count(*) FROM terms WHERE passage_id "
            "NOT IN (SELECT id FROM passages)",
            "word-index rows of missing passages": "SELECT count(*) FROM lexical WHERE rowid NOT IN "
            "(SELECT id FROM passages)",
            "passages missing from the word index": "SELECT count(*) FROM passages WHERE id NOT IN "
            "(SELECT rowid FROM lexical)",
        }
        for what, sql in queries.items():
            if count := db.execute(sql).fetchone()[0]:
                problems.append(f"{count} {what}")
        documents = {
            path: (size, mtime)
            for path, size, mtime in db.execute("SELECT path, size, mtime_ns FROM documents")
        }
    finally:
        db.close()
    if missing := passage_ids - vector_ids:
        problems.append(f"{len(missing)} passages have no vector (e.g. id {min(missing)})")
    if orphans := vector_ids - passage_ids:
        problems.append(f"{len(orphans)} vectors have no passage (e.g. id {min(orphans)})")
    if manifest.ann != "flat":
        ann = load_vectors(gen / ANN, manifest.dim, mmap=True)
        if ann.ntotal != len(passage_ids):
            problems.append(
                f"the approximate index holds {ann.ntotal} vectors for {len(passage_ids)} passages"
            )
    if (manifest.documents, manifest.passages) != (len(documents), len(passage_ids)):
        problems.append(
            f"manifest says {manifest.documents} documents and {manifest.passages} passages, "
            f"the database holds {len(documents)} and {len(passage_ids)}"
        )
    stale = tuple(
        path
        for path, known in sorted(documents.items())
        if not Path(path).is_file()
        or (Path(path).stat().st_size, Path(path).stat().st_mtime_ns) != known
    )
    return CheckReport(len(documents), len(passage_ids), len(vector_ids), tuple(problems), stale)
