"""Measuring retrieval: recall@k, MRR and nDCG@10 of each search mode on a qrels file.

A qrels file is a TSV of ``question<TAB>expected``: ``expected`` is a
substring of the passage that answers the question (white space does not
matter), with ``|`` between alternatives. A header line ``question<TAB>expected``
is allowed.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from .chunking import collapse_spaces
from .errors import InputError
from .index import Index
from .ranking import MODES
from .sources import read_input

CUTOFFS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Qrel:
    question: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class ModeScores:
    """How one mode did over all questions; ``ranks`` holds each question's first
    relevant rank (``None`` when not in the top 10), in qrels order."""

    mode: str
    recall: dict[int, float]
    mrr: float
    ndcg10: float
    ranks: tuple[int | None, ...]


@dataclass(frozen=True)
class Evaluation:
    questions: int
    modes: tuple[ModeScores, ...]


def read_qrels(path: str | Path) -> list[Qrel]:
    path = Path(path)
    text = read_input(path, "qrels file")
    qrels = []
    for n, row in enumerate(csv.reader(text.splitlines(), delimiter="\t"), 1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise InputError(f"{path}, line {n}: expected 'question<TAB>expected', got {row!r}")
        if n == 1 and [c.strip().lower() for c in row] == ["question", "expected"]:
            continue
        alternatives = tuple(collapse_spaces(a) for a in row[1].split("|") if a.strip())
        qrels.append(Qrel(row[0].strip(), alternatives))
    if not qrels:
        raise InputError(f"no questions in {path}")
    return qrels


def evaluate(index: Index, qrels: list[Qrel], modes: tuple[str, ...] = MODES) -> Evaluation:
    """Search every question in every mode (one batch per mode) and score the rankings."""
    texts = {p.passage_id: collapse_spaces(p.text) for p in index.passages()}
    relevant = [{pid for pid, t in texts.items() if any(a in t for a in q.expected)} for q in qrels]
    missing = [q.question for q, rel in zip(qrels, relevant, strict=True) if not rel]
    if missing:
        raise InputError(f"no passage of the index contains the expected text of: {missing[0]!r}")
    scores = []
    for mode in modes:
        results = index.search_many([q.question for q in qrels], k=max(CUTOFFS), mode=mode)
        ranks: list[int | None] = []
        gains = []
        for hits, rel in zip(results, relevant, strict=True):
            found = [h.rank for h in hits if h.passage_id in rel]
            ranks.append(found[0] if found else None)
            ideal = sum(1 / math.log2(i + 2) for i in range(min(len(rel), max(CUTOFFS))))
            gains.append(sum(1 / math.log2(r + 1) for r in found) / ideal)
        n = len(qrels)
        scores.append(
            ModeScores(
                mode,
                {c: sum(1 for r in ranks if r is not None and r <= c) / n for c in CUTOFFS},
                sum(1 / r for r in ranks if r is not None) / n,
                sum(gains) / n,
                tuple(ranks),
            )
        )
    return Evaluation(len(qrels), tuple(scores))


def table(evaluation: Evaluation) -> str:
    """The scores as a plain-text table."""
    head = (
        f"{'mode':8s}" + "".join(f"{f'R@{c}':>7s}" for c in CUTOFFS) + f"{'MRR':>7s}{'nDCG@10':>9s}"
    )
    lines = [f"{evaluation.questions} questions", head]
    for m in evaluation.modes:
        cells = "".join(f"{m.recall[c]:7.3f}" for c in CUTOFFS)
        lines.append(f"{m.mode:8s}{cells}{m.mrr:7.3f}{m.ndcg10:9.3f}")
    return "\n".join(lines) + "\n"
