"""One committed state of a local index, for reading: what every question of
:mod:`semsearch.search.pipeline` reads (see :class:`~semsearch.storage.base.Snapshot`). Safe to share between
threads; replaced, not changed, when another writer commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import IndexCorruptError, SemsearchError, converting, refused_write
from ...records import Location, Passage
from ..base import DENSE_CANDIDATES, FileStates, SkippedFiles
from ..common import rescored
from ..folder import rebuild_hint
from ..manifest import Manifest
from .database import Database
from .exact import ExactFinder

if TYPE_CHECKING:
    from .vectors import Finder  # FAISS: imported only by approximate indexes and writes


def _unreadable(holder: Any, exc: BaseException) -> SemsearchError:
    """A full or read-only disk is not damage: say so, without a rebuild hint."""
    where = holder._database()
    return refused_write(exc, where) or IndexCorruptError(
        f"{where} is unreadable ({exc}){rebuild_hint(where.parent.parent)}"
    )


sqlite_errors_as_corrupt = converting(sqlite3.DatabaseError, _unreadable)
"""Wrap every public method so that a database damaged after it was opened gives an
:class:`IndexCorruptError` with what to do, never a raw sqlite3 error."""


@sqlite_errors_as_corrupt
@dataclass(frozen=True)
class LocalSnapshot:
    """One committed state, opened for reading (see :class:`~semsearch.storage.base.Snapshot`).

    ``version`` (the store's data version) and ``stamp`` (of ``manifest.json``)
    are as loaded: when either moves, another writer has committed.
    """

    manifest: Manifest
    store: Database
    finder: Finder | ExactFinder
    version: int
    stamp: tuple[int, int] | None

    def _database(self) -> Path:
        return self.store.path

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        return self.finder.search(queries, k)[1]

    def nearest(
        self, queries: np.ndarray, k: int, *, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact by default (reports compare every pair faithfully). ``approximate``
        takes the approximate index's candidates, rescored with the exact vectors."""
        if isinstance(self.finder, ExactFinder):
            return self.finder.nearest(queries, k)
        if not approximate:
            return self._exact_finder().nearest(queries, k)
        return rescored(self, queries, self.candidates(queries, max(k, DENSE_CANDIDATES)), k)

    def within(
        self, queries: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        finder = self.finder if isinstance(self.finder, ExactFinder) else self._exact_finder()
        return finder.within(queries, threshold)

    def _exact_finder(self) -> ExactFinder:
        """Exact search over every stored vector, for reports on an approximate index
        (read into memory each time: 1.5 GB at a million passages)."""
        return ExactFinder(*self.store.all_vectors(self.manifest.dim), "")

    def vectors(self, ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        return self.store.vectors(list(ids), self.manifest.dim)

    def sentences(self, ids: Iterable[int]) -> list[tuple[int, int, int, np.ndarray]]:
        return self.store.sentences(ids)

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        return self.store.fetch(ids)

    def passage_ids(self) -> list[int]:
        return self.store.passage_ids_all()

    def document(self, path: str) -> list[tuple[int, Location]]:
        return [(pid, Location(path, s, e)) for pid, s, e in self.store.document_occurrences(path)]

    def bm25(self, words: list[list[str]], limit: int, budget: int) -> list[dict[int, float]]:
        return [self.store.bm25(w, limit, budget) if w else {} for w in words]

    def postings(self, skeletons: Iterable[str], budget: int) -> list[tuple[str, int, int]]:
        return self.store.postings(skeletons, budget)

    def file_states(self) -> FileStates:
        return self.store.file_states()

    def skipped(self) -> SkippedFiles:
        return self.store.skipped()
