"""How the signals of a search combine into one score, per mode.

Three signals score a candidate passage for a question:

- **dense**: cosine similarity of the question's vector with the passage's,
  and with its best sentence (cross-lingual matches are sharper on short spans);
- **lexical**: BM25 over Arabic-normalised, stemmed words (same-language matches);
- **names**: cross-script name and number matches (see :mod:`semsearch.text.names`).

``dense`` mode uses the first, ``lexical`` the other two, ``hybrid`` all three:
the dense score plus bounded bonuses, so a lexical match reorders close
candidates without burying a clearly better passage. Weights were measured on
tests/data/seeds_eval.tsv with ``semsearch eval`` (see docs/how-it-works.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import QueryError

MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class Weights:
    """How much each signal counts in the weighted sum (bench/fusion.py compares them)."""

    sentence: float = 0.5
    """Share of the dense score taken from the best sentence rather than the passage."""
    lexical: float = 0.01
    """Largest bonus BM25 adds to a cosine (the best BM25 match of a question gets it all)."""
    names: float = 0.03
    """Largest bonus a name/number match adds to a cosine (see semsearch.text.names)."""


@dataclass(frozen=True)
class Signals:
    """Everything known about one candidate passage for one question."""

    passage: float
    sentence: float | None
    bm25: float
    names: float


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise QueryError(f"unknown search mode {mode!r}; choose one of: {', '.join(MODES)}")


RRF_K = 60
FUSIONS = ("weighted", "rrf")


def fuse(
    candidates: dict[int, Signals],
    mode: str,
    method: str = "weighted",
    weights: Weights = Weights(),
) -> dict[int, float]:
    """One score per candidate; BM25 and names normalised by the question's best.

    ``method="rrf"`` (reciprocal rank fusion of the three rankings) is kept for
    comparison: bench/fusion.py measures it against the weighted sum.
    """
    if method == "rrf" and mode == "hybrid":
        return _rrf(candidates, weights)
    top_bm25 = max((s.bm25 for s in candidates.values()), default=0.0) or 1.0
    top_names = max((s.names for s in candidates.values()), default=0.0) or 1.0
    scores = {}
    for pid, s in candidates.items():
        lexical = s.bm25 / top_bm25
        names = s.names / top_names
        if mode == "lexical":
            if s.bm25 or s.names:
                scores[pid] = lexical + names
            continue
        dense = dense_score(s, weights)
        scores[pid] = (
            dense if mode == "dense" else dense + weights.lexical * lexical + weights.names * names
        )
    return scores


def dense_score(s: Signals, weights: Weights = Weights()) -> float:
    """The passage's cosine, blended with its best sentence's when that is closer."""
    if s.sentence is None:
        return s.passage
    return (1 - weights.sentence) * s.passage + weights.sentence * max(s.passage, s.sentence)


def _rrf(candidates: dict[int, Signals], weights: Weights) -> dict[int, float]:
    scores = dict.fromkeys(candidates, 0.0)
    for key in (lambda s: dense_score(s, weights), lambda s: s.bm25, lambda s: s.names):
        ranked = sorted(
            (pid for pid, s in candidates.items() if key(s) > 0), key=lambda p: -key(candidates[p])
        )
        for rank, pid in enumerate(ranked, 1):
            scores[pid] += 1 / (RRF_K + rank)
    return scores
