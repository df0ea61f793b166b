"""The storage backend interface: what the :class:`~semsearch.index.Index` facade,
the writer and the retrieval pipeline ask of the place an index lives.

Nothing above this seam knows SQL or FAISS. The first implementation is
:class:`~semsearch.storage.local.backend.LocalBackend` (SQLite for passages, places, words and
names; FAISS to find candidate vectors; one folder). A second one (a Milvus
collection) implements the same three protocols:

- :class:`Backend`: opens committed states for reading and writes for changing.
- :class:`Snapshot`: one committed state, read by many threads at once.
- :class:`Transaction`: one write; nothing of it is visible until :meth:`commit`,
  and leaving it without committing leaves the index as it was.

Passages are unique texts keyed by the hash of their whitespace-collapsed
form; each has an integer id, one vector (L2-normalised), optional sentence
vectors (spans of its text) and the :class:`~semsearch.records.Location`\\ s
where it stands in documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..records import DocumentRecord, Location, Passage

if TYPE_CHECKING:
    import numpy as np

    from ..text.chunking import ChunkingConfig
    from .manifest import Manifest

DENSE_CANDIDATES = 40
"""Passages a vector index proposes per question, to be rescored exactly."""
FileStates = dict[str, tuple[int, int]]
"""(size, mtime_ns) by resolved path: what tells a changed file without reading it."""
SkippedFiles = dict[str, tuple[int, int, str]]
"""(size, mtime_ns, reason) by path of files found unusable, as they were then."""


@dataclass(frozen=True)
class Audit:
    """What ``semsearch check`` learns from a backend; ``problems`` is empty when sound."""

    documents: FileStates
    passages: int
    vectors: int
    problems: tuple[str, ...]


class Snapshot(Protocol):
    """One committed state of an index, for reading; safe to share between threads.

    Ids a caller asks for that a later write removed are left out of answers,
    never an error: a reader may still hold an older snapshot.
    """

    @property
    def manifest(self) -> Manifest: ...

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Ids of about the ``k`` nearest passages per query row (-1 padded), fast
        and possibly approximate: the caller rescores them exactly."""
        ...

    def nearest(
        self, queries: np.ndarray, k: int, *, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` nearest passages per row; exact unless ``approximate``."""
        ...

    def within(
        self, queries: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lims, scores, ids) of every passage with similarity >= ``threshold`` per row."""
        ...

    def vectors(self, ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """(ids found, their stored vectors as rows), in the order asked."""
        ...

    def sentences(self, ids: Iterable[int]) -> list[tuple[int, int, int, np.ndarray]]:
        """(passage_id, start, end, vector) of these passages' sentence vectors."""
        ...

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]: ...

    def passage_ids(self) -> list[int]:
        """Every passage id, ascending."""
        ...

    def document(self, path: str) -> list[tuple[int, Location]]:
        """(passage_id, place) of a document's passages, in reading order."""
        ...

    def bm25(self, words: list[list[str]], limit: int, budget: int) -> list[dict[int, float]]:
        """For each question's (normalised, stemmed) words, the BM25 scores of up to
        ``limit`` passages holding any of them; the rarest words first while their
        postings total at most ``budget``."""
        ...

    def postings(self, skeletons: Iterable[str], budget: int) -> list[tuple[str, int, int]]:
        """(skeleton, vowel mask, passage_id) name-term rows, rarest first within ``budget``."""
        ...

    def file_states(self) -> FileStates:
        """Every file seen, indexed or skipped as unusable."""
        ...

    def skipped(self) -> SkippedFiles: ...


class Transaction(Protocol):
    """One write in progress. ``base`` is the manifest it started from: None when
    it builds a new index (first build, another model or chunking); ``chunking``
    is how this index cuts documents into passages."""

    base: Manifest | None
    chunking: ChunkingConfig

    def file_states(self) -> FileStates: ...

    def skipped(self, paths: Iterable[str] | None = None) -> SkippedFiles: ...

    def documents(self, paths: Iterable[str] | None = None) -> dict[str, DocumentRecord]: ...

    def passage_ids(self, hashes: Iterable[str]) -> dict[str, int]:
        """Ids of the passages already stored for these text hashes."""
        ...

    def add_passage(
        self,
        sha256: str,
        text: str,
        vector: np.ndarray,
        sentences: Sequence[tuple[int, int, np.ndarray]],
    ) -> int:
        """Store a new unique text with its vector and (start, end, vector) sentences."""
        ...

    def put_document(self, record: DocumentRecord, places: Sequence[tuple[int, int, int]]) -> None:
        """Insert or replace a document with its (passage_id, start, end) places."""
        ...

    def touch_document(self, record: DocumentRecord) -> None:
        """A file whose size or time moved but whose content did not."""
        ...

    def remove_documents(self, paths: Iterable[str]) -> None:
        """Drop documents; passages no document uses any more go at commit."""
        ...

    def put_skipped(self, path: str, size: int, mtime_ns: int, reason: str) -> None: ...

    def drop_skipped(self, paths: Iterable[str]) -> None: ...

    def documents_count(self) -> int: ...

    def commit(self, sources: list[str]) -> Manifest:
        """Make the write take effect (all of it or, on any failure, none)."""
        ...


class Backend(Protocol):
    """Where an index lives."""

    directory: Path

    def snapshot(self) -> Snapshot:
        """The committed state, reloaded first if another writer committed since."""
        ...

    def write(
        self,
        encoder_spec: dict[str, Any],
        chunking: ChunkingConfig | None,
        index_type: str | None,
        *,
        rebuild: bool = False,
    ) -> AbstractContextManager[Transaction]:
        """One write, exclusive across processes. It goes on in the index in force
        when that was built with this encoder and chunking (None: the index's
        own), else it builds a new one; ``rebuild`` rebuilds the vector index."""
        ...

    def audit(self) -> Audit:
        """Check every part against the others (for ``semsearch check``)."""
        ...

    def interrupted(self) -> bool:
        """Whether a write died part-way and left the next one work to finish,
        even when no file changed (Milvus; a local write lands whole or not at all)."""
        ...

    def close(self) -> None: ...


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


def open_backend(directory: Path, store: str | None = None) -> Backend:
    """The backend of the index at ``directory``: in the Milvus ``store`` given (see
    :mod:`.stores`), else in the one its manifest records, else the local folder."""
    from .manifest import recorded_store

    store = store or recorded_store(directory)
    if store:
        from .addresses import parse_store, require_pymilvus

        spec = parse_store(store)
        require_pymilvus()  # before importing what imports it
        from .milvus.backend import MilvusBackend

        return MilvusBackend(directory, spec)
    from .local.backend import LocalBackend

    return LocalBackend(directory)
