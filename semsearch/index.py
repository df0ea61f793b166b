"""The :class:`Index`: FAISS vectors and SQLite passages behind one object.

On disk an index is a folder::

    manifest.json        what the index is; names the live generation
    gen-000003/          passages.sqlite + vectors.faiss, never changed once written
    .lock                held while a writer works

Every write stages a new generation (copying the live one when it can be
reused), then commits by replacing ``manifest.json`` atomically, so a crash or
an error mid-build leaves the previous index usable and readers never see a
half-written state.
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
from dataclasses import asdict, dataclass, field
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
    IndexCorruptError,
    IndexNotFoundError,
    InputError,
    NotAnIndexError,
    SemsearchError,
)
from .lexical import terms as lexical_terms
from .manifest import MANIFEST, Manifest, foreign_entries, read_manifest, write_manifest
from .ranking import Signals, check_mode, fuse
from .search import Hit, Location, Passage, check_query
from .skeletons import name_scores, query_terms
from .sources import (
    Skipped,
    UnreadableFile,
    discover,
    file_states,
    in_order,
    is_under,
    read_text,
)
from .store import DocumentRecord, Occurrence, Store
from .vectors import (
    INDEX_TYPES,
    add_vectors,
    build_ann,
    load_vectors,
    new_vectors,
    range_search_vectors,
    reconstruct_vectors,
    remove_vectors,
    resolve_type,
    save_vectors,
    search_vectors,
    tune,
    update_ann,
)

DATABASE = "passages.sqlite"
VECTORS = "vectors.faiss"
ANN = "ann.faiss"
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
    """One committed generation, opened for reading.

    ``vectors`` is the exact master (reconstruct, reports); ``finder`` answers
    nearest-neighbour searches: an approximate index for large collections,
    else the master itself.
    """

    manifest: Manifest
    store: Store
    vectors: faiss.Index
    finder: faiss.Index


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
        sources = list(dict.fromkeys([*self.manifest.sources, *roots]))
        known = self._state.store.file_states()
        if sources == self.manifest.sources and _untouched(known, current, roots, prune):
            return Changes(unchanged=len(current))  # no new generation: nothing to write
        files = in_order(current)

        def sync(staging: _Staging) -> Changes:
            changes = staging.sync(files, progress, on_skip)
            if prune:
                gone = _vanished(staging.store.documents(), current, roots)
                changes.removed = staging.remove(gone).removed
                staging.store.drop_skipped(_vanished(staging.store.skipped(), current, roots))
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
        return not _untouched(self._state.store.file_states(), file_states(roots), roots, True)

    def _live_sources(self) -> list[str]:
        """The recorded sources still on disk (a vanished root never empties the index)."""
        return [r for r in self.manifest.sources if Path(r).exists()]

    # -- searching ------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        return self._state.manifest

    def __len__(self) -> int:
        return self._state.manifest.passages

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
        state = self._state
        want = min(len(self), k + DEDUPE_SLACK)
        if mode == "lexical":
            matrix = np.zeros((len(queries), state.manifest.dim), dtype=np.float32)
            ids = np.full((len(queries), 0), -1)
        else:
            matrix = self.encoder.encode_queries(queries)
            _, ids = search_vectors(state.finder, matrix, max(want, DENSE_CANDIDATES))
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
            names = name_scores(terms[i], postings, len(self)) if lexical else {}
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
        store = self._state.store
        rows = store.fetch(store.passage_ids_all() if ids is None else ids)
        return [
            Passage(pid, text, tuple(Location(o.path, o.start, o.end) for o in places))
            for pid, (text, places) in sorted(rows.items())
        ]

    def document(self, path: str | Path) -> list[tuple[int, Location]]:
        """(passage_id, place) of an indexed document's passages, in reading order."""
        key = str(Path(path).expanduser().resolve())
        return [
            (pid, Location(key, s, e)) for pid, s, e in self._state.store.document_occurrences(key)
        ]

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored (normalised) vectors of these passages, one row each."""
        return reconstruct_vectors(self._state.vectors, list(ids))

    def nearest(
        self, matrix: np.ndarray, k: int, *, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """One FAISS call: the ``k`` nearest passages (scores, ids) for each row.

        Exact by default (reports compare every pair faithfully). ``approximate``
        takes the path ``search`` takes on a large index: the approximate
        index's candidates, rescored with the exact vectors.
        """
        state = self._state
        if not approximate or state.finder is state.vectors:
            return search_vectors(state.vectors, matrix, k)
        _, pool = search_vectors(state.finder, matrix, max(k, DENSE_CANDIDATES))
        k = min(k, pool.shape[1])
        scores = np.full((len(matrix), k), -np.inf, dtype=np.float32)
        ids = np.full((len(matrix), k), -1, dtype=np.int64)
        for row, (query, found) in enumerate(zip(matrix, pool, strict=True)):
            found = found[found >= 0]
            exact = reconstruct_vectors(state.vectors, found.tolist()) @ query
            best = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(best)], ids[row, : len(best)] = exact[best], found[best]
        return scores, ids

    def within(
        self, matrix: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One FAISS call: every passage with similarity >= ``threshold`` to each row."""
        return range_search_vectors(self._state.vectors, matrix, threshold)

    def close(self) -> None:
        self._state.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------

    def _write(self, change: Callable[[_Staging], Changes], sources: list[str]) -> Changes:
        """Stage a new generation from the live one, apply ``change``, commit, reopen."""
        chunking = ChunkingConfig(**self.manifest.chunking)
        with self._write_lock, _locked(self.directory):
            # another process may have written since
            base = _load_state(self.directory, approximate=False)
            try:
                with _Staging(
                    self.directory, base, self.encoder, chunking, self.manifest.index_type
                ) as staging:
                    changes = change(staging)
                    staging.commit(sources)
            finally:
                base.store.close()
            old, self._state = self._state, _load_state(self.directory)
        old.store.close()
        return changes


class _Staging:
    """A generation being written: a private copy to change, then commit or discard."""

    def __init__(
        self,
        directory: Path,
        base: _State | None,
        encoder: Encoder,
        chunking: ChunkingConfig,
        index_type: str,
        *,
        retrain: bool = False,
    ) -> None:
        self.directory = directory
        self.retrain = retrain
        self.encoder = encoder
        self.chunking = chunking
        self.index_type = index_type
        taken = [_generation_number(p.name) for p in directory.glob("gen-*")]
        number = max(taken, default=0) + 1
        self.name = f"gen-{number:06d}"
        self.tmp = directory / f".{self.name}.tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.base = base.manifest if base is not None else None
        self.removed: list[int] = []  # this write's vector changes, for the approximate index
        self.added: list[int] = []
        if base is not None:
            shutil.copyfile(base.store.path, self.tmp / DATABASE)
            # a private, writable copy (the live one may be memory-mapped, read-only)
            self.vectors = load_vectors(base.store.path.parent / VECTORS, encoder.dim)
        else:
            self.vectors = new_vectors(encoder.dim)
        self.store = Store(self.tmp / DATABASE, readonly=False)
        self.cache = EmbeddingCache(directory / CACHE, encoder.spec())

    def __enter__(self) -> _Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()
        self.cache.close()
        shutil.rmtree(self.tmp, ignore_errors=True)  # gone already if committed

    def sync(self, files: list[Path], progress: Progress | None, on_skip: OnSkip | None) -> Changes:
        """Bring the given files up to date, embedding only texts not stored yet."""
        changes = Changes()
        known = self.store.documents()
        unusable = self.store.skipped()
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
            if key in unusable and unusable[key][:2] == state:
                _skip(changes, Skipped(path, unusable[key][2]), on_skip)  # not read again
                continue
            if old is not None and (old.size, old.mtime_ns) == state:
                changes.unchanged += 1  # same size and time: not even read
                continue
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
        self._remove_vectors(self.store.drop_orphans())
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
        self._remove_vectors(self.store.drop_orphans())
        return Changes(removed=list(paths))

    def _remove_vectors(self, ids: list[int]) -> None:
        remove_vectors(self.vectors, ids)
        self.removed += ids

    def _ann(self, kind: str, passages: int) -> tuple[faiss.Index, int]:
        """The live approximate index updated with this write's changes, or a new one.

        Updating costs time in proportion to the change; retraining (on a
        rebuild, when the type changed or cannot be updated, or when the
        collection has doubled since training) costs time in proportion to the
        whole collection.
        """
        base = None if self.retrain else self.base
        if (
            base is not None
            and base.ann == kind
            and passages <= ANN_RETRAIN_GROWTH * base.ann_trained
        ):
            finder = load_vectors(self.directory / base.generation / ANN, self.encoder.dim)
            matrix = reconstruct_vectors(self.vectors, self.added)
            if update_ann(finder, self.removed, self.added, matrix):
                return finder, base.ann_trained
        return build_ann(self.vectors, kind), passages

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
            new_ids = [self.store.add_passage(sha, text) for sha, text in batch]
            add_vectors(self.vectors, new_ids, matrix[: len(batch)])
            self.added += new_ids
            rows = iter(matrix[len(batch) :])
            self.store.add_sentences(
                (pid, s, e, np.asarray(next(rows), dtype=np.float32).tobytes())
                for pid, spans in zip(new_ids, parts, strict=True)
                for s, e in spans
            )
            ids.update(zip([sha for sha, _ in batch], new_ids, strict=True))
            if progress:
                progress(min(i + step, total), total)

    def commit(self, sources: list[str]) -> None:
        """Write the vectors, then switch the manifest to this generation."""
        self.store.commit()
        documents, passages, occurrences = self.store.counts()
        self.store.close()
        if self.vectors.ntotal != passages:
            raise IndexCorruptError(
                f"internal error: {self.vectors.ntotal} vectors for {passages} passages; "
                "nothing was written"
            )
        save_vectors(self.vectors, self.tmp / VECTORS)
        ann = resolve_type(self.index_type, passages)
        trained = 0
        if ann != "flat":
            finder, trained = self._ann(ann, passages)
            save_vectors(finder, self.tmp / ANN)
        final = self.directory / self.name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(self.tmp, final)
        manifest = Manifest(
            generation=self.name,
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
        )
        write_manifest(self.directory, manifest)
        for old in self.directory.glob("gen-*"):
            if old.name != self.name:
                shutil.rmtree(old, ignore_errors=True)


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
    vectors = reconstruct_vectors(state.vectors, pool)
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


def _load_state(directory: Path, *, approximate: bool = True) -> _State:
    """Open the live generation, checking that its files agree with the manifest.

    ``approximate=False`` leaves the approximate index unread (the finder is
    the exact master): a write's base needs only the manifest and files.
    """
    manifest = read_manifest(directory)
    gen = directory / manifest.generation
    hint = f"; rebuild with: semsearch index PATH --index {directory}"
    if not (gen / DATABASE).is_file() or not (gen / VECTORS).is_file():
        raise IndexCorruptError(f"{gen} is missing its files{hint}")
    try:
        large = manifest.ann != "flat"
        vectors = load_vectors(gen / VECTORS, manifest.dim, mmap=large)
        finder = load_vectors(gen / ANN, manifest.dim) if large and approximate else vectors
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}{hint}") from None
    if finder is not vectors:
        tune(finder)
    store = Store(gen / DATABASE, readonly=True)
    try:
        counts = store.counts()
    except sqlite3.DatabaseError as exc:
        store.close()
        raise IndexCorruptError(f"{gen / DATABASE} is unreadable ({exc}){hint}") from None
    if counts[1] != vectors.ntotal or counts[1] != manifest.passages:
        store.close()
        raise IndexCorruptError(
            f"{directory} is inconsistent ({vectors.ntotal} vectors, {counts[1]} passages, "
            f"manifest says {manifest.passages}){hint}"
        )
    return _State(manifest, store, vectors, finder)


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
    files = discover(paths)
    roots = [str(Path(p).expanduser().resolve()) for p in paths]
    wanted = {str(f) for f in files}
    with _locked(directory):
        base = _reusable_generation(directory, encoder, chunking)
        try:
            with _Staging(directory, base, encoder, chunking, index_type, retrain=True) as staging:
                changes = staging.sync(files, progress, on_skip)
                gone = [p for p in staging.store.documents() if p not in wanted]
                staging.store.drop_skipped(p for p in staging.store.skipped() if p not in wanted)
                changes.removed = staging.remove(gone).removed
                if staging.store.counts()[0] == 0:
                    _raise_nothing_indexed(roots, changes)
                staging.commit(roots)
        finally:
            if base is not None:
                base.store.close()
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
    paths = list(paths) or (current.sources if current else list(default_sources))
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


def _reusable_generation(
    directory: Path, encoder: Encoder, chunking: ChunkingConfig
) -> _State | None:
    """The live generation if a rebuild can start from it (same encoder and chunking)."""
    try:
        state = _load_state(directory, approximate=False)
    except IndexNotFoundError:
        return None
    except IndexCorruptError:
        return None  # a full rebuild replaces it
    if state.manifest.encoder == encoder.spec() and state.manifest.chunking == asdict(chunking):
        return state
    state.store.close()
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
    directory.mkdir(parents=True, exist_ok=True)
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
