"""The FAISS side: index types, checked against exact search on clustered vectors."""

import numpy as np
import pytest

from semsearch.storage.local.exact import ExactFinder
from semsearch.storage.local.vectors import (
    Finder,
    add_vectors,
    build_finder,
    new_vectors,
    search_vectors,
    update_finder,
    vector_ids,
)
from semsearch.storage.manifest import AUTO_FLAT_BELOW, resolve_type


def _finder(ids: np.ndarray, data: np.ndarray, kind: str):
    """An approximate finder, or FAISS's exact one (what an IVF delta is)."""
    if kind != "flat":
        return build_finder(ids, data, kind)
    flat = new_vectors(data.shape[1])
    add_vectors(flat, ids.tolist(), data)
    return flat


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
    ids = np.arange(1000, 5000)  # ids are passage ids, not positions
    exact_ids = ids[np.argsort(-(queries @ data.T), axis=1)[:, :10]]  # numpy brute force
    ann = build_finder(ids, data, kind)
    _, approx = search_vectors(ann, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_ids, approx, strict=True)])
    assert recall >= 0.9
    assert set(approx.ravel()) <= set(ids.tolist())
    assert sorted(vector_ids(ann).tolist()) == ids.tolist()


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_a_finder_is_updated_in_place_where_its_type_allows(kind: str) -> None:
    data = _clustered(1200, 3)
    finder = _finder(np.arange(1000), data[:1000], kind)
    update_finder(finder, [0, 1], [1000, 1001], data[1000:1002])
    assert sorted(vector_ids(finder).tolist()) == [*range(2, 1002)]
    _, found = search_vectors(finder, data[1000:1001], 1)
    assert found[0][0] == 1000


def test_hnsw_cannot_be_updated_in_place() -> None:
    data = _clustered(200, 3)
    finder = build_finder(np.arange(100), data[:100], "hnsw")
    with pytest.raises(ValueError, match="rebuild it"):
        update_finder(finder, [0], [100], data[100:101])


def test_auto_is_exact_for_small_collections() -> None:
    assert resolve_type("auto", AUTO_FLAT_BELOW - 1) == "flat"
    assert resolve_type("auto", AUTO_FLAT_BELOW) == "ivf"
    assert resolve_type("ivf", 10) == "ivf"


def test_a_finder_with_stale_ids_returns_enough_to_drop_them() -> None:
    """Ids of removed passages stay in an IVF main file until it is rewritten;
    the finder fetches more so that k live candidates remain."""
    data = _clustered(1000, 4)
    main = build_finder(np.arange(1000), data, "ivf")
    delta = _finder(np.arange(1000, 1002), _clustered(2, 5), "flat")
    for finder in (Finder(main, "gen", None, 3), Finder(main, "gen", delta, 3)):
        _, ids = finder.search(data[:2], 10)
        assert ids.shape == (2, 13)
    _, ids = Finder(main, "gen").search(data[:2], 10)
    assert ids.shape == (2, 10)


def test_the_exact_finder_agrees_with_faiss_flat() -> None:
    data, queries = _clustered(3000, 6), _clustered(50, 7)
    ids = np.arange(500, 3500)
    exact = ExactFinder(ids, data, "gen")
    flat = _finder(ids, data, "flat")
    scores, found = exact.search(queries, 10)
    faiss_scores, faiss_found = search_vectors(flat, queries, 10)
    assert (found == faiss_found).mean() > 0.99 and np.allclose(scores, faiss_scores, atol=1e-5)
    lims, within_scores, within_ids = exact.within(queries, 0.6)
    flims, fscores, fids = flat.range_search(queries, 0.6)
    assert (lims == flims).all() and np.isclose(within_scores.sum(), fscores.sum(), rtol=1e-5)
    for i in range(len(queries)):
        assert set(within_ids[lims[i] : lims[i + 1]]) == set(fids[flims[i] : flims[i + 1]])
    few = ExactFinder(ids[:3], data[:3], "gen")
    assert few.search(queries[:1], 5)[1].tolist() == [[*few.search(queries[:1], 3)[1][0], -1, -1]]
