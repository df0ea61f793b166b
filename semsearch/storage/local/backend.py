"""The local backend: an index in one folder, SQLite for the record, FAISS to find.

``store-N/passages.sqlite`` holds documents, unique passages with their
vectors, places, sentence vectors, name terms and the word index (see
:mod:`semsearch.storage.local.database`); ``gen-N/`` holds the finder of the latest write (see
:mod:`.vectors`); ``manifest.json`` names both (see :mod:`semsearch.storage.folder`).

A write changes the database inside one transaction and writes the finder
(or only its delta) into a new generation folder; committing the transaction,
which records the new manifest, is the moment it takes effect. A crash or an
error before that leaves the previous index, and readers never see a
half-written state. A build afresh (another model or chunking) fills a new
database, and switching ``manifest.json`` to it is its moment.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from ... import faults
from ...errors import DiskError, IndexCorruptError, IndexNotFoundError, refusal, refused_write
from ...records import DocumentRecord, NewPassage
from ...text.chunking import ChunkingConfig
from ..base import Audit, FileStates, SkippedFiles
from ..common import writing
from ..folder import next_number, rebuild_hint, remove_unused, stamp
from ..manifest import (
    Manifest,
    manifest_json,
    manifest_path,
    parse_manifest,
    read_manifest,
    resolve_type,
    write_manifest,
)
from .database import Database
from .exact import ExactFinder
from .integrity import audit
from .snapshot import LocalSnapshot, sqlite_errors_as_corrupt

if TYPE_CHECKING:
    from .vectors import Finder  # FAISS: imported only by approximate indexes and writes

DATABASE = "passages.sqlite"


@sqlite_errors_as_corrupt
class LocalBackend:
    """An index in a folder (see the module docstring and :class:`~semsearch.storage.base.Backend`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._snapshot: LocalSnapshot | None = None
        self._reload_lock = threading.Lock()

    def _database(self) -> Path:
        if self._snapshot is not None:
            return self._snapshot.store.path
        return self.directory / "store" / DATABASE

    def snapshot(self) -> LocalSnapshot:
        """The live state, reloaded first if another writer committed since.

        The check is one SQLite pragma and one stat, microseconds; without it a
        process that keeps an index open would search a stale finder after
        another process's write (or the old database after a rebuild). Replaced
        states are left to the garbage collector: another thread may still be
        searching one.
        """
        state = self._snapshot
        if (
            state is not None
            and state.store.data_version() == state.version
            and stamp(self.directory) == state.stamp
        ):
            return state
        with self._reload_lock:
            current = self._snapshot
            if current is state or current is None:  # None only before the first load
                current = self._snapshot = _load(self.directory, (state.finder,) if state else ())
            return current

    @contextmanager
    def write(
        self,
        encoder_spec: dict[str, Any],
        chunking: ChunkingConfig | None,
        index_type: str | None,
        *,
        rebuild: bool = False,
    ) -> Iterator[LocalTransaction]:
        def begin() -> LocalTransaction:
            live = self._snapshot.finder if self._snapshot else None
            return LocalTransaction(
                self.directory, encoder_spec, chunking, index_type, live, rebuild
            )

        def adopt(committed: LocalSnapshot) -> None:
            self._snapshot = committed

        with writing(self.directory, begin, adopt) as txn:
            yield txn

    def interrupted(self) -> bool:
        return False

    def audit(self) -> Audit:
        """Reads the files directly rather than through :meth:`snapshot`, which
        refuses an inconsistent index, so that it can say what is wrong."""
        outer = read_manifest(self.directory)
        database = self.directory / outer.database
        if not database.is_file():
            return Audit({}, 0, 0, (f"{database} is missing",))
        try:
            store = Database(database, readonly=True)
            try:
                recorded, *_ = store.snapshot()
                manifest = parse_manifest(recorded, database, self.directory) if recorded else outer
                problems, passage_ids, documents = audit(store, manifest.dim)
            finally:
                store.close()
        except sqlite3.DatabaseError as exc:
            return Audit({}, 0, 0, (f"{database} is unreadable ({exc})",))
        if manifest.ann == "flat":  # the database's own vectors: nothing to disagree
            found = passage_ids
        else:
            found = self._audit_finder(manifest, passage_ids, problems)
        if missing := passage_ids - found:
            problems.append(
                f"{len(missing)} passages are not in the finder (e.g. id {min(missing)})"
            )
        if (manifest.documents, manifest.passages) != (len(documents), len(passage_ids)):
            problems.append(
                f"manifest says {manifest.documents} documents and {manifest.passages} passages, "
                f"the database holds {len(documents)} and {len(passage_ids)}"
            )
        return Audit(documents, len(passage_ids), len(found), tuple(problems))

    def _audit_finder(
        self, manifest: Manifest, passage_ids: set[int], problems: list[str]
    ) -> set[int]:
        """The passage ids an approximate finder can find; its faults into ``problems``."""
        from .vectors import load_finder, vector_ids

        try:
            finder = load_finder(self.directory, manifest)
        except (IndexCorruptError, OSError) as exc:
            problems.append(f"the finder of {manifest.generation} is unreadable ({exc})")
            return passage_ids
        else:
            main = set(vector_ids(finder.main).tolist())
            delta = set(vector_ids(finder.delta).tolist()) if finder.delta is not None else set()
            if (dead := len(main - passage_ids)) != finder.stale:
                problems.append(
                    f"the finder holds {dead} vectors of removed passages, "
                    f"its manifest says {finder.stale}"
                )
            found = (main & passage_ids) | delta
            if orphans := delta - passage_ids:
                problems.append(
                    f"{len(orphans)} vectors in the finder have no passage (e.g. id {min(orphans)})"
                )
        return found

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.store.close()


@sqlite_errors_as_corrupt
class LocalTransaction:
    """A write in progress: the live database inside one open transaction (or, for
    a build afresh, a new database) and the next generation's finder, staged in a
    hidden folder. Closing it without :meth:`commit` rolls the database back and
    deletes what was staged (see :class:`~semsearch.storage.base.Transaction`)."""

    def __init__(
        self,
        directory: Path,
        encoder_spec: dict[str, Any],
        chunking: ChunkingConfig | None,
        index_type: str | None,
        live: Finder | ExactFinder | None,
        rebuild: bool,
    ) -> None:
        self.directory = directory
        self.encoder_spec = encoder_spec
        self.rebuild = rebuild
        self.live = live  # the finder in memory, whose main file a write may reuse
        self.committed: LocalSnapshot | None = None
        self.number = next_number(directory)
        self.name = f"gen-{self.number:06d}"
        self.tmp = directory / f".{self.name}.tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        try:
            self._begin(chunking, index_type)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def _begin(self, chunking: ChunkingConfig | None, index_type: str | None) -> None:
        """Open the database this write changes, or start a new one."""
        directory, encoder_spec = self.directory, self.encoder_spec
        self.removed: list[int] = []  # this write's vector changes, for the finder
        self.added: list[int] = []
        self.store: Database | None = None
        in_force = self._open_live()
        same = (  # else another model or chunking: a new database
            in_force is not None
            and in_force.encoder == encoder_spec
            and (chunking is None or in_force.chunking == asdict(chunking))
        )
        self.base = in_force if same else None
        if self.base is not None:
            self.chunking = ChunkingConfig(**self.base.chunking)
            self.database = self.base.database  # changed in place
        else:
            if self.store is not None:
                self.store.close()
            self.chunking = chunking or ChunkingConfig()
            self.database = f"store-{self.number:06d}/{DATABASE}"
            folder = directory / Path(self.database).parent
            shutil.rmtree(folder, ignore_errors=True)  # left by a build that crashed
            try:
                folder.mkdir()
                self.store = Database(directory / self.database, readonly=False)
            except (OSError, sqlite3.DatabaseError) as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise refused_write(exc, folder) or exc from None
        self.index_type = index_type or (in_force.index_type if in_force else "auto")

    def _open_live(self) -> Manifest | None:
        """Open the database in force, writable, as ``self.store``, and return the
        manifest it records; None where there is none or it cannot be read (then
        the write builds a new database)."""
        try:
            outer = read_manifest(self.directory)
            store = Database(self.directory / outer.database, readonly=False)
        except (IndexNotFoundError, IndexCorruptError):
            return None
        except sqlite3.DatabaseError as exc:  # damaged: start anew; a full disk is no reason to
            refused = refused_write(exc, self.directory / outer.database)
            if refused is not None:
                raise refused from None
            return None
        try:
            recorded, *_ = store.snapshot()
            manifest = parse_manifest(recorded or "", store.path, self.directory)
        except (IndexCorruptError, sqlite3.DatabaseError):
            store.close()
            return None
        self.store = store
        return manifest

    def close(self) -> None:
        if self.committed is None and self.store is not None:
            self.store.close()  # rolls back anything not committed
        shutil.rmtree(self.tmp, ignore_errors=True)  # gone already if committed

    def _manifest_refused(self, exc: OSError, generation: Path) -> NoReturn:
        """``manifest.json`` could not be rewritten. A build afresh has not taken
        effect: its files go, the index is as it was. An in-place write has (the
        database records its manifest): only the copy in ``manifest.json`` is old,
        and the next write rewrites it."""
        refused = refused_write(exc, manifest_path(self.directory))
        if refused is None:
            raise exc
        if self.base is not None:
            raise DiskError(
                f"{refusal(exc)} writing {manifest_path(self.directory)}; the change itself "
                "is stored and searched, and the next write rewrites the file"
            ) from None
        self._db.close()
        shutil.rmtree(generation, ignore_errors=True)
        shutil.rmtree(self._database().parent, ignore_errors=True)
        raise refused from None

    # -- what the writer reads and changes ----------------------------------------

    def _database(self) -> Path:
        return self.directory / self.database

    @property
    def _db(self) -> Database:
        assert self.store is not None
        return self.store

    def file_states(self) -> FileStates:
        return self._db.file_states()

    def skipped(self, paths: Iterable[str] | None = None) -> SkippedFiles:
        return self._db.skipped(paths)

    def documents(self, paths: Iterable[str] | None = None) -> dict[str, DocumentRecord]:
        return self._db.documents(paths)

    def passage_ids(self, hashes: Iterable[str]) -> dict[str, int]:
        return self._db.passage_ids(hashes)

    def add_passage(self, passage: NewPassage) -> int:
        pid = self._db.add_passage(passage)
        self._db.add_sentences((pid, s, e, v) for s, e, v in passage.sentences)
        self.added.append(pid)
        return pid

    def put_document(self, record: DocumentRecord, places: Sequence[tuple[int, int, int]]) -> None:
        self._db.put_document(record, places)

    def touch_document(self, record: DocumentRecord) -> None:
        self._db.touch_document(record)

    def remove_documents(self, paths: Iterable[str]) -> None:
        self._db.remove_documents(paths)

    def put_skipped(self, path: str, size: int, mtime_ns: int, reason: str) -> None:
        self._db.put_skipped(path, size, mtime_ns, reason)

    def drop_skipped(self, paths: Iterable[str]) -> None:
        self._db.drop_skipped(paths)

    def documents_count(self) -> int:
        return self._db.counts()[0]

    # -- what the finder is built from (vectors.VectorSource) --------------------

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        return self._db.vectors(ids, self.encoder_spec["dim"])[1]

    def all_ids(self) -> list[int]:
        return self._db.passage_ids_all()

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return self._db.all_vectors(self.encoder_spec["dim"])

    # -- the commit -----------------------------------------------------------------

    def commit(self, sources: list[str]) -> Manifest:
        """Write the finder, then commit the database with the new manifest in it.

        An in-place write takes effect at the database commit; a build afresh
        when ``manifest.json`` names its new database.
        """
        self.removed += self._db.drop_orphans()
        documents, passages, occurrences = self._db.counts()
        ann = resolve_type(self.index_type, passages)
        base = None if self.rebuild else self.base
        if ann == "flat":  # the database's vectors: no FAISS
            finder: Finder | ExactFinder = ExactFinder(*self.all_vectors(), self.name)
            trained = 0
        else:
            from .vectors import FinderWrite, next_finder, save_finder

            dim = self.encoder_spec["dim"]
            write = FinderWrite(self.directory, self.name, self.removed, self.added, dim)
            finder, trained = next_finder(write, base, ann, passages, self, self.live)
            try:
                save_finder(finder, self.tmp, self.name)
            except OSError as exc:
                raise refused_write(exc, self.tmp) or exc from None
        if finder.live != passages:
            raise IndexCorruptError(
                f"internal error: {finder.live} vectors for {passages} passages; "
                "nothing was written"
            )
        manifest = Manifest(
            generation=self.name,
            database=self.database,
            encoder=self.encoder_spec,
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
            ann_delta=finder.delta.ntotal if finder.delta is not None else 0,
            ann_stale=finder.stale,
        )
        faults.point("commit")
        final = self.directory / self.name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(self.tmp, final)
        try:
            self._db.put_manifest(manifest_json(manifest))
            self._db.commit()  # an in-place write takes effect here
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)  # nothing refers to it
            raise
        if self.base is None:
            self._db.use_wal()  # a new file is filled without it, faster
        self._db.read_only()  # this connection now serves the readers
        try:
            faults.point("manifest")
            write_manifest(self.directory, manifest)  # a build afresh takes effect here
        except OSError as exc:
            self._manifest_refused(exc, final)
        remove_unused(
            self.directory,
            (manifest.generation, manifest.ann_base, Path(manifest.database).parent.name),
        )
        version = self._db.data_version()
        self.committed = LocalSnapshot(manifest, self._db, finder, version, stamp(self.directory))
        return manifest


def _load(directory: Path, reuse: Sequence[Finder | ExactFinder] = ()) -> LocalSnapshot:
    """Open the live state, checking that its parts agree.

    A writer may commit, and delete the generation just read of, while this
    runs: then it is read again. ``reuse`` offers finders already in memory
    whose main file may be the live one.
    """
    for attempt in range(3):
        mark = stamp(directory)  # before reading: a write meanwhile makes it differ
        store, manifest, version, passages = _open_store(directory)
        try:
            finder = _finder(directory, manifest, store, reuse)
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
            moved = store.data_version() != version  # a write committed while we read
            store.close()
            if moved and attempt < 2:
                continue
            raise IndexCorruptError(
                f"{directory} is inconsistent ({finder.live} vectors, {passages} passages, "
                f"manifest says {manifest.passages}){rebuild_hint(directory)}"
            )
        return LocalSnapshot(manifest, store, finder, version, mark)
    raise AssertionError("unreachable")


def _finder(
    directory: Path, manifest: Manifest, store: Database, reuse: Sequence[Finder | ExactFinder]
) -> Finder | ExactFinder:
    """An exact index's vectors from its database; an approximate one's FAISS files."""
    if manifest.ann == "flat":
        try:
            return ExactFinder(*store.all_vectors(manifest.dim), manifest.generation)
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(
                f"{store.path} is unreadable ({exc}){rebuild_hint(directory)}"
            ) from None
    from .vectors import load_finder

    return load_finder(directory, manifest, reuse=reuse)


def _open_store(directory: Path) -> tuple[Database, Manifest, int, int]:
    """The database ``manifest.json`` names, opened for reading, with the manifest
    it records (the one in force), its data version and its passage count."""
    outer = read_manifest(directory)
    database = directory / outer.database
    if not database.is_file():
        raise IndexCorruptError(f"{database} is missing{rebuild_hint(directory)}")
    store = None
    try:
        store = Database(database, readonly=True)
        version = store.data_version()
        recorded, _, passages, _ = store.snapshot()
        if recorded is None:
            raise sqlite3.DatabaseError("it records no manifest")
    except sqlite3.DatabaseError as exc:
        if store is not None:
            store.close()
        raise IndexCorruptError(
            f"{database} is unreadable ({exc}){rebuild_hint(directory)}"
        ) from None
    manifest = parse_manifest(recorded, database, directory)
    if manifest.database != outer.database:
        store.close()
        raise IndexCorruptError(f"{database} records another database{rebuild_hint(directory)}")
    return store, manifest, version, passages
