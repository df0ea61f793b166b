"""The :class:`Index`: FAISS vectors and SQLite passages behind one object.

On disk an index is a folder::

    manifest.json              what the index is; names the database and generation
    store-000001/passages.sqlite   passages, vectors, words, names (changed in place)
    gen-000003/                the finder, never changed: vectors.faiss (exact), or
                               ann.faiss and/or delta.faiss (IVF, see vectors.Finder)
    embeddings.sqlite          cache of every vector computed, by model and text
    .lock                      held while a writer works

A write changes the database inside one transaction and writes the finder
(or only its delta) into a new generation folder; committing the transaction
(which records the new manifest) is the moment it takes effect. The work is
in proportion to what changed, a crash or an error mid-write leaves the
previous index usable, and readers never see a half-written state. A build from scratch (another model or chunking) writes
a new database and switches ``manifest.json`` to it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import faiss
import numpy as np

from .cache import CACHE, EmbeddingCache
from .chunking import ChunkingConfig, chunk, normalize, sentences
from .encoders import (
    Encoder,
    EncoderOptions,
    check_compatible,
    encoder_from_spec,
    load_encoder,
)
from .errors import (
    EncoderMismatchError,
    IndexCorruptError,
    IndexNotFoundError,
    InputError,
    NotAnIndexError,
    SemsearchError,
)
from .lexical import terms as lexical_terms
from .manifest import (
    MANIFEST,
    OWN_ENTRY,
    Manifest,
    foreign_entries,
    manifest_json,
    parse_manifest,
    read_manifest,
    recorded_sources,
    write_manifest,
)
from .ranking import Signals, check_mode, fuse
from .search import Hit, Location, Passage, check_query
from .skeletons import name_scores, query_terms
from .sources import (
    Skipped,
    UnreadableFile,
    file_states,
    in_order,
    is_under,
    read_text,
)
from .store import DocumentRecord, Occurrence, Store
from .vectors import (
    AUTO_FLAT_BELOW,
    INDEX_TYPES,
    Finder,
    build_finder,
    load_vectors,
    new_vectors,
    range_search_vectors,
    resolve_type,
    save_vectors,
    search_vectors,
    tune,
    update_finder,
    vector_ids,
)

DATABASE = "passages.sqlite"
VECTORS = "vectors.faiss"
"""The finder file of an exact (flat) index."""
ANN = "ann.faiss"
"""The finder file of an approximate (IVF, HNSW) index."""
DELTA = "delta.faiss"
"""Vectors added to an IVF finder since its main file was written (exact, small)."""
DELTA_SHARE = 0.05
"""An IVF finder's delta, with the removed vectors still in its main file, grows to
this share of the main file; then the next write folds them into a new main file."""
ENCODE_BATCH = 64
"""Passages handed to the encoder at a time (the progress bar's step)."""
DENSE_CANDIDATES = 40
"""Passages taken from FAISS per question, to be rescored with their sentences."""
LEXICAL_CANDIDATES = 100
"""Passages taken from BM25, and from name matches, per question."""
LEXICAL_BUDGET = 5000
"""Most postings a question reads for its words, and for its names: the rarest
terms first (they weigh most), common ones ("Iraq" in an archive about Iraq)
left out. A fixed number, not a share, so that a question's lexical work stays
bounded however large the index grows (bench/scale.py: reading every posting of
words in up to 5% of 100k passages made hybrid queries ~130 ms)."""
ANN_RETRAIN_GROWTH = 2
"""An approximate index is updated in place until the collection outgrows this
multiple of what it was trained on, then retrained."""
DEDUPE_SLACK = 10
"""Extra candidates ranked so that near-identical hits can be dropped and k still filled."""
DEDUPE_COSINE = 0.97
"""Passage vectors this close say the same thing: only the better-ranked is shown."""

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while passages are embedded."""
OnSkip = Callable[[Skipped], None]
"""Called for each file left out (binary, empty, not UTF-8)."""


def default_index_dir() -> Path:
    """``$SEMSEARCH_INDEX`` if set, else ``index/`` in the working directory."""
    return Path(os.environ.get("SEMSEARCH_INDEX") or "index")


@dataclass
class Changes:
    """What a write did, for the user's summary line."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class _State:
    """One committed state, opened for reading.

    ``finder`` answers nearest-neighbour searches (exact for small
    collections, approximate for large ones); the exact vectors come from the
    store. ``version`` (the store's data version) and ``stamp`` (of
    ``manifest.json``) are as loaded: when either moves, another writer has
    committed and the state is reloaded.
    """

    manifest: Manifest
    store: Store
    finder: Finder
    version: int
    stamp: tuple[int, int] | None

    @property
    def exact(self) -> bool:
        return self.manifest.ann == "flat"


class Index:
    """A searchable collection of passages. Open once, search from many threads.

    >>> idx = Index.build(["seeds"], "index")          # or Index.open("index")
    >>> idx.search("when did the Qaim base handover happen", k=3)[0].source
    """

    def __init__(self, directory: Path, state: _State, encoder: Encoder) -> None:
        self.directory = directory
        self.encoder = encoder
        self._state = state
        self._write_lock = threading.Lock()
        self._reload_lock = threading.Lock()

    # -- opening and building -------------------------------------------------

    @classmethod
    def open(
        cls, directory: str | Path | None = None, *, encoder: Encoder | str | None = None
    ) -> Index:
        """Open an existing index; nothing is re-embedded.

        Without ``encoder`` the one recorded in the manifest is re-created. Any
        encoder must match the record (model, dimension, weights fingerprint,
        prompts), else the index is refused rather than searched with
        incompatible vectors.
        """
        directory = Path(directory) if directory is not None else default_index_dir()
        state = _load_state(directory)
        try:
            if encoder is None:
                encoder = encoder_from_spec(state.manifest.encoder)
            elif isinstance(encoder, str):
                encoder = load_encoder(encoder)
            check_compatible(state.manifest.encoder, encoder.spec(), directory)
        except BaseException:
            state.store.close()
            raise
        return cls(directory, state, encoder)

    @classmethod
    def build(
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
    ) -> Index:
        """Make the index at ``directory`` hold exactly the documents under ``paths``.

        ``encoder`` (an :class:`Encoder` or a name for :func:`load_encoder`,
        run with ``options``) defaults to the one the existing index was built
        with, else the bundled default; ``index_type`` (auto, flat, hnsw, ivf)
        likewise keeps the index's own, else auto. An existing index built with the same encoder and
        chunking is updated in place (unchanged passages keep their vectors);
        anything else is built from scratch. Raises :class:`InputError` if no
        document could be indexed, leaving any previous index untouched.
        """
        return _build(paths, directory, encoder, options, chunking, index_type, progress, on_skip)[
            0
        ]

    def add(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = False,
        progress: Progress | None = None,
        on_skip: OnSkip | None = None,
    ) -> Changes:
        """Add new and update changed documents under ``paths``; unchanged files cost nothing.

        With ``prune``, indexed documents under ``paths`` whose files are gone are
        removed too. Documents elsewhere are left alone.
        """
        paths = list(paths)
        current = file_states(paths)
        roots = [str(Path(p).expanduser().resolve()) for p in paths]
        state = self._current()
        sources = list(dict.fromkeys([*state.manifest.sources, *roots]))
        known = state.store.file_states()
        files, unusable, unchanged = _partition(current, known, state.store.skipped())
        if sources == state.manifest.sources and _untouched(known, current, roots, prune):
            return _as_before(Changes(), unusable, unchanged, on_skip)  # nothing to write

        def sync(staging: _Staging) -> Changes:
            changes = staging.sync(files, progress, on_skip)
            _as_before(changes, unusable, unchanged, on_skip)
            if prune:
                gone = _vanished(known, current, roots)  # indexed or skipped
                changes.removed = staging.remove(list(staging.store.documents(gone))).removed
                staging.store.drop_skipped(gone)
            return changes

        return self._write(sync, sources)

    def remove(self, paths: Iterable[str | Path]) -> Changes:
        """Drop the documents at or under ``paths`` (their vectors too)."""
        prefixes = [str(Path(p).expanduser().resolve()) for p in paths]

        def drop(staging: _Staging) -> Changes:
            gone = [p for p in staging.store.documents() if is_under(p, prefixes)]
            staging.store.drop_skipped(p for p in staging.store.skipped() if is_under(p, prefixes))
            if not gone:
                shown = ", ".join(str(p) for p in prefixes)
                raise InputError(f"no indexed documents at {shown}; see semsearch info")
            return staging.remove(gone)

        return self._write(drop, self.manifest.sources)

    def refresh(
        self, *, progress: Progress | None = None, on_skip: OnSkip | None = None
    ) -> Changes:
        """Re-read the folders the index was built from: new, changed and deleted files."""
        roots = self._live_sources()
        if not roots:
            return Changes()
        return self.add(roots, prune=True, progress=progress, on_skip=on_skip)

    def is_stale(self) -> bool:
        """Whether files under the recorded sources were added, changed or deleted.

        Looks at sizes and modification times only (no reading), so it is
        cheap enough to run before every question (about 0.8 s for 100,000 files).
        """
        roots = self._live_sources()
        return not _untouched(self._current().store.file_states(), file_states(roots), roots, True)

    def _live_sources(self) -> list[str]:
        """The recorded sources still on disk (a vanished root never empties the index)."""
        return [r for r in self.manifest.sources if Path(r).exists()]

    # -- searching ------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        return self._current().manifest

    def __len__(self) -> int:
        return self.manifest.passages

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` passages that best answer ``query``, best first."""
        return self.search_many([query], k, mode)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 5, mode: str = "hybrid"
    ) -> list[list[Hit]]:
        """Search many questions with one encoder call and one FAISS call.

        ``mode`` is ``hybrid`` (meaning, words and names), ``dense`` (meaning
        only) or ``lexical`` (words and names only); see :mod:`semsearch.ranking`.
        """
        queries = list(queries)
        check_query(queries, k)
        check_mode(mode)
        if not queries:
            return []
        state = self._current()
        want = min(state.manifest.passages, k + DEDUPE_SLACK)
        if mode == "lexical":
            matrix = np.zeros((len(queries), state.manifest.dim), dtype=np.float32)
            ids = np.full((len(queries), 0), -1)
        else:
            matrix = self.encoder.encode_queries(queries)
            _, ids = state.finder.search(matrix, max(want, DENSE_CANDIDATES))
        lexical = mode != "dense"
        terms = [query_terms(q) if lexical else [] for q in queries]
        postings = state.store.postings(
            (s for ts in terms for t in ts for s in t.skeletons), LEXICAL_BUDGET
        )
        ranked = []
        for i, query in enumerate(queries):
            bm25 = (
                state.store.bm25(lexical_terms(query), LEXICAL_CANDIDATES, LEXICAL_BUDGET)
                if lexical
                else {}
            )
            names = name_scores(terms[i], postings, state.manifest.passages) if lexical else {}
            best_names = sorted(names, key=lambda pid: -names[pid])[:LEXICAL_CANDIDATES]
            pool = dict.fromkeys([int(p) for p in ids[i] if p >= 0] + [*bm25, *best_names])
            candidates = _candidates(state, matrix[i], list(pool), bm25, names)
            scores = fuse({pid: c.signals for pid, c in candidates.items()}, mode)
            order = sorted(scores, key=lambda pid: (-scores[pid], pid))[:want]
            ranked.append([(pid, scores[pid], candidates[pid]) for pid in order])
        return [_hits(state, ranking, k) for ranking in ranked]

    # -- whole-collection access, for reports ----------------------------------

    def passages(self, ids: Iterable[int] | None = None) -> list[Passage]:
        """Stored passages (all of them by default), by id."""
        store = self._current().store
        rows = store.fetch(store.passage_ids_all() if ids is None else ids)
        return [
            Passage(pid, text, tuple(Location(o.path, o.start, o.end) for o in places))
            for pid, (text, places) in sorted(rows.items())
        ]

    def document(self, path: str | Path) -> list[tuple[int, Location]]:
        """(passage_id, place) of an indexed document's passages, in reading order."""
        key = str(Path(path).expanduser().resolve())
        return [
            (pid, Location(key, s, e))
            for pid, s, e in self._current().store.document_occurrences(key)
        ]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored (normalised) vectors of these passages, one row each."""
        return _vectors(self._current(), list(ids))

    def nearest(
        self, matrix: np.ndarray, k: int, *, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """One FAISS call: the ``k`` nearest passages (scores, ids) for each row.

        Exact by default (reports compare every pair faithfully). ``approximate``
        takes the path ``search`` takes on a large index: the approximate
        index's candidates, rescored with the exact vectors.
        """
        state = self._current()
        if state.exact:
            return search_vectors(state.finder.main, matrix, k)
        if not approximate:
            return search_vectors(_exact_finder(state), matrix, k)
        _, pool = state.finder.search(matrix, max(k, DENSE_CANDIDATES))
        k = min(k, pool.shape[1])
        scores = np.full((len(matrix), k), -np.inf, dtype=np.float32)
        ids = np.full((len(matrix), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(matrix, pool, strict=True)):
            stored = state.store.vectors(found[found >= 0].tolist())
            found = np.array([pid for pid in found.tolist() if pid in stored], dtype=np.int64)
            exact = _matrix(stored, found.tolist(), state.manifest.dim) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(best)], ids[row, : len(best)] = exact[best], found[best]
        return scores, ids

    def within(
        self, matrix: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One FAISS call: every passage with similarity >= ``threshold`` to each row."""
        state = self._current()
        finder = state.finder.main if state.exact else _exact_finder(state)
        return range_search_vectors(finder, matrix, threshold)

    def close(self) -> None:
        self._state.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------

    def _current(self) -> _State:
        """The live state, reloaded first if another writer committed since.

        The check is one SQLite pragma and one stat, microseconds; without it a
        process that keeps an index open would search a stale finder after
        another process's write (or the old database after a rebuild, which may
        also bring another model: then this index refuses to go on). Replaced
        states are left to the garbage collector: another thread may still be
        searching one.
        """
        state = self._state
        if state.store.data_version() == state.version and _stamp(self.directory) == state.stamp:
            return state
        with self._reload_lock:
            if self._state is state:
                fresh = _load_state(self.directory, (state.finder,))
                try:
                    check_compatible(fresh.manifest.encoder, self.encoder.spec(), self.directory)
                except EncoderMismatchError:
                    fresh.store.close()
                    raise
                self._state = fresh
            return self._state

    def _write(self, change: Callable[[_Staging], Changes], sources: list[str]) -> Changes:
        """Apply ``change`` to the live database in one transaction, commit, reload."""
        with self._write_lock, _locked(self.directory):
            base = _live_manifest(self.directory)  # another process may have written since
            with _Staging(
                self.directory,
                base,
                self.encoder,
                ChunkingConfig(**base.chunking),
                base.index_type,
                live=self._state.finder,
            ) as staging:
                changes = change(staging)
                finder = staging.commit(sources)
            # no writer can come between; the main FAISS file may be the one in memory
            self._state = _load_state(self.directory, (finder, self._state.finder))
        return changes


class _Staging:
    """A write in progress: the live database inside one open transaction (or,
    for a build from scratch, a new database), and the next generation's finder.

    Leaving without :meth:`commit` rolls the database back and deletes what
    was staged, so the index stays as it was.
    """

    def __init__(
        self,
        directory: Path,
        base: Manifest | None,
        encoder: Encoder,
        chunking: ChunkingConfig,
        index_type: str,
        *,
        retrain: bool = False,
        live: Finder | None = None,
    ) -> None:
        self.directory = directory
        self.retrain = retrain
        self.live = live  # the finder in memory, whose main file a write may reuse
        self.encoder = encoder
        self.chunking = chunking
        self.index_type = index_type
        taken = [_generation_number(p.name) for p in directory.glob("gen-*")]
        number = max(taken, default=0) + 1
        self.name = f"gen-{number:06d}"
        self.tmp = directory / f".{self.name}.tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.base = base
        self.removed: list[int] = []  # this write's vector changes, for the finder
        self.added: list[int] = []
        if self.base is not None:
            self.database = self.base.database  # changed in place
            self.store = Store(directory / self.database, readonly=False)
        else:
            self.database = f"store-{number:06d}/{DATABASE}"
            self.store = Store(self.tmp / DATABASE, readonly=False)
        self.cache = EmbeddingCache(directory / CACHE, encoder.spec())

    def __enter__(self) -> _Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()  # rolls back anything not committed
        self.cache.close()
        shutil.rmtree(self.tmp, ignore_errors=True)  # gone already if committed

    def sync(self, files: list[Path], progress: Progress | None, on_skip: OnSkip | None) -> Changes:
        """Bring the given files (those whose size or time moved, see :func:`_partition`)
        up to date, embedding only texts not stored yet."""
        changes = Changes()
        names = [str(path) for path in files]
        known = self.store.documents(names)
        unusable = self.store.skipped(names)
        planned: list[tuple[DocumentRecord, list[tuple[str, int, int, str]], bool]] = []
        for path in files:
            key = str(path)
            old = known.get(key)
            try:
                stat = path.stat()
            except OSError as exc:
                _skip(changes, Skipped(path, str(exc)), on_skip)
                continue
            state = (stat.st_size, stat.st_mtime_ns)
            try:
                text = read_text(path)
            except (UnreadableFile, OSError) as exc:
                self._refuse(changes, key, state, str(exc), on_skip)
                continue
            if key in unusable:
                self.store.drop_skipped([key])  # usable now
            record = DocumentRecord(0, key, _sha256(text), stat.st_size, stat.st_mtime_ns)
            if old is not None and old.sha256 == record.sha256:
                changes.unchanged += 1
                if (old.size, old.mtime_ns) != (record.size, record.mtime_ns):
                    self.store.touch_document(record)
                continue
            spans = [
                (_sha256(normalize(s.text)), s.start, s.end, s.text)
                for s in chunk(text, self.chunking)
            ]
            if not spans:
                reason = "no passages left after removing page chrome"
                self._refuse(changes, key, state, reason, on_skip)
                continue
            planned.append((record, spans, old is not None))

        ids = self.store.passage_ids(h for _, spans, _ in planned for h, *_ in spans)
        fresh: dict[str, str] = {}
        for _, spans, _ in planned:
            for sha, _, _, text in spans:
                if sha not in ids:
                    fresh.setdefault(sha, text)
        self._embed(fresh, ids, progress)
        changes.embedded = len(fresh)

        for record, spans, existed in planned:
            self.store.put_document(record, [(ids[sha], s, e) for sha, s, e, _ in spans])
            (changes.updated if existed else changes.added).append(record.path)
        self.removed += self.store.drop_orphans()
        return changes

    def _refuse(
        self,
        changes: Changes,
        path: str,
        state: tuple[int, int],
        reason: str,
        on_skip: OnSkip | None,
    ) -> None:
        """Skip an unusable file and remember it as it is now, so that it does not
        count as a change (and make every question refresh) until it changes."""
        _skip(changes, Skipped(Path(path), reason), on_skip)
        self.store.put_skipped(path, *state, reason)

    def remove(self, paths: list[str]) -> Changes:
        self.store.remove_documents(paths)
        self.removed += self.store.drop_orphans()
        return Changes(removed=list(paths))

    def _finder(self, kind: str, passages: int) -> tuple[Finder, int]:
        """The live finder with this write's changes, or a new one; and the number of
        passages an approximate index was trained on.

        Exact (flat) finders are small and simply changed. IVF takes the changes
        into its delta (see :class:`Finder`), in time proportional to them.
        Rebuilding, and retraining an approximate index (on a rebuild, when the
        type changed, when the collection has doubled since training, and for
        HNSW, which cannot remove) costs time in proportion to the whole.
        """
        base = None if self.retrain else self.base
        if base is not None and base.ann == kind == "flat":
            finder = load_finder(self.directory, base, private=True)
            update_finder(finder.main, self.removed, self.added, self._added_vectors())
            return replace(finder, origin=self.name), 0
        if (
            base is not None
            and base.ann == kind == "ivf"
            and passages <= ANN_RETRAIN_GROWTH * base.ann_trained
        ):
            return self._delta(base), base.ann_trained
        ids, vectors = self.store.all_vectors(self.encoder.dim)
        trained = 0 if kind == "flat" else passages
        return Finder(build_finder(ids, vectors, kind), self.name), trained

    def _delta(self, base: Manifest) -> Finder:
        """The live IVF finder with this write's changes in its delta; merged into a
        new main file once the delta and the stale vectors outgrow ``DELTA_SHARE``."""
        live = load_finder(self.directory, base, reuse=[self.live] if self.live else [])
        delta = live.delta if live.delta is not None else new_vectors(self.encoder.dim)
        in_delta = set(vector_ids(delta).tolist())
        dropped = [pid for pid in self.removed if pid in in_delta]
        stale = live.stale + len(self.removed) - len(dropped)
        update_finder(delta, dropped, self.added, self._added_vectors())
        if stale + delta.ntotal <= DELTA_SHARE * live.main.ntotal:
            return Finder(live.main, live.origin, delta, stale)
        main = load_finder(self.directory, replace(base, ann_delta=0), private=True).main
        dead = np.setdiff1d(vector_ids(main), self.store.passage_ids_all()).tolist()
        fresh = vector_ids(delta).tolist()
        matrix = _matrix(self.store.vectors(fresh), fresh, self.encoder.dim)
        update_finder(main, dead, fresh, matrix)
        return Finder(main, self.name)

    def _added_vectors(self) -> np.ndarray:
        return _matrix(self.store.vectors(self.added), self.added, self.encoder.dim)

    def _embed(self, texts: dict[str, str], ids: dict[str, int], progress: Progress | None) -> None:
        """Embed new passages, and the sentences of those that have several, in batches.

        Sentence vectors are kept beside the passage's (SQLite, not FAISS): they
        rescore the candidates of a search and pick the sentence to highlight.
        """
        items = list(texts.items())
        total = len(items)
        step = max(ENCODE_BATCH, getattr(self.encoder, "batch_size", 0))
        if progress:
            progress(0, total)
        for i in range(0, total, step):
            batch = items[i : i + step]
            parts = [sentences(text) for _, text in batch]
            parts = [p if len(p) > 1 else [] for p in parts]
            inputs = [normalize(t) for _, t in batch]
            inputs += [
                normalize(text[s:e])
                for (_, text), spans in zip(batch, parts, strict=True)
                for s, e in spans
            ]
            matrix = self.cache.embed(inputs, self.encoder.encode_passages)
            new_ids = [
                self.store.add_passage(sha, text, _blob(vector))
                for (sha, text), vector in zip(batch, matrix[: len(batch)], strict=True)
            ]
            self.added += new_ids
            rows = iter(matrix[len(batch) :])
            self.store.add_sentences(
                (pid, s, e, _blob(next(rows)))
                for pid, spans in zip(new_ids, parts, strict=True)
                for s, e in spans
            )
            ids.update(zip([sha for sha, _ in batch], new_ids, strict=True))
            if progress:
                progress(min(i + step, total), total)

    def commit(self, sources: list[str]) -> Finder:
        """Write the finder, then commit the database with the new manifest in it;
        return the finder (saves reading it back).

        An in-place write takes effect at the database commit; a build from
        scratch when ``manifest.json`` names its new database.
        """
        documents, passages, occurrences = self.store.counts()
        ann = resolve_type(self.index_type, passages)
        finder, trained = self._finder(ann, passages)
        if finder.live != passages:
            raise IndexCorruptError(
                f"internal error: {finder.live} vectors for {passages} passages; "
                "nothing was written"
            )
        if finder.origin == self.name:
            save_vectors(finder.main, self.tmp / finder_file(ann))
        delta = finder.delta.ntotal if finder.delta is not None else 0
        if delta:
            save_vectors(finder.delta, self.tmp / DELTA)
        manifest = Manifest(
            generation=self.name,
            database=self.database,
            encoder=self.encoder.spec(),
            chunking=asdict(self.chunking),
            sources=sources,
            documents=documents,
            passages=passages,
            occurrences=occurrences,
            built_at=time.time(),
            index_type=self.index_type,
            ann=ann,
            ann_trained=trained,
            ann_base="" if finder.origin == self.name else finder.origin,
            ann_delta=delta,
            ann_stale=finder.stale,
        )
        fresh = self.base is None
        if fresh:
            database = self.tmp / DATABASE
            self.store.put_manifest(manifest_json(manifest))
            self.store.commit()
            self.store.use_wal()
            self.store.close()
            store_dir = self.directory / Path(self.database).parent
            shutil.rmtree(store_dir, ignore_errors=True)
            store_dir.mkdir()
            os.replace(database, store_dir / DATABASE)
        final = self.directory / self.name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(self.tmp, final)
        if not fresh:
            self.store.put_manifest(manifest_json(manifest))
            self.store.commit()  # the write takes effect here
        write_manifest(self.directory, manifest)
        _remove_unused(self.directory, manifest)
        return finder


@dataclass(frozen=True)
class _Candidate:
    """A passage considered for a question: its signals, its vector, its best sentence."""

    signals: Signals
    vector: np.ndarray
    sentence: tuple[int, int] | None


def _candidates(
    state: _State,
    query: np.ndarray,
    pool: list[int],
    bm25: dict[int, float],
    names: dict[int, float],
) -> dict[int, _Candidate]:
    """Score every candidate passage on every signal (one vector and one sentence lookup)."""
    if not pool:
        return {}
    found = state.store.vectors(pool)
    pool = [pid for pid in pool if pid in found]  # a concurrent write may have removed some
    vectors = _matrix(found, pool, len(query))
    passage = vectors @ query
    best: dict[int, tuple[float, int, int]] = {}
    for pid, start, end, blob in state.store.sentences(pool):
        score = float(np.frombuffer(blob, dtype=np.float32) @ query)
        if pid not in best or score > best[pid][0]:
            best[pid] = (score, start, end)
    out = {}
    for n, pid in enumerate(pool):
        sentence = best.get(pid)
        signals = Signals(
            float(passage[n]),
            sentence[0] if sentence else None,
            bm25.get(pid, 0.0),
            names.get(pid, 0.0),
        )
        out[pid] = _Candidate(signals, vectors[n], sentence[1:] if sentence else None)
    return out


def _hits(state: _State, ranking: list[tuple[int, float, _Candidate]], k: int) -> list[Hit]:
    """Hits for the best ``k`` passages, skipping near-identical texts, with highlights."""
    rows = state.store.fetch(pid for pid, _, _ in ranking)
    ranking = [entry for entry in ranking if entry[0] in rows]  # removed by a write meanwhile
    texts = {pid: normalize(rows[pid][0]) for pid, _, _ in ranking}
    kept: list[tuple[int, _Candidate]] = []
    hits: list[Hit] = []
    for pid, score, candidate in ranking:
        if any(
            float(candidate.vector @ other.vector) >= DEDUPE_COSINE
            or texts[pid] in texts[shown]
            or texts[shown] in texts[pid]
            for shown, other in kept
        ):
            continue
        kept.append((pid, candidate))
        span = candidate.sentence or (0, len(rows[pid][0]))
        hits.append(_hit(len(hits) + 1, pid, score, rows[pid], span))
        if len(hits) == k:
            break
    return hits


def _hit(
    rank: int,
    pid: int,
    score: float,
    row: tuple[str, list[Occurrence]],
    highlight: tuple[int, int],
) -> Hit:
    text, places = row
    locations = tuple(Location(o.path, o.start, o.end) for o in places)
    first = locations[0]
    return Hit(rank, score, text, first.source, pid, first.start, first.end, locations, highlight)


def ensure_index(
    directory: str | Path | None = None,
    *,
    sources: Sequence[str | Path] = (),
    progress: Progress | None = None,
    on_skip: OnSkip | None = None,
) -> Index:
    """Open the index, building it from ``sources`` if missing, refreshing it if stale.

    This is what ``semsearch ask`` does, so a first question on a fresh
    checkout just works.
    """
    directory = Path(directory) if directory is not None else default_index_dir()
    try:
        idx = Index.open(directory)
    except IndexNotFoundError:
        if not sources:
            raise
        return Index.build(sources, directory, progress=progress, on_skip=on_skip)
    if idx.is_stale():
        idx.refresh(progress=progress, on_skip=on_skip)
    return idx


def _load_state(directory: Path, reuse: Sequence[Finder] = ()) -> _State:
    """Open the live state, checking that its parts agree.

    A writer may commit, and delete the generation just read of, while this
    runs: then it is read again. ``reuse`` offers finders already in memory
    whose main file may be the live one (a writer's own).
    """
    for attempt in range(3):
        stamp = _stamp(directory)  # before reading: a write meanwhile makes it differ
        store, manifest, version, passages = _open_store(directory)
        try:
            finder = load_finder(directory, manifest, reuse=reuse)
        except FileNotFoundError:
            store.close()
            if attempt == 2:
                raise IndexCorruptError(
                    f"{directory} keeps changing while it is opened; try again"
                ) from None
            continue
        except BaseException:
            store.close()
            raise
        if passages != finder.live or passages != manifest.passages:
            store.close()
            raise IndexCorruptError(
                f"{directory} is inconsistent ({finder.live} vectors, {passages} passages, "
                f"manifest says {manifest.passages}){_rebuild_hint(directory)}"
            )
        return _State(manifest, store, finder, version, stamp)
    raise AssertionError("unreachable")


def _stamp(directory: Path) -> tuple[int, int] | None:
    """Identifies the ``manifest.json`` in place: every write replaces the file."""
    try:
        stat = (directory / MANIFEST).stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _live_manifest(directory: Path) -> Manifest:
    """The manifest in force: what a write starts from (no FAISS file read)."""
    store, manifest, _, _ = _open_store(directory)
    store.close()
    return manifest


def _open_store(directory: Path) -> tuple[Store, Manifest, int, int]:
    """The database ``manifest.json`` names, opened for reading, with the manifest
    it records (the one in force), its data version and its passage count."""
    outer = read_manifest(directory)
    database = directory / outer.database
    if not database.is_file():
        raise IndexCorruptError(f"{database} is missing{_rebuild_hint(directory)}")
    store = None
    try:
        store = Store(database, readonly=True)
        version = store.data_version()
        recorded, _, passages, _ = store.snapshot()
        if recorded is None:
            raise sqlite3.DatabaseError("it records no manifest")
    except sqlite3.DatabaseError as exc:
        if store is not None:
            store.close()
        raise IndexCorruptError(
            f"{database} is unreadable ({exc}){_rebuild_hint(directory)}"
        ) from None
    manifest = parse_manifest(recorded, database, directory)
    if manifest.database != outer.database:
        store.close()
        raise IndexCorruptError(f"{database} records another database{_rebuild_hint(directory)}")
    return store, manifest, version, passages


def _rebuild_hint(directory: Path) -> str:
    return f"; rebuild with: semsearch index PATH --index {directory}"


def finder_file(ann: str) -> str:
    """The name of a generation's FAISS file for an index of type ``ann``."""
    return VECTORS if ann == "flat" else ANN


def load_finder(
    directory: Path,
    manifest: Manifest,
    *,
    private: bool = False,
    reuse: Sequence[Finder] = (),
) -> Finder:
    """The finder a manifest names: its main FAISS file (from ``reuse`` when one
    in memory came from the same folder; else memory-mapped where that saves
    reading a large exact index, else read; ``private`` always reads it, to be
    changed) and its delta.

    Raises FileNotFoundError if the generation is gone (a writer replaced it).
    """
    origin = manifest.ann_base or manifest.generation
    main = next((f.main for f in reuse if f.origin == origin), None)
    if main is None:
        large = manifest.passages >= AUTO_FLAT_BELOW
        mmap = large and manifest.ann == "flat" and not private
        main = _load_file(directory, origin, finder_file(manifest.ann), manifest.dim, mmap)
        tune(main)
    delta = None
    if manifest.ann_delta:
        delta = _load_file(directory, manifest.generation, DELTA, manifest.dim, False)
    return Finder(main, origin, delta, manifest.ann_stale)


def _load_file(directory: Path, generation: str, name: str, dim: int, mmap: bool) -> faiss.Index:
    gen = directory / generation
    if not (gen / name).is_file():
        if not gen.is_dir():
            raise FileNotFoundError(gen)
        raise IndexCorruptError(f"{gen} is missing its files{_rebuild_hint(directory)}")
    try:
        return load_vectors(gen / name, dim, mmap=mmap)
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}{_rebuild_hint(directory)}") from None


def _remove_unused(directory: Path, manifest: Manifest) -> None:
    """Delete the generations and databases the manifest no longer names.

    Readers that still have them open keep reading them (their files stay
    until closed) and move to the new state on their next search.
    """
    keep = {manifest.generation, manifest.ann_base, Path(manifest.database).parent.name}
    for old in directory.iterdir():
        if old.is_dir() and OWN_ENTRY.fullmatch(old.name) and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _matrix(found: dict[int, bytes], ids: list[int], dim: int) -> np.ndarray:
    """Rows of vector bytes, in the order of ``ids`` (all of them present)."""
    matrix = np.empty((len(ids), dim), dtype=np.float32)
    for row, pid in enumerate(ids):
        matrix[row] = np.frombuffer(found[pid], dtype=np.float32)
    return matrix


def _vectors(state: _State, ids: list[int]) -> np.ndarray:
    found = state.store.vectors(ids)
    if missing := [pid for pid in ids if pid not in found]:
        raise InputError(f"no passage with id {missing[0]}; see semsearch info")
    return _matrix(found, ids, state.manifest.dim)


def _exact_finder(state: _State) -> faiss.Index:
    """Exact search over every stored vector, for reports on an approximate index
    (built in memory each time: 1.5 GB at a million passages)."""
    ids, vectors = state.store.all_vectors(state.manifest.dim)
    return build_finder(ids, vectors, "flat")


def _build(
    paths: Iterable[str | Path],
    directory: str | Path | None,
    encoder: Encoder | str | None,
    options: EncoderOptions | None,
    chunking: ChunkingConfig | None,
    index_type: str | None,
    progress: Progress | None,
    on_skip: OnSkip | None,
) -> tuple[Index, Changes]:
    directory = Path(directory) if directory is not None else default_index_dir()
    encoder = _choose_encoder(encoder, options, directory)
    chunking = chunking or ChunkingConfig()
    index_type = index_type or _current_index_type(directory)
    _check_index_type(index_type)
    paths = list(paths)
    wanted = file_states(paths, require_files=True)
    roots = [str(Path(p).expanduser().resolve()) for p in paths]
    with _locked(directory):
        base = _reusable_database(directory, encoder, chunking)
        with _Staging(directory, base, encoder, chunking, index_type, retrain=True) as staging:
            store = staging.store
            files, unusable, unchanged = _partition(wanted, store.file_states(), store.skipped())
            changes = _as_before(
                staging.sync(files, progress, on_skip), unusable, unchanged, on_skip
            )
            gone = [p for p in staging.store.documents() if p not in wanted]
            staging.store.drop_skipped(p for p in staging.store.skipped() if p not in wanted)
            changes.removed = staging.remove(gone).removed
            if staging.store.counts()[0] == 0:
                _raise_nothing_indexed(roots, changes)
            staging.commit(roots)
    return Index.open(directory, encoder=encoder), changes


def update_index(
    paths: Sequence[str | Path],
    directory: str | Path | None = None,
    *,
    encoder: Encoder | str | None = None,
    options: EncoderOptions | None = None,
    chunk_sizes: dict[str, int] | None = None,
    index_type: str | None = None,
    prune: bool = False,
    rebuild: bool = False,
    default_sources: Sequence[str | Path] = (),
    progress: Progress | None = None,
    on_skip: OnSkip | None = None,
) -> tuple[Index, Changes]:
    """What ``semsearch index`` does: add to the index, or build it when it must be.

    Without ``paths`` the index's own sources are used (else ``default_sources``).
    ``chunk_sizes`` changes some chunking sizes, the others keep the index's own.
    The index is built afresh (reusing cached vectors) when there is none, when
    ``rebuild`` is set, or when the encoder or chunking differ from the index's;
    otherwise new and changed files are added (and gone ones removed with ``prune``).
    """
    directory = Path(directory) if directory is not None else default_index_dir()
    try:
        current: Manifest | None = read_manifest(directory)
    except (IndexNotFoundError, IndexCorruptError):
        current = None
    recorded = current.sources if current else recorded_sources(directory)
    paths = list(paths) or recorded or list(default_sources)
    sizes = {**(current.chunking if current else {}), **(chunk_sizes or {})}
    chunking = ChunkingConfig(**sizes)
    chosen = _choose_encoder(encoder, options, directory)
    same = (
        current is not None
        and current.encoder == chosen.spec()
        and current.chunking == asdict(chunking)
    )
    if same and not rebuild:
        try:
            idx = Index.open(directory, encoder=chosen)
        except IndexCorruptError:
            pass  # rebuilt below
        else:
            return idx, idx.add(paths, prune=prune, progress=progress, on_skip=on_skip)
    return _build(paths, directory, chosen, options, chunking, index_type, progress, on_skip)


def _current_index_type(directory: Path) -> str:
    try:
        return read_manifest(directory).index_type
    except SemsearchError:
        return "auto"


def _check_index_type(kind: str) -> None:
    if kind not in INDEX_TYPES:
        raise InputError(f"unknown index type {kind!r}; choose one of: {', '.join(INDEX_TYPES)}")


def _partition(
    current: dict[str, tuple[int, int]],
    known: dict[str, tuple[int, int]],
    skipped: dict[str, tuple[int, int, str]],
) -> tuple[list[Path], list[Skipped], int]:
    """Split the files found (path: size, mtime_ns) by what a write must do with them.

    Returns the files to read again (their size or time moved since recorded,
    or they are new), those found unusable before and unchanged since (said
    again, not read), and how many are unchanged: the work follows the change,
    not the size of the folder.
    """
    files = in_order(p for p, state in current.items() if known.get(p) != state)
    unusable = [
        Skipped(Path(p), reason)
        for p, (size, mtime, reason) in skipped.items()
        if current.get(p) == (size, mtime)
    ]
    return files, unusable, len(current) - len(files) - len(unusable)


def _as_before(
    changes: Changes, unusable: list[Skipped], unchanged: int, on_skip: OnSkip | None
) -> Changes:
    """Add the files :func:`_partition` left as they were to a write's summary."""
    for skipped in unusable:
        _skip(changes, skipped, on_skip)
    changes.unchanged += unchanged
    return changes


def _vanished(known: Iterable[str], present: Container[str], roots: list[str]) -> list[str]:
    """Recorded files under ``roots`` that are not ``present`` any more."""
    return [p for p in known if p not in present and is_under(p, roots)]


def _untouched(
    known: dict[str, tuple[int, int]],
    current: dict[str, tuple[int, int]],
    roots: list[str],
    prune: bool,
) -> bool:
    """Whether syncing would change nothing: each current file indexed with its
    current (size, mtime_ns) and, with ``prune``, no indexed file under ``roots`` gone."""
    if any(known.get(path) != state for path, state in current.items()):
        return False
    return not (prune and _vanished(known, current, roots))


def _choose_encoder(
    encoder: Encoder | str | None, options: EncoderOptions | None, directory: Path
) -> Encoder:
    if isinstance(encoder, str):
        return load_encoder(encoder, options)
    if encoder is not None:
        return encoder
    try:
        spec = read_manifest(directory).encoder
    except SemsearchError:  # no index, or one we cannot read: start afresh
        return load_encoder(options=options)
    return encoder_from_spec(spec, options)


def _reusable_database(
    directory: Path, encoder: Encoder, chunking: ChunkingConfig
) -> Manifest | None:
    """The live manifest if a rebuild can go on in its database (same encoder and
    chunking; the finder is rebuilt anyway, so a broken one does not matter)."""
    try:
        manifest = _live_manifest(directory)
    except (IndexNotFoundError, IndexCorruptError):
        return None  # none, or unreadable: a build from scratch replaces it
    if manifest.encoder == encoder.spec() and manifest.chunking == asdict(chunking):
        return manifest
    return None


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold the folder's write lock; refuse folders that hold something else."""
    if directory.exists() and not directory.is_dir():
        raise NotAnIndexError(f"{directory} is a file, not an index folder")
    foreign = foreign_entries(directory)
    if foreign:
        raise NotAnIndexError(
            f"{directory} holds other files ({', '.join(foreign[:3])}) and no "
            f"{MANIFEST}; pass --index with a new or empty folder"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ".lock").touch()
    except OSError as exc:
        raise InputError(
            f"cannot write to {directory} ({exc.strerror}); pass --index with a folder "
            "you can write to, or search the index as it is (semsearch ask --no-refresh)"
        ) from None
    with open(directory / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _raise_nothing_indexed(roots: list[str], changes: Changes) -> None:
    reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in changes.skipped[:3])
    raise InputError(
        f"nothing to index in {', '.join(roots)}"
        + (f" ({reasons})" if reasons else "")
        + "; give UTF-8 .txt or .md files"
    )


def _skip(changes: Changes, skipped: Skipped, on_skip: OnSkip | None) -> None:
    changes.skipped.append(skipped)
    if on_skip:
        on_skip(skipped)


def _generation_number(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
