"""SQLite side of the index: documents, unique passages and where each occurs.

A passage row is one unique text (keyed by the hash of its normalised form)
and holds its vector, whose FAISS id is the row id. Every place the text occurs
is an *occurrence* keyed by (document, position), so repeated paragraphs are
embedded once and never lose a location.

The database is the index's record of truth and is changed in place, one
transaction per write (WAL, so readers are never blocked); the FAISS files
only help find candidates quickly and can always be rebuilt from it. Vectors
are float32 blobs; :mod:`semsearch.storage.blobs` is the only code that
knows it. Only the local backend (its writer, snapshots and integrity rules) uses it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ...errors import NO_SPACE, DiskError
from ...records import DocumentRecord, Location, NewPassage, Passage
from ...text.lexical import fts_query
from ...text.names import passage_terms
from ..blobs import PAGE_SIZE, matrix_of, to_blob
from ..common import rarest

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS occurrences (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    passage_id INTEGER NOT NULL REFERENCES passages(id),
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    PRIMARY KEY (document_id, seq)
);
CREATE INDEX IF NOT EXISTS occurrences_by_passage ON occurrences(passage_id);
CREATE TABLE IF NOT EXISTS terms (
    skeleton TEXT NOT NULL,
    mask INTEGER NOT NULL,
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    PRIMARY KEY (skeleton, mask, passage_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sentences (
    passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (passage_id, start)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(body, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS skipped (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


BATCH = 500
"""Keys bound in one statement: SQLite bounds a statement's parameters (999 in
builds before 3.32, 32,766 since, other limits in some distributions)."""


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes and sees each write once committed.

    On a read-only filesystem (an index shipped in a container image) a WAL
    reader cannot create its shared-memory file; nobody can write there
    either, so the file is then opened as immutable. A full disk is not that
    case (a writer may come back), so it is a :class:`DiskError`.
    """
    if not path.is_file():  # connect would create it
        raise sqlite3.DatabaseError(f"{path} does not exist")
    db = sqlite3.connect(path, check_same_thread=False)
    try:
        db.execute("PRAGMA query_only = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_IOERR_SHMSIZE":
            db.close()
            raise DiskError(
                f"{NO_SPACE}: reading {path} needs room for its small -shm file beside it; "
                "free some space and run it again (the index is unharmed)"
            ) from None
        if os.access(path.parent, os.W_OK):
            raise
        db.close()
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
    return db


class Database:
    """A connection to the index's ``passages.sqlite``.

    A read-only store never writes (it sees each write once committed) and
    serialises access with a lock, so one store serves many threads. A
    writable one works inside one transaction until :meth:`commit`; closing it
    before that rolls everything back.
    """

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        if readonly:
            self._db = connect_readonly(path)
        else:
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # new files only
            self._db.executescript(SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")  # one writer; readers go on reading
        # Deletes are spelled out below, each by a primary key. Declared cascades
        # would scan the whole name-terms table (tens of millions of rows at a
        # million passages) for every passage removed.
        self._db.execute("PRAGMA foreign_keys = OFF")
        self._lock = threading.Lock()
        self._unplaced: set[int] = set()  # passages that lost a place since drop_orphans

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock, inside one read transaction: several reads see the same
        commit, even while another connection writes (a writer is in its own)."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def commit(self) -> None:
        self._db.commit()

    def use_wal(self) -> None:
        """Switch a committed file to write-ahead logging, so that later writes
        in place never block readers (a fresh file is built without it)."""
        self._db.execute("PRAGMA journal_mode = WAL")

    def read_only(self) -> None:
        """After the commit, serve readers from this connection (no second open)."""
        self._db.execute("PRAGMA query_only = ON")

    def data_version(self) -> int:
        """Changes whenever another connection commits: tells a reader to reload."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def snapshot(self) -> tuple[str | None, int, int, int]:
        """(recorded manifest, documents, passages, occurrences), read at one instant.

        One statement is one read transaction, so a write committing meanwhile
        cannot make the record and the counts disagree.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT (SELECT value FROM meta WHERE key = 'manifest'),"
                " (SELECT count(*) FROM documents), (SELECT count(*) FROM passages),"
                " (SELECT count(*) FROM occurrences)"
            ).fetchone()
        return row[0], int(row[1]), int(row[2]), int(row[3])

    def put_manifest(self, text: str) -> None:
        """Record the manifest in the write's own transaction: its commit point."""
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('manifest', ?)", (text,))

    def counts(self) -> tuple[int, int, int]:
        """(documents, passages, occurrences); also proves the file is a database."""
        _, documents, passages, occurrences = self.snapshot()
        return documents, passages, occurrences

    def documents(self, paths: Iterable[str] | None = None) -> dict[str, DocumentRecord]:
        """Records by path: of every document, or of those among ``paths`` (a write
        looks up only the files it touches, however many the index holds)."""
        query = "SELECT id, path, sha256, size, mtime_ns FROM documents"
        with self.reading():
            if paths is None:
                rows = self._db.execute(query).fetchall()
            else:
                rows = self._where_in(f"{query} WHERE path IN", paths)
        return {r[1]: DocumentRecord(*r) for r in rows}

    def file_states(self) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) by path of every file seen: indexed or skipped as unusable.

        What a folder is compared with to tell whether anything changed; a
        skipped file counts as seen, so it does not make the index stale again.
        """
        with self.reading():
            rows = self._db.execute("SELECT path, size, mtime_ns FROM documents").fetchall()
            rows += self._db.execute("SELECT path, size, mtime_ns FROM skipped").fetchall()
        return {path: (size, mtime) for path, size, mtime in rows}

    def skipped(self, paths: Iterable[str] | None = None) -> dict[str, tuple[int, int, str]]:
        """(size, mtime_ns, reason) by path of the files found unusable, as they were
        then: all of them, or those among ``paths``."""
        query = "SELECT path, size, mtime_ns, reason FROM skipped"
        with self.reading():
            if paths is None:
                rows = self._db.execute(query).fetchall()
            else:
                rows = self._where_in(f"{query} WHERE path IN", paths)
        return {path: (size, mtime, reason) for path, size, mtime, reason in rows}

    def put_skipped(self, path: str, size: int, mtime_ns: int, reason: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO skipped (path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
            (path, size, mtime_ns, reason),
        )

    def drop_skipped(self, paths: Iterable[str]) -> None:
        self._db.executemany("DELETE FROM skipped WHERE path = ?", [(p,) for p in paths])

    def passage_ids(self, hashes: Iterable[str]) -> dict[str, int]:
        """Ids of the passages already stored for these text hashes."""
        return dict(self._where_in("SELECT sha256, id FROM passages WHERE sha256 IN", hashes))

    def add_passage(self, passage: NewPassage) -> int:
        """Store a unique text with its vector, words and name terms; return its id."""
        cur = self._db.execute(
            "INSERT INTO passages (sha256, text, vector) VALUES (?, ?, ?)",
            (passage.sha256, passage.text, to_blob(passage.vector)),
        )
        pid = cur.lastrowid
        assert pid is not None
        self._db.executemany(
            "INSERT INTO terms (skeleton, mask, passage_id) VALUES (?, ?, ?)",
            [(skeleton, mask, pid) for skeleton, mask in passage.names],
        )
        self._db.execute(
            "INSERT INTO lexical (rowid, body) VALUES (?, ?)", (pid, " ".join(passage.words))
        )
        return pid

    def add_sentences(self, rows: Iterable[tuple[int, int, int, np.ndarray]]) -> None:
        """(passage_id, start, end, vector); offsets are into the passage text."""
        self._db.executemany(
            "INSERT INTO sentences (passage_id, start, end, vector) VALUES (?, ?, ?, ?)",
            ((pid, s, e, to_blob(v)) for pid, s, e, v in rows),
        )

    def vectors(self, passage_ids: Sequence[int], dim: int) -> tuple[list[int], np.ndarray]:
        """(ids found, their vectors as rows), in the order asked; absent ids are left out."""
        with self._lock:
            found = dict(self._where_in("SELECT id, vector FROM passages WHERE id IN", passage_ids))
        ids = [pid for pid in passage_ids if pid in found]
        return ids, matrix_of([found[pid] for pid in ids], dim)

    def _where_in(self, query: str, keys: Iterable[str | int], tail: str = "") -> list[tuple]:
        """Rows of ``query (?, ?, …)`` for these keys, a few hundred at a time
        (SQLite bounds the number of parameters of one statement)."""
        wanted = sorted(set(keys))
        rows: list[tuple] = []
        for i in range(0, len(wanted), BATCH):
            batch = wanted[i : i + BATCH]
            rows += self._db.execute(
                f"{query} ({','.join('?' * len(batch))}){tail}", batch
            ).fetchall()
        return rows

    def all_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every passage, by id: filled row by row, so that a
        million vectors cost their 1.5 GB once, not again as Python objects."""
        with self.reading():  # the count and the rows from the same commit
            (count,) = self._db.execute("SELECT count(*) FROM passages").fetchone()
            ids = np.empty(count, dtype=np.int64)
            matrix = np.empty((count, dim), dtype=np.float32)
            rows = self._db.execute("SELECT id, vector FROM passages ORDER BY id")
            for n, (pid, blob) in enumerate(rows):
                ids[n] = pid
                matrix[n] = np.frombuffer(blob, dtype=np.float32)  # row by row: see to_blob
        return ids, matrix

    def sentences(self, passage_ids: Iterable[int]) -> list[tuple[int, int, int, np.ndarray]]:
        """(passage_id, start, end, vector) of the stored sentences of these passages."""
        with self._lock:
            rows = self._where_in(
                "SELECT passage_id, start, end, vector FROM sentences WHERE passage_id IN",
                passage_ids,
                " ORDER BY passage_id, start",
            )
        return [(pid, s, e, np.frombuffer(blob, dtype=np.float32)) for pid, s, e, blob in rows]

    def bm25(self, words: list[str], limit: int, budget: int | None = None) -> dict[int, float]:
        """BM25 scores (higher is better) of the passages holding any of ``words``.

        With a ``budget``, the rarest words are kept while the passages holding
        them total at most that many (see :meth:`_rarest`).
        """
        words = list(dict.fromkeys(words))
        with self._lock:
            if budget is not None:
                words = self._rarest(
                    words,
                    "SELECT rowid FROM lexical WHERE lexical MATCH ?",
                    lambda w: fts_query([w]),
                    budget,
                )
            query = fts_query(words)
            if query is None:
                return {}
            rows = self._db.execute(
                "SELECT rowid, -bm25(lexical) FROM lexical WHERE lexical MATCH ?"
                " ORDER BY bm25(lexical) LIMIT ?",
                (query, limit),
            ).fetchall()
        return {int(pid): float(score) for pid, score in rows}

    def postings(
        self, skeletons: Iterable[str], budget: int | None = None
    ) -> list[tuple[str, int, int]]:
        """(skeleton, mask, passage_id) rows for the given skeletons.

        With a ``budget``, the rarest skeletons are kept while their rows total
        at most that many (see :meth:`_rarest`).
        """
        wanted = sorted(set(skeletons))
        with self._lock:
            if budget is not None:
                wanted = self._rarest(
                    wanted, "SELECT 1 FROM terms WHERE skeleton = ?", lambda k: k, budget
                )
            if not wanted:
                return []
            marks = ",".join("?" * len(wanted))
            return self._db.execute(
                f"SELECT skeleton, mask, passage_id FROM terms WHERE skeleton IN ({marks})", wanted
            ).fetchall()

    def _rarest(
        self, keys: list[str], rows: str, argument: Callable[[str], object], budget: int
    ) -> list[str]:
        """The keys worth reading (see :func:`~semsearch.storage.common.rarest`), each counted by the
        query ``rows`` with ``argument(key)``, only up to ``budget + 1``."""
        return rarest(
            {
                key: self._db.execute(
                    f"SELECT count(*) FROM ({rows} LIMIT ?)", (argument(key), budget + 1)
                ).fetchone()[0]
                for key in keys
            },
            budget,
        )

    def put_document(
        self,
        record: DocumentRecord,
        occurrences: Sequence[tuple[int, int, int]],
    ) -> None:
        """Insert or replace a document with its (passage_id, start, end) list."""
        self.remove_documents([record.path])
        cur = self._db.execute(
            "INSERT INTO documents (path, sha256, size, mtime_ns) VALUES (?, ?, ?, ?)",
            (record.path, record.sha256, record.size, record.mtime_ns),
        )
        doc_id = cur.lastrowid
        self._db.executemany(
            "INSERT INTO occurrences (document_id, seq, passage_id, start, end)"
            " VALUES (?, ?, ?, ?, ?)",
            [(doc_id, seq, pid, s, e) for seq, (pid, s, e) in enumerate(occurrences)],
        )

    def touch_document(self, record: DocumentRecord) -> None:
        """Record a new size and mtime for a file whose content did not change."""
        self._db.execute(
            "UPDATE documents SET size = ?, mtime_ns = ? WHERE path = ?",
            (record.size, record.mtime_ns, record.path),
        )

    def remove_documents(self, paths: Iterable[str]) -> None:
        """Delete documents with their places (their passages wait for drop_orphans)."""
        for path in paths:
            row = self._db.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
            if row is None:
                continue
            self._unplaced.update(
                r[0]
                for r in self._db.execute(
                    "SELECT passage_id FROM occurrences WHERE document_id = ?", row
                )
            )
            self._db.execute("DELETE FROM occurrences WHERE document_id = ?", row)
            self._db.execute("DELETE FROM documents WHERE id = ?", row)

    def drop_orphans(self) -> list[int]:
        """Delete the passages no document uses any more; return their ids.

        Only passages that lost a place since the last call can have become
        orphans, so only they are looked at. A passage's name terms are found
        again from its text, so ``passage_terms`` may change only with
        ``FORMAT_VERSION`` (old rows would be left behind; ``check`` reports them).
        """
        orphans = sorted(
            pid
            for pid in self._unplaced
            if self._db.execute(
                "SELECT 1 FROM occurrences WHERE passage_id = ? LIMIT 1", (pid,)
            ).fetchone()
            is None
        )
        self._unplaced.clear()
        for pid in orphans:
            (text,) = self._db.execute("SELECT text FROM passages WHERE id = ?", (pid,)).fetchone()
            self._db.executemany(
                "DELETE FROM terms WHERE skeleton = ? AND mask = ? AND passage_id = ?",
                [(skeleton, mask, pid) for skeleton, mask in passage_terms(text)],
            )
            self._db.execute("DELETE FROM sentences WHERE passage_id = ?", (pid,))
            self._db.execute("DELETE FROM lexical WHERE rowid = ?", (pid,))
            self._db.execute("DELETE FROM passages WHERE id = ?", (pid,))
        return orphans

    def passage_ids_all(self) -> list[int]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM passages ORDER BY id")]

    def document_occurrences(self, path: str) -> list[tuple[int, int, int]]:
        """(passage_id, start, end) of one document, in reading order."""
        with self._lock:
            return self._db.execute(
                "SELECT o.passage_id, o.start, o.end FROM occurrences o"
                " JOIN documents d ON d.id = o.document_id WHERE d.path = ? ORDER BY o.seq",
                (path,),
            ).fetchall()

    def fetch(self, passage_ids: Iterable[int]) -> dict[int, Passage]:
        """Text and every place (in document order) of the given passages; absent ids
        are left out. One read transaction: a write between the two reads would
        leave a passage without its places."""
        ids = sorted(set(passage_ids))
        with self.reading():
            texts = self._where_in("SELECT id, text FROM passages WHERE id IN", ids)
            places = self._where_in(
                "SELECT o.passage_id, d.path, o.start, o.end FROM occurrences o"
                " JOIN documents d ON d.id = o.document_id WHERE o.passage_id IN",
                ids,
                " ORDER BY d.path, o.seq",
            )
        found: dict[int, list[Location]] = {pid: [] for pid, _ in texts}
        for pid, path, start, end in places:  # a passage's places all come in one batch
            found[pid].append(Location(path, start, end))
        return {pid: Passage(pid, text, tuple(found[pid])) for pid, text in texts}
