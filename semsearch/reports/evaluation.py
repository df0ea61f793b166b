"""Measuring retrieval: recall@k, MRR and nDCG@10 of each search mode on qrels files.

Two formats, told apart by the file's name:

- **TSV** (``question<TAB>expected``): ``expected`` is a substring of the
  passage that answers the question (white space does not matter), with ``|``
  between alternatives. A header line ``question<TAB>expected`` is allowed.
- **JSONL** (``.jsonl``), one question a line, judged by offsets: a hit is
  relevant when it comes from the judged file and one of its places holds the
  answer's offset (``start <= answer_start < end``). A line is
  ``{"question": ..., "file": ..., "answer_start": ...}``, or has its judgment
  (one object with ``file`` and ``answer_start``, or a list of them) under a
  key chosen with ``side`` (XQuAD's ``qrels/LANG.jsonl``: ``"ar"`` or ``"en"``).
  Other fields (``lang``, ``id``) are kept for grouping results.

A judged file matches a source whose path ends with it, component by component.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ..errors import InputError
from ..index import Index
from ..records import Passage
from ..search.ranking import MODES
from ..text.chunking import collapse_spaces
from ..text.sources import read_input

CUTOFFS = (1, 3, 5, 10)
BATCH = 256
"""Questions searched together: fewer than the question cache holds, so modes share vectors."""


@dataclass(frozen=True)
class Judgment:
    """Where an answer is: a file (as the qrels name it) and a character offset in it."""

    file: str
    offset: int


@dataclass(frozen=True)
class Qrel:
    """One question and what answers it: expected texts, or judged places."""

    question: str
    expected: tuple[str, ...] = ()
    judgments: tuple[Judgment, ...] = ()
    fields: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ModeScores:
    """How one mode did over some questions; ``ranks`` holds each question's first
    relevant rank (``None`` when not in the top 10), in qrels order."""

    mode: str
    recall: dict[int, float]
    mrr: float
    ndcg10: float
    ranks: tuple[int | None, ...]


@dataclass(frozen=True)
class Evaluation:
    """Scores of every mode over all questions, and per group when grouped."""

    questions: int
    modes: tuple[ModeScores, ...]
    groups: dict[str, Evaluation] = field(default_factory=dict)


def read_qrels(paths: str | Path | Sequence[str | Path], side: str | None = None) -> list[Qrel]:
    """Questions from one or several qrels files (TSV or JSONL, see the module docstring)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    qrels = []
    for path in map(Path, paths):
        text = read_input(path, "qrels file")
        found = _read_jsonl(path, text, side) if path.suffix == ".jsonl" else _read_tsv(path, text)
        if not found:
            raise InputError(f"no questions in {path}")
        qrels += found
    return qrels


def _read_tsv(path: Path, text: str) -> list[Qrel]:
    qrels = []
    for n, row in enumerate(csv.reader(text.splitlines(), delimiter="\t"), 1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise InputError(f"{path}, line {n}: expected 'question<TAB>expected', got {row!r}")
        if n == 1 and [c.strip().lower() for c in row] == ["question", "expected"]:
            continue
        alternatives = tuple(collapse_spaces(a) for a in row[1].split("|") if a.strip())
        qrels.append(Qrel(row[0].strip(), expected=alternatives))
    return qrels


def _read_jsonl(path: Path, text: str, side: str | None) -> list[Qrel]:
    qrels = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not str(row.get("question") or "").strip():
            raise InputError(f'{where}: expected an object with a "question"')
        judged = row if side is None else row.get(side)
        if judged is None:
            keys = ", ".join(k for k, v in row.items() if isinstance(v, dict | list))
            raise InputError(
                f"{where}: no judgment under {side!r}; choose --side among: {keys or 'none'}"
            )
        judgments = tuple(_judgment(j, where) for j in _as_list(judged))
        fields = {k: str(v) for k, v in row.items() if isinstance(v, str | int) and k != "question"}
        qrels.append(Qrel(row["question"].strip(), judgments=judgments, fields=fields))
    return qrels


def _as_list(judged: object) -> list[object]:
    return judged if isinstance(judged, list) else [judged]


def _judgment(judged: object, where: str) -> Judgment:
    if (
        not isinstance(judged, dict)
        or not isinstance(judged.get("file"), str)
        or not isinstance(judged.get("answer_start"), int)
    ):
        raise InputError(
            f'{where}: a judgment needs "file" (text) and "answer_start" (a character offset), '
            f"got {judged!r}; for a file with several corpus sides, choose one with --side"
        )
    return Judgment(judged["file"], judged["answer_start"])


def evaluate(
    index: Index,
    qrels: list[Qrel],
    modes: tuple[str, ...] = MODES,
    by: str | None = None,
) -> Evaluation:
    """Search every question in every mode (one batch per mode) and score the rankings;
    with ``by``, also per value of that field of the questions (``lang``)."""
    relevant = relevant_passages(index.passages(), qrels)
    if by is not None:
        missing = next((q for q in qrels if by not in q.fields), None)
        if missing is not None:
            raise InputError(f"question {missing.question!r} has no field {by!r} to group by")
    rankings: dict[str, list[list[int]]] = {mode: [] for mode in modes}
    for start in range(0, len(qrels), BATCH):  # each question embedded once for all modes
        questions = [q.question for q in qrels[start : start + BATCH]]
        for mode in modes:
            found = index.search_many(questions, k=max(CUTOFFS), mode=mode)
            rankings[mode] += [[h.passage_id for h in hits] for hits in found]
    overall = _score(rankings, relevant, range(len(qrels)))
    groups = {}
    field = by or ""
    for value in sorted({q.fields[field] for q in qrels}) if field else ():
        rows = [i for i, q in enumerate(qrels) if q.fields[field] == value]
        groups[value] = _score(rankings, relevant, rows)
    return Evaluation(overall.questions, overall.modes, groups)


def relevant_passages(passages: list[Passage], qrels: list[Qrel]) -> list[set[int]]:
    """For each question, the ids of the passages that answer it."""
    texts = {p.passage_id: collapse_spaces(p.text) for p in passages}
    places: dict[str, list[tuple[tuple[str, ...], int, int, int]]] = {}  # by file name
    for p in passages:
        for o in p.occurrences:
            parts = PurePath(o.source).parts
            places.setdefault(parts[-1], []).append((parts, o.start, o.end, p.passage_id))
    relevant = []
    for q in qrels:
        found = (
            {pid for pid, t in texts.items() if any(a in t for a in q.expected)}
            if q.expected
            else set()
        )
        for j in q.judgments:
            parts = PurePath(j.file).parts
            found |= {
                pid
                for source, start, end, pid in (places.get(parts[-1], ()) if parts else ())
                if source[-len(parts) :] == parts and start <= j.offset < end
            }
        if not found:
            what = q.expected[0] if q.expected else f"{q.judgments[0].file}:{q.judgments[0].offset}"
            raise InputError(
                f"no passage of the index holds the answer to {q.question!r} ({what}); "
                "is this the index of that corpus?"
            )
        relevant.append(found)
    return relevant


def _score(
    rankings: dict[str, list[list[int]]], relevant: list[set[int]], rows: Sequence[int]
) -> Evaluation:
    scores = []
    n = len(rows)
    for mode, ranked in rankings.items():
        ranks: list[int | None] = []
        gains = []
        for i in rows:
            found = [rank for rank, pid in enumerate(ranked[i], 1) if pid in relevant[i]]
            ranks.append(found[0] if found else None)
            ideal = sum(1 / math.log2(r + 2) for r in range(min(len(relevant[i]), max(CUTOFFS))))
            gains.append(sum(1 / math.log2(r + 1) for r in found) / ideal)
        scores.append(
            ModeScores(
                mode,
                {c: sum(1 for r in ranks if r is not None and r <= c) / n for c in CUTOFFS},
                sum(1 / r for r in ranks if r is not None) / n,
                sum(gains) / n,
                tuple(ranks),
            )
        )
    return Evaluation(n, tuple(scores))


def table(evaluation: Evaluation, by: str | None = None) -> str:
    """The scores as a plain-text table (one block per group, then all questions)."""
    head = (
        f"{'mode':8s}" + "".join(f"{f'R@{c}':>7s}" for c in CUTOFFS) + f"{'MRR':>7s}{'nDCG@10':>9s}"
    )
    blocks = [(f"{by} = {value}: ", e) for value, e in evaluation.groups.items()]
    lines = []
    for title, e in [*blocks, ("" if not blocks else "all: ", evaluation)]:
        lines += [f"{title}{e.questions} questions", head]
        for m in e.modes:
            cells = "".join(f"{m.recall[c]:7.3f}" for c in CUTOFFS)
            lines.append(f"{m.mode:8s}{cells}{m.mrr:7.3f}{m.ndcg10:9.3f}")
    return "\n".join(lines) + "\n"
