"""What every backend does the same way: one write under the folder's lock, the
rarest keys within a budget, and exact rescoring of approximate candidates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import numpy as np

    from .base import Snapshot


class _Closable(Protocol):
    committed: Any
    """The state it committed; None until then."""

    def close(self) -> None: ...


_Txn = TypeVar("_Txn", bound=_Closable)


@contextmanager
def writing(
    directory: Path, begin: Callable[[], _Txn], adopt: Callable[[Any], None]
) -> Iterator[_Txn]:
    """One write, whatever the store: under the folder's lock (one writer per
    folder), closed however it ends, its commit handed to ``adopt`` (what the
    backend's readers see next)."""
    from .folder import locked

    with locked(directory):
        txn = begin()
        try:
            yield txn
        finally:
            txn.close()
        if txn.committed is not None:
            adopt(txn.committed)


def rarest(counts: dict[str, int], budget: int) -> list[str]:
    """The keys (words, name skeletons) worth reading: rarest first, while their
    rows total at most ``budget``. A common word or name tells passages apart too
    little to be worth what scoring it costs; counting each only up to
    ``budget + 1`` keeps a question's work bounded however large the index grows."""
    chosen, total = [], 0
    for key in sorted((k for k in counts if counts[k]), key=lambda k: (counts[k], k)):
        total += counts[key]
        if total > budget:
            break
        chosen.append(key)
    return chosen


def rescored(
    snapshot: Snapshot, queries: np.ndarray, pool: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the ``k`` best of each row's candidate ``pool`` (-1 padded),
    by the exact cosine of their stored vectors: how an approximate index's
    answers are made exact among themselves."""
    import numpy as np

    k = min(k, pool.shape[1])
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, found) in enumerate(zip(queries, pool, strict=True)):
        kept, matrix = snapshot.vectors(found[found >= 0].tolist())
        exact = matrix @ query
        best = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(best)] = exact[best]
        ids[row, : len(best)] = np.asarray(kept, dtype=np.int64)[best]
    return scores, ids
