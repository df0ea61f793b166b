"""``semsearch check``: is an index sound, and are its sources still what was indexed?"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import IndexCorruptError
from .index import default_index_dir, load_finder
from .manifest import parse_manifest, read_manifest
from .store import connect_readonly
from .vectors import vector_ids as vector_ids_of


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
    outer = read_manifest(directory)
    database = directory / outer.database
    if not database.is_file():
        return CheckReport(0, 0, 0, (f"{database} is missing",), ())
    problems: list[str] = []
    try:
        db = connect_readonly(database)
        try:
            if (verdict := db.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
                problems.append(f"SQLite integrity check: {verdict}")
            recorded = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
            manifest = parse_manifest(recorded[0], database, directory) if recorded else outer
            passage_ids = {r[0] for r in db.execute("SELECT id FROM passages")}
            blob = 4 * manifest.dim
            queries = {
                f"passages whose vector is not {manifest.dim} float32s": "SELECT count(*) FROM "
                f"passages WHERE length(vector) != {blob}",
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
    except sqlite3.DatabaseError as exc:
        return CheckReport(0, 0, 0, (f"{database} is unreadable ({exc})",), ())
    try:
        finder = load_finder(directory, manifest)
    except (IndexCorruptError, OSError) as exc:
        problems.append(f"the finder of {manifest.generation} is unreadable ({exc})")
        vector_ids = passage_ids
    else:
        main = set(vector_ids_of(finder.main).tolist())
        delta = set(vector_ids_of(finder.delta).tolist()) if finder.delta is not None else set()
        if (dead := len(main - passage_ids)) != finder.stale:
            problems.append(
                f"the finder holds {dead} vectors of removed passages, "
                f"its manifest says {finder.stale}"
            )
        vector_ids = (main & passage_ids) | delta
        if orphans := delta - passage_ids:
            problems.append(
                f"{len(orphans)} vectors in the finder have no passage (e.g. id {min(orphans)})"
            )
    if missing := passage_ids - vector_ids:
        problems.append(f"{len(missing)} passages are not in the finder (e.g. id {min(missing)})")
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
