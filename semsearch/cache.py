"""Vectors already computed, so that no text is embedded twice by the same encoder.

The cache lives beside the database (``embeddings.sqlite`` in the index
folder) and outlives it: a file removed and added back, a rebuild with
other chunking that yields the same passages, or a switch back to an earlier
model all reuse what was computed. Keys hash the encoder's identity (name,
weights fingerprint, prompts, truncation) with the exact text embedded.

It is only a cache: a damaged file is set aside (``embeddings.sqlite.damaged``),
with a warning, and a new one is started; nothing else is lost.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .encoders import identity
from .store import PAGE_SIZE, matrix_of, to_blob

CACHE = "embeddings.sqlite"


class EmbeddingCache:
    def __init__(self, path: Path, encoder_spec: dict[str, Any]) -> None:
        self._path = path
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            self._db = self._open()
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

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Move a damaged cache out of the way (kept for a look) and start afresh."""
        if getattr(self, "_db", None) is not None:
            self._db.close()
        aside = self._path.with_name(self._path.name + ".damaged")
        os.replace(self._path, aside)
        for journal in (f"{self._path}-journal", f"{self._path}-wal", f"{self._path}-shm"):
            if os.path.exists(journal):
                os.remove(journal)
        import logging

        logging.getLogger("semsearch").warning(
            "the embedding cache %s is damaged (%s); set aside as %s, a new one is started",
            self._path,
            exc,
            aside.name,
        )

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + b"\0" + text.encode()).digest()

    def embed(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts``: cached ones looked up, the rest encoded (one call) and stored."""
        try:
            return self._embed(texts, encode)
        except sqlite3.DatabaseError as exc:  # damage found past the first page
            self._set_aside(exc)
            self._db = self._open()
            return self._embed(texts, encode)

    def _embed(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[bytes, bytes] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            marks = ",".join("?" * len(batch))
            found.update(
                self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch)
            )
        missing = [i for i, k in enumerate(keys) if k not in found]
        matrix = np.empty((len(texts), self._dim), dtype=np.float32)
        if missing:
            fresh = np.asarray(encode([texts[i] for i in missing]), dtype=np.float32)
            matrix[missing] = fresh
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(keys[i], to_blob(fresh[n])) for n, i in enumerate(missing)],
            )
            self._db.commit()
        cached = [i for i, key in enumerate(keys) if key in found]
        if cached:
            matrix[cached] = matrix_of([found[keys[i]] for i in cached], self._dim)
        return matrix

    def close(self) -> None:
        self._db.close()
