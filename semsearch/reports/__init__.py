"""Batch reports over an index: many questions at once (:mod:`.queries`),
repeated passages (:mod:`.duplicates`), two documents side by side
(:mod:`.compare`), and retrieval quality on judged questions (:mod:`.evaluation`).
Each returns typed results a program can use directly; :mod:`.render` turns them
into CSV, JSON or one self-contained HTML page."""

from __future__ import annotations

from .compare import Alignment, Comparison, Section, compare
from .cutoffs import THRESHOLDS, Thresholds, thresholds
from .duplicates import Cluster, DuplicatePair, DuplicateReport, near_duplicates
from .queries import QueryReport, QueryResult, read_questions, search_many

__all__ = [
    "THRESHOLDS",
    "Alignment",
    "Cluster",
    "Comparison",
    "DuplicatePair",
    "DuplicateReport",
    "QueryReport",
    "QueryResult",
    "Section",
    "Thresholds",
    "compare",
    "near_duplicates",
    "read_questions",
    "search_many",
    "thresholds",
]
