"""The FAISS side: index types, checked against exact search on clustered vectors."""

import numpy as np
import pytest

from semsearch.vectors import (
    AUTO_FLAT_BELOW,
    add_vectors,
    build_ann,
    new_vectors,
    resolve_type,
    search_vectors,
)


def _clustered(n: int, seed: int) -> np.ndarray:
    """Points around topic centres, like text embeddings (random noise flatters no index)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((40, 384)).astype(np.float32)
    points = centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, 384)).astype(
        np.float32
    )
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_keep_recall_at_10_above_0_9(kind: str) -> None:
    data, queries = _clustered(4000, 1), _clustered(100, 2)
    ids = list(range(1000, 5000))  # ids are passage ids, not positions
    master = new_vectors(384)
    add_vectors(master, ids, data)
    ann = build_ann(master, kind)
    _, exact = search_vectors(master, queries, 10)
    _, approx = search_vectors(ann, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert recall >= 0.9
    assert set(approx.ravel()) <= set(ids)


def test_auto_is_exact_for_small_collections() -> None:
    assert resolve_type("auto", AUTO_FLAT_BELOW - 1) == "flat"
    assert resolve_type("auto", AUTO_FLAT_BELOW) == "ivf"
    assert resolve_type("ivf", 10) == "ivf"
