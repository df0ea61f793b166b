"""Vectors already computed, so that no text is embedded twice by the same encoder.

The cache lives beside the database (``embeddings.sqlite`` in the index
folder) and outlives it: a file removed and added back, a rebuild with
other chunking that yields the same passages, or a switch back to an earlier
model all reuse what was computed. Keys hash the encoder's identity (name,
weights fingerprint, prompts, truncation) with the exact text embedded.

It is only a cache: a file that fails SQLite's integrity check is set aside
(``embeddings.sqlite.damaged``, then ``.damaged-2`` and on, never over an
earlier one), with a warning, and a new one is started. A disk that is full
or read-only is not damage: the write stops, the cache kept as it is.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..encoders import identity
from ..errors import DiskError, refusal, refused_write
from ..storage.blobs import PAGE_SIZE, matrix_of, to_blob

CACHE = "embeddings.sqlite"
_T = TypeVar("_T")


class EmbeddingCache:
    def __init__(self, path: Path, encoder_spec: dict[str, Any]) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._attempt(lambda: None)  # opens it
        self._salt = identity(encoder_spec)
        self._dim = int(encoder_spec["dim"])

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path)
        try:
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # new files only
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
                " WITHOUT ROWID"
            )
        except BaseException:
            db.close()
            raise
        return db

    def _attempt(self, action: Callable[[], _T]) -> _T:
        """``action()`` on the open cache; if SQLite fails and the file proves
        damaged, set it aside and do it again on a new one. A disk that refuses
        the write (full, read-only) stops the write with :class:`DiskError`, the
        cache kept as it is."""
        try:
            self._db = self._db or self._open()
            return action()
        except sqlite3.DatabaseError as exc:
            self._set_aside_if_damaged(exc)
        try:
            self._db = self._open()
            return action()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._refused(exc) from None

    def _refused(self, exc: BaseException) -> DiskError:
        return refused_write(exc, self._path) or DiskError(
            f"{self._path} could not be written ({exc}); the index is as it was"
        )

    def _set_aside_if_damaged(self, exc: sqlite3.DatabaseError) -> None:
        """Set the file aside if it fails SQLite's own check; else raise what stopped
        the write. Only damage is set aside: a full disk is not damage."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if refusal(exc) is not None or not self._damaged():
            raise self._refused(exc) from None
        aside = self._path.with_name(self._path.name + ".damaged")
        number = 1
        while aside.exists():  # never over an earlier one (writers hold the folder lock)
            number += 1
            aside = self._path.with_name(f"{self._path.name}.damaged-{number}")
        try:
            os.replace(self._path, aside)
            for journal in (f"{self._path}-journal", f"{self._path}-wal", f"{self._path}-shm"):
                if os.path.exists(journal):
                    os.remove(journal)
        except OSError as moving:
            raise self._refused(moving) from None
        import logging

        logging.getLogger("semsearch").warning(
            "the embedding cache %s is damaged (%s); set aside as %s, a new one is started",
            self._path,
            exc,
            aside.name,
        )

    def _damaged(self) -> bool:
        """Whether the file fails SQLite's quick check (or is no database at all)."""
        if not self._path.exists():
            return False
        try:
            db = sqlite3.connect(self._path)  # writable: it may roll back a hot journal
            try:
                return db.execute("PRAGMA quick_check").fetchall() != [("ok",)]
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            if refusal(exc) is not None:
                raise self._refused(exc) from None
            return True

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + b"\0" + text.encode()).digest()

    def embed(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts``: cached ones looked up, the rest encoded (one call) and stored."""
        return self._attempt(lambda: self._embed(texts, encode))  # damage may show late

    def _embed(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        db = self._db
        assert db is not None  # opened by _attempt
        keys = [self._key(t) for t in texts]
        found: dict[bytes, bytes] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            marks = ",".join("?" * len(batch))
            found.update(
                db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch)
            )
        missing = [i for i, k in enumerate(keys) if k not in found]
        matrix = np.empty((len(texts), self._dim), dtype=np.float32)
        if missing:
            fresh = np.asarray(encode([texts[i] for i in missing]), dtype=np.float32)
            matrix[missing] = fresh
            db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(keys[i], to_blob(fresh[n])) for n, i in enumerate(missing)],
            )
            db.commit()
        cached = [i for i, key in enumerate(keys) if key in found]
        if cached:
            matrix[cached] = matrix_of([found[keys[i]] for i in cached], self._dim)
        return matrix

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
