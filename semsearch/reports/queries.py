"""Many questions at once: one batched search, one result per question."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..index import Index
from ..records import Hit
from ..search.pipeline import check_query
from ..text.sources import read_input


@dataclass(frozen=True)
class QueryResult:
    question: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class QueryReport:
    """The answers to a list of questions, in the order given."""

    k: int
    results: tuple[QueryResult, ...]


def read_questions(path: str | Path) -> list[str]:
    """One question a line, or a CSV/TSV file with a ``question`` column."""
    path = Path(path)
    text = read_input(path, "questions file")
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = csv.DictReader(
            text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","
        )
        if "question" not in (rows.fieldnames or []):
            columns = ", ".join(rows.fieldnames or []) or "none"
            raise InputError(f"{path} has no 'question' column (columns: {columns})")
        questions = [(row["question"] or "").strip() for row in rows]
    else:
        questions = [line.strip() for line in text.splitlines()]
    questions = [q for q in questions if q and not q.startswith("#")]
    if not questions:
        raise InputError(f"no questions in {path}: write one question a line")
    return questions


def search_many(index: Index, questions: Sequence[str], k: int = 5) -> QueryReport:
    """Answer every question with one encoder call and one FAISS call."""
    questions = list(questions)
    check_query(questions, k)
    hits = index.search_many(questions, k)
    return QueryReport(
        k, tuple(QueryResult(q, tuple(h)) for q, h in zip(questions, hits, strict=True))
    )
