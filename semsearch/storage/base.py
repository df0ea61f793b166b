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

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..records import DocumentRecord, Location, NewPassage, Passage

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

    def add_passage(self, passage: NewPassage) -> int:
        """Store a new unique text with its vector, sentences, words and names; its id."""
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
