"""Repeated passages: near-duplicate pairs and clusters within and across
documents, and how much of each document another one repeats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..index import Index
from ..records import Passage
from .cutoffs import thresholds

Stage = Callable[[str], None]
"""Called with a short description as each stage of a report starts."""


NEIGHBOURS = 256
"""Neighbours per passage used for the document similarity matrix."""


@dataclass(frozen=True)
class DuplicatePair:
    """Two different passages whose vectors are at least the threshold apart."""

    a: int
    b: int
    score: float


@dataclass(frozen=True)
class Cluster:
    """Passages that repeat each other, directly or through a chain of pairs.

    A passage whose exact text stands in several places is a cluster on its own.
    """

    passages: tuple[int, ...]
    places: int
    documents: tuple[str, ...]


@dataclass(frozen=True)
class DuplicateReport:
    """Near-duplicate passages and how much the documents repeat each other.

    ``coverage[a][b]``: share of document a's passages that have a close match
    (an exact repeat or a pair above the threshold) in document b; read a row
    as "how much of a is said again in b". Not symmetric. The diagonal is the
    share of a's passages repeated within a itself.

    ``similarity[a][b]``: mean over a's passages of the best cosine to any
    passage of b, averaged with the same from b to a: symmetric, diagonal 1.
    Best matches come from each passage's nearest NEIGHBOURS; where b has none
    among them, the farthest neighbour's score stands in (an upper bound).
    """

    threshold: float
    documents: tuple[str, ...]
    passages: dict[int, Passage]
    pairs: tuple[DuplicatePair, ...]
    clusters: tuple[Cluster, ...]
    coverage: tuple[tuple[float, ...], ...]
    similarity: tuple[tuple[float, ...], ...]


def near_duplicates(
    index: Index, threshold: float | None = None, stage: Stage | None = None
) -> DuplicateReport:
    """Find repeated passages within and across documents from the stored vectors.

    ``threshold`` defaults to the encoder's (see THRESHOLDS).
    """
    threshold = thresholds(index).duplicate if threshold is None else threshold
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    stage_started(stage, "reading passages")
    passages = index.passages()
    if not passages:
        raise InputError("the index holds no passages")
    ids = np.array([p.passage_id for p in passages], dtype=np.int64)
    documents = tuple(sorted({o.source for p in passages for o in p.occurrences}))
    counts = _occurrence_counts(passages, documents)  # passages x documents
    member = counts > 0
    vectors = index.vectors(ids.tolist())

    stage_started(stage, f"range search over {len(ids)} passages")
    lims, scores, found = index.within(vectors, threshold)
    rows = np.repeat(np.arange(len(ids)), np.diff(lims).astype(np.int64))
    partner = np.searchsorted(ids, found)
    keep = found > ids[rows]  # each unordered pair once, no self-pairs
    pa, pb, ps = rows[keep], partner[keep], scores[keep]
    pairs = tuple(
        DuplicatePair(int(ids[a]), int(ids[b]), float(s))
        for a, b, s in sorted(zip(pa, pb, ps, strict=True), key=lambda t: -t[2])
    )

    matched = np.zeros_like(member)  # passage has a near-duplicate in document
    np.logical_or.at(matched, pa, member[pb])
    np.logical_or.at(matched, pb, member[pa])
    coverage = _coverage(member, matched, counts)

    stage_started(stage, "nearest neighbours for the document matrix")
    k = min(len(ids), NEIGHBOURS)
    near_scores, near_ids = index.nearest(vectors, k)
    similarity = _similarity(member, near_scores, np.searchsorted(ids, near_ids))

    clusters = _clusters(passages, ids, pa, pb)
    return DuplicateReport(
        threshold,
        documents,
        {p.passage_id: p for p in passages},
        pairs,
        clusters,
        _rounded(coverage),
        _rounded(similarity),
    )


def _occurrence_counts(passages: list[Passage], documents: tuple[str, ...]) -> np.ndarray:
    column = {d: i for i, d in enumerate(documents)}
    counts = np.zeros((len(passages), len(documents)), dtype=np.int32)
    for row, p in enumerate(passages):
        for o in p.occurrences:
            counts[row, column[o.source]] += 1
    return counts


def _coverage(member: np.ndarray, matched: np.ndarray, counts: np.ndarray) -> np.ndarray:
    docs = member.shape[1]
    sizes = np.maximum(member.sum(0), 1)
    covered = np.zeros((docs, docs))
    for a in range(docs):
        mine = member[:, a]
        elsewhere = (matched | member) & mine[:, None]  # exact repeats count across documents
        elsewhere[:, a] = mine & (matched[:, a] | (counts[:, a] > 1))  # within a itself
        covered[a] = elsewhere.sum(0) / sizes[a]
    return covered


def _similarity(member: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    docs = member.shape[1]
    floor = scores[:, -1:]
    best = np.empty((member.shape[0], docs))
    for b in range(docs):
        in_b = member[rows, b]
        best[:, b] = np.where(in_b, scores, -np.inf).max(1)
        best[:, b] = np.where(np.isfinite(best[:, b]), best[:, b], floor[:, 0])
    sizes = np.maximum(member.sum(0), 1)
    directed = (member.T.astype(float) @ best) / sizes[:, None]
    similarity = (directed + directed.T) / 2
    np.fill_diagonal(similarity, 1.0)
    return similarity


def _clusters(
    passages: list[Passage], ids: np.ndarray, pa: np.ndarray, pb: np.ndarray
) -> tuple[Cluster, ...]:
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(pa.tolist(), pb.tolist(), strict=True):
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(root(i), []).append(i)
    clusters = []
    for members in groups.values():
        places = sum(len(passages[i].occurrences) for i in members)
        if places < 2:
            continue
        docs = sorted({o.source for i in members for o in passages[i].occurrences})
        clusters.append(Cluster(tuple(int(ids[i]) for i in members), places, tuple(docs)))
    return tuple(sorted(clusters, key=lambda c: (-c.places, c.passages)))


def _rounded(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(round(float(x), 4) for x in row) for row in matrix)


def stage_started(stage: Stage | None, what: str) -> None:
    if stage:
        stage(what)
