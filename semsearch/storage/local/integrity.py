"""What ``semsearch check`` asks of a local index's database: the rules its
tables keep, each a query that counts the rows breaking it (0 in a sound index)."""

from __future__ import annotations

from ..blobs import blob_size
from .database import Database

RULES = {
    "passages whose vector is not {dim} float32s": "SELECT count(*) FROM passages"
    " WHERE length(vector) != {blob}",
    "passages with no occurrence": "SELECT count(*) FROM passages WHERE id NOT IN"
    " (SELECT passage_id FROM occurrences)",
    "occurrences of missing passages": "SELECT count(*) FROM occurrences WHERE passage_id"
    " NOT IN (SELECT id FROM passages)",
    "sentences of missing passages": "SELECT count(*) FROM sentences WHERE passage_id NOT IN"
    " (SELECT id FROM passages)",
    "name-term rows of missing passages": "SELECT count(*) FROM terms WHERE passage_id"
    " NOT IN (SELECT id FROM passages)",
    "word-index rows of missing passages": "SELECT count(*) FROM lexical WHERE rowid NOT IN"
    " (SELECT id FROM passages)",
    "passages missing from the word index": "SELECT count(*) FROM passages WHERE id NOT IN"
    " (SELECT rowid FROM lexical)",
}
"""What each rule is, and the query counting the rows that break it."""


def audit(store: Database, dim: int) -> tuple[list[str], set[int], dict[str, tuple[int, int]]]:
    """What ``semsearch check`` asks of the database: (problems, passage ids,
    (size, mtime_ns) by document path). Raises sqlite3.DatabaseError if it is
    not a database."""
    with store.reading() as db:
        problems = []
        if (verdict := db.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
            problems.append(f"SQLite integrity check: {verdict}")
        for what, sql in RULES.items():
            if count := db.execute(sql.format(blob=blob_size(dim))).fetchone()[0]:
                problems.append(f"{count} {what.format(dim=dim)}")
        ids = {r[0] for r in db.execute("SELECT id FROM passages")}
        rows = db.execute("SELECT path, size, mtime_ns FROM documents").fetchall()
    return problems, ids, {path: (size, mtime) for path, size, mtime in rows}
