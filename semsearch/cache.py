"""Vectors already computed, so that no text is embedded twice by the same encoder.

The cache lives beside the database (``embeddings.sqlite`` in the index
folder) and outlives it: a file removed and added back, a rebuild with
other chunking that yields the same passages, or a switch back to an earlier
model all reuse what was computed. Keys hash the encoder's identity (name,
weights fingerprint, prompts, truncation) with the exact text embedded.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .store import PAGE_SIZE, matrix_of, to_blob

CACHE = "embeddings.sqlite"


class EmbeddingCache:
    def __init__(self, path: Path, encoder_spec: dict[str, Any]) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # new files only
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"
        )
        identity = {
            k: encoder_spec.get(k)
            for k in ("name", "dim", "fingerprint", "prompts", "max_seq_length")
        }
        self._salt = json.dumps(identity, sort_keys=True).encode()
        self._dim = int(encoder_spec["dim"])

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._salt + b"\0" + text.encode()).digest()

    def embed(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts``: cached ones looked up, the rest encoded (one call) and stored."""
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
