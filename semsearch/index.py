"""The :class:`Index`: the one object a program (the CLI, a chatbot) uses.

It binds an encoder to a storage backend (:mod:`semsearch.storage.base`) and has a few
verbs: :meth:`Index.open` and :meth:`Index.create` to get one; :meth:`~Index.add`,
:meth:`~Index.remove` and :meth:`~Index.sync` to change it (:mod:`semsearch.indexing.writer` does
the work); :meth:`~Index.search` and :meth:`~Index.search_many` to ask it
(:mod:`semsearch.search.pipeline`); and whole-collection reads for reports.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .encoders import Encoder, EncoderOptions, check_compatible, encoder_from_spec, load_encoder
from .errors import IndexCorruptError, IndexNotFoundError, InputError, SemsearchError
from .records import Changes, Hit, Location, Passage
from .search.pipeline import Retrieval, check_query, retrieve
from .search.question_vectors import QueryVectors
from .search.ranking import check_mode
from .storage import canonical, open_backend
from .storage.base import Backend, Snapshot
from .storage.folder import index_dir
from .storage.manifest import Manifest, check_index_type, read_manifest, recorded_sources

if TYPE_CHECKING:  # writing needs these; a question does not load them
    from .indexing.writer import OnSkip, Progress
    from .text.chunking import ChunkingConfig
    from .text.sources import Rules

__all__ = ["Changes", "Index", "update"]


class Index:
    """A searchable collection of passages. Open once, search from many threads.

    >>> idx = Index.create(["seeds"], "index")          # or Index.open("index")
    >>> idx.search("when did the Qaim base handover happen", k=3)[0].source
    """

    def __init__(
        self, backend: Backend, encoder: Encoder, retrieval: Retrieval | None = None
    ) -> None:
        self.backend = backend
        self.directory = backend.directory
        self.encoder = encoder
        self.retrieval = retrieval or Retrieval()
        self._questions = QueryVectors(encoder)
        self._write_lock = threading.Lock()
        self._checked: Snapshot | None = None  # the state last found to match the encoder

    # -- getting one -----------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: str | Path | None = None,
        *,
        encoder: Encoder | str | None = None,
        retrieval: Retrieval | None = None,
    ) -> Index:
        """Open an existing index; nothing is re-embedded.

        Without ``encoder`` the one recorded in the manifest is re-created. Any
        encoder must match the record (model, dimension, weights fingerprint,
        prompts), else the index is refused rather than searched with
        incompatible vectors. ``retrieval`` tunes candidate counts and fusion.
        """
        backend = open_backend(index_dir(directory))
        try:
            recorded = backend.snapshot().manifest.encoder
            if encoder is None:
                encoder = encoder_from_spec(recorded)
            elif isinstance(encoder, str):
                encoder = load_encoder(encoder)
            idx = cls(backend, encoder, retrieval)
            idx._snapshot()
        except BaseException:
            backend.close()
            raise
        return idx

    @classmethod
    def create(
        cls,
        paths: Iterable[str | Path],
        directory: str | Path | None = None,
        *,
        encoder: Encoder | str | None = None,
        options: EncoderOptions | None = None,
        chunking: ChunkingConfig | None = None,
        index_type: str | None = None,
        progress: Progress | None = None,
        on_skip: OnSkip | None = None,
        rules: Rules | None = None,
    ) -> Index:
        """Make the index at ``directory`` hold exactly the documents under ``paths``.

        ``encoder`` (an :class:`Encoder` or a name for :func:`load_encoder`,
        run with ``options``) defaults to the one the existing index was built
        with, else the bundled default; ``index_type`` (auto, flat, hnsw, ivf)
        likewise keeps the index's own, else auto. An existing index built with
        the same encoder and chunking is updated in place (unchanged passages
        keep their vectors); anything else is built afresh. Raises
        :class:`InputError` if no document could be indexed, leaving any
        previous index untouched. ``rules`` bound what is read (see :class:`~semsearch.text.sources.Rules`).
        """
        directory = index_dir(directory)
        try:
            current: Manifest | None = read_manifest(directory)
        except SemsearchError:  # none, or one we cannot read: start afresh
            current = None
        chosen = _choose_encoder(encoder, options, current)
        return _create(paths, directory, chosen, chunking, index_type, progress, on_skip, rules)[0]

    # -- changing it -------------------------------------------------------------

    def add(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = False,
        progress: Progress | None = None,
        on_skip: OnSkip | None = None,
        rules: Rules | None = None,
    ) -> Changes:
        """Add new and update changed documents under ``paths``; unchanged files cost nothing.

        With ``prune``, indexed documents under ``paths`` whose files are gone are
        removed too. Documents elsewhere are left alone. ``rules`` (see
        :class:`~semsearch.text.sources.Rules`): links may lead only inside the named paths (or
        ``rules.within``), hidden paths and files over the size limit are left out.
        """
        from .indexing.writer import WriteRequest, write_files
        from .text.sources import Rules

        current = self._snapshot()  # refuses to write if another model rebuilt the index
        request = WriteRequest(list(paths), self.encoder, prune=prune, rules=rules or Rules())
        with self._write_lock:
            return write_files(self.backend, request, progress, on_skip, current)

    def remove(self, paths: Iterable[str | Path]) -> Changes:
        """Drop the documents at or under ``paths`` (their vectors too)."""
        from .indexing.writer import remove_files

        self._snapshot()
        with self._write_lock:
            return remove_files(self.backend, paths, self.encoder)

    def sync(self, *, progress: Progress | None = None, on_skip: OnSkip | None = None) -> Changes:
        """Re-read the folders the index was built from: new, changed and deleted
        files. Costs a look at file sizes and times when nothing changed."""
        from .text.sources import Rules

        if not self.is_stale():
            return Changes()
        sources = self._live_sources()  # accepted when recorded, hidden or not
        return self.add(
            sources, prune=True, progress=progress, on_skip=on_skip, rules=Rules(hidden=True)
        )

    def is_stale(self) -> bool:
        """Whether files under the recorded sources were added, changed or deleted.

        Looks at sizes and modification times only (no reading), so it is
        cheap enough to run before every question (about 0.8 s for 100,000 files).
        """
        from .text.sources import Rules, file_states, roots_of, untouched

        roots = self._live_sources()
        if not roots:
            return False
        known = self._snapshot().file_states()
        current = file_states(roots, rules=Rules(hidden=True))
        return not untouched(known, current, roots_of(roots), True)

    def _live_sources(self) -> list[str]:
        """The recorded sources still on disk (a vanished root never empties the index)."""
        return [r for r in self.manifest.sources if Path(r).exists()]

    # -- asking it -----------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        return self._snapshot().manifest

    def __len__(self) -> int:
        return self.manifest.passages

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` passages that best answer ``query``, best first."""
        return self.search_many([query], k, mode)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 5, mode: str = "hybrid"
    ) -> list[list[Hit]]:
        """Search many questions with one encoder call and one vector search.

        ``mode`` is ``hybrid`` (meaning, words and names), ``dense`` (meaning
        only) or ``lexical`` (words and names only); see :mod:`semsearch.search.ranking`.
        """
        queries = list(queries)
        check_query(queries, k)
        check_mode(mode)
        if not queries:
            return []
        snapshot = self._snapshot()
        if mode == "lexical":
            matrix = np.zeros((len(queries), snapshot.manifest.dim), dtype=np.float32)
        else:
            matrix = self._questions.embed(queries)
        return retrieve(snapshot, queries, matrix, k, mode, self.retrieval)

    # -- whole-collection access, for reports --------------------------------------

    def passages(self, ids: Iterable[int] | None = None) -> list[Passage]:
        """Stored passages (all of them by default), by id."""
        snapshot = self._snapshot()
        rows = snapshot.passages(snapshot.passage_ids() if ids is None else ids)
        return [rows[pid] for pid in sorted(rows)]

    def documents(self) -> list[str]:
        """The paths of the indexed documents, sorted: not those seen and skipped
        (empty, binary, too large), which have no passages to show or remove."""
        snapshot = self._snapshot()
        skipped = snapshot.skipped()
        return sorted(p for p in snapshot.file_states() if p not in skipped)

    def document(self, path: str | Path) -> list[tuple[int, Location]]:
        """(passage_id, place) of an indexed document's passages, in reading order."""
        from .text.sources import resolve

        return self._snapshot().document(str(resolve(path)))

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored (normalised) vectors of these passages, one row each."""
        ids = list(ids)
        found, matrix = self._snapshot().vectors(ids)
        if len(found) != len(ids):
            missing = min(set(ids) - set(found))
            raise InputError(f"no passage with id {missing}; see semsearch info")
        return matrix

    def nearest(
        self, matrix: np.ndarray, k: int, *, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest passages (scores, ids) for each row, in one call.

        Exact by default (reports compare every pair faithfully). ``approximate``
        takes the path ``search`` takes on a large index: the approximate
        index's candidates, rescored with the exact vectors.
        """
        return self._snapshot().nearest(matrix, k, approximate=approximate)

    def within(
        self, matrix: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every passage with similarity >= ``threshold`` to each row, in one call."""
        return self._snapshot().within(matrix, threshold)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _snapshot(self) -> Snapshot:
        """The live state (reloaded if another writer committed since), refused if
        a rebuild brought another model than this index's encoder."""
        snapshot = self.backend.snapshot()
        if snapshot is not self._checked:
            check_compatible(snapshot.manifest.encoder, self.encoder.spec(), self.directory)
            self._checked = snapshot
        return snapshot


def update(
    paths: Sequence[str | Path],
    directory: str | Path | None = None,
    *,
    encoder: Encoder | str | None = None,
    options: EncoderOptions | None = None,
    chunk_sizes: dict[str, int] | None = None,
    index_type: str | None = None,
    prune: bool = False,
    rebuild: bool = False,
    store: str | None = None,
    default_sources: Sequence[str | Path] = (),
    progress: Progress | None = None,
    on_skip: OnSkip | None = None,
    rules: Rules | None = None,
) -> tuple[Index, Changes]:
    """What ``semsearch index`` does: add to the index, or create it when it must be.

    Without ``paths`` the index's own sources are used (else ``default_sources``).
    ``chunk_sizes`` changes some chunking sizes, the others keep the index's own.
    The index is created afresh (reusing cached vectors) when there is none, when
    ``rebuild`` is set, or when the encoder or chunking differ from the index's;
    otherwise new and changed files are added (and gone ones removed with ``prune``).
    ``store`` (see :mod:`semsearch.storage`) moves the passages to Milvus; without it they stay
    where the index keeps them. ``rules`` bound what is read (see :class:`~semsearch.text.sources.Rules`);
    recorded sources were accepted when recorded, hidden or not.
    """
    from dataclasses import replace

    from .text.chunking import ChunkingConfig
    from .text.sources import Rules

    directory = index_dir(directory)
    current = _manifest_or_none(directory)
    recorded = current.sources if current else recorded_sources(directory)
    rules = rules or Rules()
    if not paths and recorded:
        rules = replace(rules, hidden=True)
    paths = list(paths) or recorded or list(default_sources)
    chunking = ChunkingConfig(**{**(current.chunking if current else {}), **(chunk_sizes or {})})
    chosen = _choose_encoder(encoder, options, current)
    moving = store is not None and (current is None or current.store != canonical(store))
    if (
        current is not None
        and not rebuild
        and not moving
        and current.encoder == chosen.spec()
        and current.chunking == asdict(chunking)
    ):
        try:
            idx = Index.open(directory, encoder=chosen)
        except IndexCorruptError:
            pass  # created afresh below
        else:
            return idx, idx.add(paths, prune=prune, progress=progress, on_skip=on_skip, rules=rules)
    # no index to add to: created from paths, but as an addition, so that a writer
    # that created it meanwhile (another `semsearch index`) keeps what it added
    exact = (current is not None and not moving) or rebuild
    return _create(
        paths, directory, chosen, chunking, index_type, progress, on_skip, rules, exact, store
    )


def _create(
    paths: Iterable[str | Path],
    directory: Path,
    encoder: Encoder,
    chunking: ChunkingConfig | None,
    index_type: str | None,
    progress: Progress | None,
    on_skip: OnSkip | None,
    rules: Rules | None = None,
    exact: bool = True,
    store: str | None = None,
) -> tuple[Index, Changes]:
    from .indexing.writer import WriteRequest, write_files
    from .text.chunking import ChunkingConfig
    from .text.sources import Rules

    if index_type is not None:
        check_index_type(index_type)
    backend = open_backend(directory, store)
    request = WriteRequest(
        list(paths),
        encoder,
        chunking or ChunkingConfig(),
        index_type,
        exact,
        rules=rules or Rules(),
    )
    try:
        changes = write_files(backend, request, progress, on_skip)
        idx = Index(backend, encoder)
        idx._snapshot()
    except BaseException:
        backend.close()
        raise
    return idx, changes


def _manifest_or_none(directory: Path) -> Manifest | None:
    """The manifest, or None where there is no index or one this version cannot read."""
    try:
        return read_manifest(directory)
    except (IndexNotFoundError, IndexCorruptError):
        return None


def _choose_encoder(
    encoder: Encoder | str | None, options: EncoderOptions | None, current: Manifest | None
) -> Encoder:
    if isinstance(encoder, str):
        return load_encoder(encoder, options)
    if encoder is not None:
        return encoder
    if current is None:
        return load_encoder(options=options)
    return encoder_from_spec(current.encoder, options)
