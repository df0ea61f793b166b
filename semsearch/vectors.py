"""FAISS side of the index: one vector per unique passage, id = passage id.

Exact inner product over L2-normalised vectors, i.e. cosine similarity; the
file is FAISS's own format (no pickle).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError


def new_vectors(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def load_vectors(path: Path, dim: int) -> faiss.Index:
    """Read a vector file, refusing one that is unreadable or of another dimension."""
    try:
        index = faiss.read_index(str(path))
    except RuntimeError:
        raise IndexCorruptError(f"{path} is not a readable FAISS file") from None
    if index.d != dim:
        raise IndexCorruptError(f"{path} holds {index.d}-dimensional vectors, manifest says {dim}")
    return index


def save_vectors(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def add_vectors(index: faiss.Index, ids: list[int], matrix: np.ndarray) -> None:
    if ids:
        index.add_with_ids(
            np.ascontiguousarray(matrix, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )


def remove_vectors(index: faiss.Index, ids: list[int]) -> None:
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))


def search_vectors(
    index: faiss.Index, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, ids) per query row; ids are -1 where fewer exist."""
    k = max(1, min(k, index.ntotal))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def reconstruct_vectors(index: faiss.Index, ids: list[int]) -> np.ndarray:
    """The stored vectors of the given ids, one row each."""
    if not ids:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.vstack([index.reconstruct(int(i)) for i in ids])


def range_search_vectors(
    index: faiss.Index, queries: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored vector with similarity >= ``threshold`` to each query, in one call.

    Returns FAISS's (lims, scores, ids): query ``i``'s results are
    ``scores[lims[i]:lims[i + 1]]`` and ``ids[lims[i]:lims[i + 1]]``.
    """
    return index.range_search(np.ascontiguousarray(queries, dtype=np.float32), float(threshold))
