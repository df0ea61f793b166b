"""The exact finder: every vector in memory, searched with numpy, no FAISS.

Used for indexes of type ``flat`` (auto picks it below 20,000 passages): at that
size exact search over all vectors takes well under a millisecond (numpy 0.37 ms
at 10,000, bench/ann.py), reading them from the database costs little, and a
question never imports FAISS (about 30 ms of a cold ``semsearch ask``). The
vectors are the database's own, so there is no file to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROWS_AT_ONCE = 1024
"""Query rows scored together by :meth:`ExactFinder.nearest` and :meth:`ExactFinder.within`,
so that a report comparing every passage with every other stays in bounded memory."""


@dataclass
class ExactFinder:
    """Exact inner-product search over L2-normalised vectors (cosine), id = passage id."""

    ids: np.ndarray
    matrix: np.ndarray
    origin: str
    """The generation this finder belongs to."""
    stale: int = 0
    delta: None = None

    @property
    def live(self) -> int:
        return len(self.ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per row, best first; ids are -1 where fewer exist."""
        return self.nearest(queries, k)

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, k)
        rows = len(queries)
        scores = np.full((rows, k), -np.inf, dtype=np.float32)
        ids = np.full((rows, k), -1, dtype=np.int64)
        take = min(k, len(self.ids))
        if not take:
            return scores, ids
        for at in range(0, rows, ROWS_AT_ONCE):
            block = np.asarray(queries[at : at + ROWS_AT_ONCE], dtype=np.float32) @ self.matrix.T
            top = np.argpartition(-block, take - 1, axis=1)[:, :take]
            best = np.take_along_axis(block, top, 1)
            order = np.argsort(-best, axis=1, kind="stable")
            top = np.take_along_axis(top, order, 1)
            scores[at : at + len(block), :take] = np.take_along_axis(best, order, 1)
            ids[at : at + len(block), :take] = self.ids[top]
        return scores, ids

    def within(
        self, queries: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every vector with similarity >= ``threshold`` to each row, as FAISS's range
        search gives them: row ``i``'s are ``scores[lims[i]:lims[i + 1]]``, ``ids[...]``."""
        counts, all_scores, all_ids = [], [], []
        for at in range(0, len(queries), ROWS_AT_ONCE):
            block = np.asarray(queries[at : at + ROWS_AT_ONCE], dtype=np.float32) @ self.matrix.T
            rows, cols = np.nonzero(block >= threshold)
            counts.append(np.bincount(rows, minlength=len(block)))
            all_scores.append(block[rows, cols])
            all_ids.append(self.ids[cols])
        lims = np.zeros(len(queries) + 1, dtype=np.int64)
        if counts:
            np.cumsum(np.concatenate(counts), out=lims[1:])
        return (
            lims,
            np.concatenate(all_scores) if all_scores else np.zeros(0, np.float32),
            np.concatenate(all_ids) if all_ids else np.zeros(0, np.int64),
        )
