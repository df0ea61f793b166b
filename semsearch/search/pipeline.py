"""The search pipeline: from question vectors to ranked, deduplicated,
highlighted hits, over any storage backend's :class:`~semsearch.storage.base.Snapshot`.

For each question: candidates from the vector index, from BM25 and from name
matches; every candidate scored on every signal (passage and best-sentence
cosines, BM25, names); the signals fused (:mod:`.ranking`); near-identical
passages dropped; each hit given its places and its best sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import QueryError
from ..records import Hit, Passage
from ..storage.base import DENSE_CANDIDATES, Snapshot
from ..text.lexical import collapse_spaces
from ..text.lexical import terms as lexical_terms
from ..text.names import name_scores, query_terms
from .ranking import FUSIONS, Signals, Weights, check_mode, fuse

MAX_QUERY_CHARS = 2000
"""Longest question accepted: e5 reads 512 tokens, about 2,000 characters of text."""


@dataclass(frozen=True)
class Retrieval:
    """How many candidates each signal proposes and how they are fused."""

    dense_candidates: int = DENSE_CANDIDATES
    """Passages taken from the vector index per question, to be rescored with their sentences."""
    lexical_candidates: int = 100
    """Passages taken from BM25, and from name matches, per question."""
    lexical_budget: int = 5000
    """Most postings a question reads for its words, and for its names: the rarest
    terms first (they weigh most), common ones ("Iraq" in an archive about Iraq)
    left out. A fixed number, not a share, so that a question's lexical work stays
    bounded however large the index grows (bench/scale.py: reading every posting of
    words in up to 5% of 100k passages made hybrid queries ~130 ms)."""
    dedupe_slack: int = 10
    """Extra candidates ranked so that near-identical hits can be dropped and k still filled."""
    dedupe_cosine: float = 0.97
    """Passage vectors this close say the same thing: only the better-ranked is shown."""
    fusion: str = "weighted"
    """How the signals combine: ``weighted`` (see ranking.py) or ``rrf``."""
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise QueryError(f"unknown fusion {self.fusion!r}; choose one of: {', '.join(FUSIONS)}")


def check_query(queries: list[str], k: int) -> None:
    """Refuse empty or overlong questions and k < 1 before any work is done."""
    if k < 1:
        raise QueryError(f"k must be 1 or more, got {k}")
    for i, q in enumerate(queries):
        where = "" if len(queries) == 1 else f" (question {i + 1})"
        if not isinstance(q, str) or not q.strip():
            raise QueryError(f'empty question{where}: ask something, e.g. semsearch ask "..."')
        if len(q) > MAX_QUERY_CHARS:
            raise QueryError(
                f"question{where} is {len(q):,} characters, more than the {MAX_QUERY_CHARS:,} "
                "a question may have; ask about one thing at a time"
            )


GROUP = 16
"""Questions whose candidates are read together: one vector, sentence and passage
read per group (a round trip each to a remote store), bounded memory per group."""


def retrieve(
    snapshot: Snapshot,
    queries: Sequence[str],
    matrix: np.ndarray,
    k: int,
    mode: str,
    settings: Retrieval = Retrieval(),
) -> list[list[Hit]]:
    """The ``k`` best hits for each question (``matrix``: their vectors, one row each;
    unused in lexical mode), best first."""
    check_mode(mode)
    want = min(snapshot.manifest.passages, k + settings.dedupe_slack)
    if mode == "lexical":
        ids = np.full((len(queries), 0), -1)
    else:
        ids = snapshot.candidates(matrix, max(want, settings.dense_candidates))
    lexical = mode != "dense"
    terms = [query_terms(q) if lexical else [] for q in queries]
    postings = snapshot.postings(
        (s for ts in terms for t in ts for s in t.skeletons), settings.lexical_budget
    )
    out: list[list[Hit]] = []
    for first in range(0, len(queries), GROUP):
        group = range(first, min(first + GROUP, len(queries)))
        words = [lexical_terms(queries[i]) if lexical else [] for i in group]
        bm25s = snapshot.bm25(words, settings.lexical_candidates, settings.lexical_budget)
        pools, signals = [], []
        for i, bm25 in zip(group, bm25s, strict=True):
            names = name_scores(terms[i], postings, snapshot.manifest.passages) if lexical else {}
            best_names = sorted(names, key=lambda pid: -names[pid])[: settings.lexical_candidates]
            pools.append(
                list(dict.fromkeys([int(p) for p in ids[i] if p >= 0] + [*bm25, *best_names]))
            )
            signals.append((bm25, names))
        candidates = _candidates(snapshot, matrix[group.start : group.stop], pools, signals)
        rankings = []
        for scored in candidates:
            scores = fuse(
                {pid: c.signals for pid, c in scored.items()},
                mode,
                settings.fusion,
                settings.weights,
            )
            rankings.append([(pid, scores[pid], scored[pid]) for pid in _best(scores, want)])
        rows = snapshot.passages({pid for ranking in rankings for pid, _, _ in ranking})
        out += [
            _hits(rows, _by_place(rows, ranking)[:want], k, settings.dedupe_cosine)
            for ranking in rankings
        ]
    return out


def _best(scores: dict[int, float], want: int) -> list[int]:
    """The ``want`` best-scored passages, and any tied with the last of them (the
    tie is decided by place, once their rows are read)."""
    order = sorted(scores, key=lambda pid: -scores[pid])
    end = min(want, len(order))
    while 0 < end < len(order) and scores[order[end]] == scores[order[end - 1]]:
        end += 1
    return order[:end]


def _by_place(
    rows: dict[int, Passage], ranking: list[tuple[int, float, _Candidate]]
) -> list[tuple[int, float, _Candidate]]:
    """Best first; equal scores (a name matched by several passages, in lexical
    mode) in the order of their first place in the files, not of their ids, which
    each store gives in its own way: the same answers from every store."""
    found = [entry for entry in ranking if entry[0] in rows]  # removed by a write meanwhile
    return sorted(
        found, key=lambda e: (-e[1], min((o.source, o.start) for o in rows[e[0]].occurrences))
    )


@dataclass(frozen=True)
class _Candidate:
    """A passage considered for a question: its signals, its vector, its best sentence."""

    signals: Signals
    vector: np.ndarray
    sentence: tuple[int, int] | None


def _candidates(
    snapshot: Snapshot,
    queries: np.ndarray,
    pools: list[list[int]],
    signals: list[tuple[dict[int, float], dict[int, float]]],
) -> list[dict[int, _Candidate]]:
    """Score each question's candidate passages on every signal (the group's vectors
    and sentences read in one lookup each)."""
    found, vectors = snapshot.vectors(sorted({pid for pool in pools for pid in pool}))
    row = {pid: n for n, pid in enumerate(found)}  # a concurrent write may have removed some
    spans: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for pid, start, end, vector in snapshot.sentences(found):
        spans.setdefault(pid, []).append((start, end, vector))
    out = []
    for query, pool, (bm25, names) in zip(queries, pools, signals, strict=True):
        scored = {}
        for pid in pool:
            if pid not in row:
                continue
            vector = vectors[row[pid]]
            best: tuple[float, int, int] | None = None
            for start, end, sentence in spans.get(pid, ()):
                score = float(sentence @ query)
                if best is None or score > best[0]:
                    best = (score, start, end)
            scored[pid] = _Candidate(
                Signals(
                    float(vector @ query),
                    best[0] if best else None,
                    bm25.get(pid, 0.0),
                    names.get(pid, 0.0),
                ),
                vector,
                best[1:] if best else None,
            )
        out.append(scored)
    return out


def _hits(
    rows: dict[int, Passage],
    ranking: list[tuple[int, float, _Candidate]],
    k: int,
    dedupe_cosine: float,
) -> list[Hit]:
    """Hits for the best ``k`` passages, skipping near-identical texts, with highlights."""
    texts = {pid: collapse_spaces(rows[pid].text) for pid, _, _ in ranking}
    kept: list[tuple[int, _Candidate]] = []
    hits: list[Hit] = []
    for pid, score, candidate in ranking:
        if any(
            float(candidate.vector @ other.vector) >= dedupe_cosine
            or texts[pid] in texts[shown]
            or texts[shown] in texts[pid]
            for shown, other in kept
        ):
            continue
        kept.append((pid, candidate))
        span = candidate.sentence or (0, len(rows[pid].text))
        hits.append(_hit(len(hits) + 1, score, rows[pid], span))
        if len(hits) == k:
            break
    return hits


def _hit(rank: int, score: float, passage: Passage, highlight: tuple[int, int]) -> Hit:
    first = passage.occurrences[0]
    return Hit(
        rank,
        score,
        passage.text,
        first.source,
        passage.passage_id,
        first.start,
        first.end,
        passage.occurrences,
        highlight,
    )
