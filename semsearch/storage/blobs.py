"""Vectors as SQLite stores them (the local database and every index's embedding
cache): float32 blobs, in pages large enough to keep them in place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAGE_SIZE = 16384
"""The bundled set's 3.5 KB vector blob (896 float32s) fits inside a 16 KB page: the
tables keyed by their own columns (sentences, the embedding cache) are b-tree
indexes, which keep at most about a quarter of a page in place. With smaller
pages each blob spills to an overflow page of its own, nearly tripling the file."""


def to_blob(vector: np.ndarray) -> bytes:
    """A vector as stored: float32 bytes."""
    return np.asarray(vector, dtype=np.float32).tobytes()


def blob_size(dim: int) -> int:
    """Bytes of a stored vector of ``dim`` dimensions."""
    return np.dtype(np.float32).itemsize * dim


def matrix_of(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stored vectors as the rows of one float32 matrix."""
    matrix = np.empty((len(blobs), dim), dtype=np.float32)
    for row, blob in enumerate(blobs):
        matrix[row] = np.frombuffer(blob, dtype=np.float32)
    return matrix
