"""The Milvus backend: an index whose passages live in a Milvus collection (Milvus
Lite on this machine, or a Milvus server or cluster), behind the same
:class:`~semsearch.storage.base.Backend` as the local folder. The folder keeps only
``manifest.json`` (naming the store) and the embedding cache.

Milvus has no transactions and no locks; each upsert or delete applies row by
row. A write is made safe by its order and by keys that every writer computes
alike (see :mod:`semsearch.storage.milvus.collections`):

1. new passages, with their sentence vectors, are upserted as they are embedded;
   readers do not show a passage without a place (:mod:`semsearch.storage.milvus.snapshot`);
2. at commit, changed files' places are upserted (some files at a time), then
   their file rows: a file row is what tells the next write the file is done;
3. passages that lost their last place are deleted;
4. the manifest row is written, then ``manifest.json``.

A crash anywhere leaves a marker row of its write; the same command run again
redoes what no file row records, and the next write that finds the marker of a
dead writer deletes what that writer stored but never placed. Two writers on one
collection: the same text gets the same key (an upsert, never a duplicate), and
a writer that finds a passage it placed deleted meanwhile by another's cleanup
says so and drops those files' rows, so that running it again mends them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ... import faults
from ...errors import EncoderMismatchError, IndexNotFoundError, InputError, StoreError
from ...records import DocumentRecord, NewPassage
from ...text.chunking import ChunkingConfig
from ..base import Audit, FileStates, SkippedFiles
from ..common import writing
from ..manifest import Manifest, manifest_json, parse_manifest, write_manifest
from .address import StoreSpec
from .audit import audit
from .collections import (
    BATCH,
    MARKER,
    MAX_TEXT_BYTES,
    UNUSED,
    Collections,
    FileRow,
    index_kind,
    key,
    names_vector,
    passage_key,
    quoted,
)
from .markers import crashed_writes, marker
from .snapshot import MilvusSnapshot, file_states, milvus_errors, skipped_files

RELOAD_AFTER = 1.0
"""Seconds a reader trusts the manifest it read: another process's write is seen
within this, at the cost of one small query a second."""
FLUSH = 64
"""Passages held before they are upserted: what a crash can cost to re-embed."""
UNPLACED_KEPT = 2000
"""Passage ids a marker lists that a write unplaces (more: the next clean-up scans all)."""


@milvus_errors
class MilvusBackend:
    """An index in a Milvus collection (see the module docstring)."""

    def __init__(self, directory: Path, spec: StoreSpec) -> None:
        self.directory = directory
        self.spec = spec
        self._collections: Collections | None = None
        self._snapshot: MilvusSnapshot | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    @property
    def collections(self) -> Collections:
        if self._collections is None:
            self._collections = Collections(self.spec)
        return self._collections

    def snapshot(self) -> MilvusSnapshot:
        """The manifest row, read again at most once a second."""
        state = self._snapshot
        if state is not None and time.monotonic() - self._read_at < RELOAD_AFTER:
            return state
        with self._lock:
            text = self._manifest_text()
            if self._snapshot is None or self._snapshot.text != text:
                manifest = parse_manifest(text, Path(self.spec.address), self.directory)
                self._snapshot = MilvusSnapshot(manifest, self.collections, text)
            self._read_at = time.monotonic()
            return self._snapshot

    def _manifest_text(self) -> str:
        c = self.collections
        rows = c.get(c.names.meta, ["manifest"], ["value"]) if c.exists() else []
        if not rows:
            raise IndexNotFoundError(
                f"no index in Milvus collection {self.spec.collection} at {self.spec.address}; "
                f"build one with: semsearch index PATH --store {self.spec.address} "
                f"--index {self.directory}"
            )
        return str(rows[0]["value"])

    @contextmanager
    def write(
        self,
        encoder_spec: dict[str, Any],
        chunking: ChunkingConfig | None,
        index_type: str | None,
        *,
        rebuild: bool = False,
    ) -> Iterator[MilvusTransaction]:
        def begin() -> MilvusTransaction:  # under the folder's lock: Milvus locks nothing
            return MilvusTransaction(self, encoder_spec, chunking, index_type, rebuild)

        def adopt(committed: MilvusSnapshot) -> None:
            self._snapshot, self._read_at = committed, time.monotonic()

        with writing(self.directory, begin, adopt) as txn:
            yield txn

    def interrupted(self) -> bool:
        c = self.collections
        return c.exists() and bool(crashed_writes(c.meta()))

    def audit(self) -> Audit:
        """Every rule the collections keep, counted (``semsearch check``)."""
        return audit(self.collections, self.snapshot().manifest, self.directory)

    def close(self) -> None:
        if self._collections is not None:
            self._collections.close()


@milvus_errors
class MilvusTransaction:
    """A write to a Milvus index (see the module docstring). Passages are upserted
    as they come; everything else waits for :meth:`commit`."""

    def __init__(
        self,
        backend: MilvusBackend,
        encoder_spec: dict[str, Any],
        chunking: ChunkingConfig | None,
        index_type: str | None,
        rebuild: bool,
    ) -> None:
        self.backend = backend
        self.c = backend.collections
        self.n = self.c.names
        self.encoder_spec = encoder_spec
        self.committed: MilvusSnapshot | None = None
        self.id = uuid.uuid4().hex
        self.c.create(int(encoder_spec["dim"]))
        meta = self.c.meta()
        in_force = (
            parse_manifest(meta["manifest"], Path(backend.spec.address), backend.directory)
            if "manifest" in meta
            else None
        )
        if in_force is not None:
            self._refuse_other(in_force, encoder_spec, chunking)
        self.base = in_force
        self.chunking = (
            ChunkingConfig(**in_force.chunking) if in_force else (chunking or ChunkingConfig())
        )
        self.index_type = index_type or (in_force.index_type if in_force else "auto")
        self.rebuild = rebuild
        self.crashed = crashed_writes(meta)
        self._passages: list[dict[str, Any]] = []
        self._sentences: list[dict[str, Any]] = []
        self._put: dict[str, tuple[DocumentRecord, Sequence[tuple[int, int, int]]]] = {}
        self._touched: dict[str, DocumentRecord] = {}
        self._removed: set[str] = set()
        self._skips: dict[str, FileRow | None] = {}
        self._beat([])

    def _refuse_other(
        self, in_force: Manifest, encoder_spec: dict[str, Any], chunking: ChunkingConfig | None
    ) -> None:
        """A collection others may search is never rebuilt with another model or chunking."""
        where = f"Milvus collection {self.backend.spec.collection} at {self.backend.spec.address}"
        other = (
            f"index into another collection (--store ...), or drop {self.backend.spec.collection}"
        )
        if in_force.encoder != encoder_spec:
            raise EncoderMismatchError(
                f"{where} was built with encoder {in_force.encoder['name']!r} "
                f"({in_force.encoder.get('fingerprint')}), not {encoder_spec['name']!r} "
                f"({encoder_spec.get('fingerprint')}); use --model {in_force.encoder['name']}, or {other}"
            )
        if chunking is not None and asdict(chunking) != in_force.chunking:
            raise InputError(
                f"{where} was chunked with {in_force.chunking}, not {asdict(chunking)}; "
                f"keep its chunking, or {other}"
            )

    def _beat(self, unplaced: list[int] | None) -> None:
        """This write's marker (see :mod:`semsearch.storage.milvus.markers`), written anew."""
        self.c.put_meta(MARKER + self.id, marker(unplaced))

    def close(self) -> None:
        """Without a commit: unstore what this write stored and never placed (best
        effort: if this fails too, the marker lets a later write do it)."""
        if self.committed is not None:
            return
        try:
            self._collect(self._own_batch())
            self.c.delete(self.n.meta, f"key == {quoted(MARKER + self.id)}")
        except Exception:  # the store may be what failed
            pass

    # -- what the writer reads and changes ----------------------------------------

    def file_states(self) -> FileStates:
        return file_states(self.c)

    def skipped(self, paths: Iterable[str] | None = None) -> SkippedFiles:
        return skipped_files(self.c, paths)

    def documents(self, paths: Iterable[str] | None = None) -> dict[str, DocumentRecord]:
        return {
            p: DocumentRecord(0, p, f.sha256, f.size, f.mtime_ns)
            for p, f in self.c.files(paths)["d"].items()
        }

    def passage_ids(self, hashes: Iterable[str]) -> dict[str, int]:
        rows = self.c.where_in(self.n.passages, "sha256", hashes, ["sha256"])
        return {r["sha256"]: r["id"] for r in rows}

    def add_passage(self, passage: NewPassage) -> int:
        sha256, text, sentences = passage.sha256, passage.text, passage.sentences
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise InputError(
                f"a passage of {len(text):,} characters is over Milvus's {MAX_TEXT_BYTES:,} "
                "bytes; index with a smaller --max-chars"
            )
        pid = passage_key(sha256)
        self._passages.append(
            {
                "id": pid,
                "sha256": sha256,
                "text": text,
                "vector": np.asarray(passage.vector, dtype=np.float32).tolist(),
                "words": " ".join(passage.words),
                "names": names_vector(passage.names),
                "write": self.id,
            }
        )
        self._sentences += [
            {
                "id": key(f"{pid}:{s}"),
                "passage_id": pid,
                "start": s,
                "end": e,
                "vector": np.asarray(v, dtype=np.float32).tolist(),
            }
            for s, e, v in sentences
        ]
        if len(self._passages) >= FLUSH:
            self._flush()
        return pid

    def _flush(self) -> None:
        """Upsert the passages held, refusing two texts whose keys collide."""
        if not self._passages:
            return
        held = {row["id"]: row for row in self._passages}
        for row in self.c.get(self.n.passages, list(held), ["sha256"]):
            mine = held[row["id"]]
            if row["sha256"] != mine["sha256"]:
                raise StoreError(
                    f"passages {row['sha256'][:12]} and {mine['sha256'][:12]} share key "
                    f"{row['id']}; nothing of this passage was stored"
                )
        self.c.upsert(self.n.sentences, self._sentences)
        self.c.upsert(self.n.passages, self._passages)
        self._passages, self._sentences = [], []
        self._beat([])

    def put_document(self, record: DocumentRecord, places: Sequence[tuple[int, int, int]]) -> None:
        self._put[record.path] = (record, places)
        self._removed.discard(record.path)

    def touch_document(self, record: DocumentRecord) -> None:
        self._touched[record.path] = record

    def remove_documents(self, paths: Iterable[str]) -> None:
        for path in paths:
            self._removed.add(path)
            self._put.pop(path, None)

    def put_skipped(self, path: str, size: int, mtime_ns: int, reason: str) -> None:
        self._skips[path] = FileRow(path, "", size, mtime_ns, reason)

    def drop_skipped(self, paths: Iterable[str]) -> None:
        for path in paths:
            self._skips[path] = None

    def documents_count(self) -> int:
        known = set(self.c.files()["d"]) | set(self._put)
        return len(known - self._removed)

    # -- the commit -----------------------------------------------------------------

    def commit(self, sources: list[str]) -> Manifest:
        """Land the write in the order the module docstring gives."""
        self._flush()
        changed = sorted({*self._put, *self._removed})
        old = self.c.where_in(self.n.places, "source", changed, ["source", "passage_id"])
        unplaced = sorted({r["passage_id"] for r in old})
        self._beat(unplaced if len(unplaced) <= UNPLACED_KEPT else None)
        had = Counter(r["source"] for r in old)
        paths = sorted(self._put)
        group: list[tuple[DocumentRecord, Sequence[tuple[int, int, int]]]] = []
        for n, path in enumerate(paths, 1):
            group.append(self._put[path])
            if sum(len(places) for _, places in group) >= BATCH or n == len(paths):
                self._place(group, had)
                group = []
                faults.point("commit")
        if self._removed:
            self.c.delete_in(self.n.places, "source", self._removed)
            self.c.delete_in(self.n.files, "key", ["d:" + p for p in self._removed])
        touched = [
            FileRow(r.path, r.sha256, r.size, r.mtime_ns, "") for r in self._touched.values()
        ]
        self.c.upsert(self.n.files, [row.row() for row in touched])
        self.c.upsert(self.n.files, [row.row() for row in self._skips.values() if row])
        if dropped := [p for p, row in self._skips.items() if row is None]:
            self.c.delete_in(self.n.files, "key", ["s:" + p for p in dropped])
        self._collect(set(unplaced) | self._left_by_crashes())
        self._verify()
        self.c.flush()
        manifest = self._manifest(sources)
        text = manifest_json(manifest)
        self.c.put_meta("manifest", text)
        keys = [MARKER + self.id, *self.crashed]
        self.c.delete_in(self.n.meta, "key", keys)
        faults.point("manifest")
        write_manifest(self.backend.directory, manifest)
        self.committed = MilvusSnapshot(manifest, self.c, text)
        return manifest

    def _place(
        self,
        group: list[tuple[DocumentRecord, Sequence[tuple[int, int, int]]]],
        had: Counter[str],
    ) -> None:
        """Some files' places, then their rows (a row says its file is done): one
        upsert each for the group, and a delete for each file that had more places."""
        self.c.upsert(
            self.n.places,
            [
                {
                    "id": key(f"{record.path}\0{seq}"),
                    "source": record.path,
                    "seq": seq,
                    "passage_id": pid,
                    "start": start,
                    "end": end,
                    "unused": UNUSED,
                }
                for record, places in group
                for seq, (pid, start, end) in enumerate(places)
            ],
        )
        for record, places in group:
            if had[record.path] > len(places):
                where = f"source == {quoted(record.path)} and seq >= {len(places)}"
                self.c.delete(self.n.places, where)
        files = [FileRow(r.path, r.sha256, r.size, r.mtime_ns, "").row() for r, _ in group]
        self.c.upsert(self.n.files, files)

    def _left_by_crashes(self) -> set[int]:
        """What crashed writes stored or unplaced: their passages are looked at again."""
        if not self.crashed:
            return set()
        ids = {
            r["id"]
            for r in self.c.where_in(
                self.n.passages, "write", [k[len(MARKER) :] for k in self.crashed], ["id"]
            )
        }
        for crashed in self.crashed.values():
            if crashed.get("unplaced") is None:  # too many to list: look at every passage
                return self.c.ids(self.n.passages, "id", "id >= 0")
            ids.update(crashed["unplaced"])
        return ids

    def _own_batch(self) -> set[int]:
        return {
            r["id"] for r in self.c.rows(self.n.passages, f"write == {quoted(self.id)}", ["id"])
        }

    def _collect(self, candidates: set[int]) -> None:
        """Delete those of ``candidates`` that no place names, with their sentences."""
        if not candidates:
            return
        placed = {
            r["passage_id"]
            for r in self.c.where_in(self.n.places, "passage_id", candidates, ["passage_id"])
        }
        if orphans := candidates - placed:
            self.c.delete_in(self.n.sentences, "passage_id", orphans)
            self.c.delete_in(self.n.passages, "id", orphans)

    def _verify(self) -> None:
        """Every passage this write placed still stored; else another writer's
        clean-up raced it: its files are dropped so that running it again mends them."""
        wanted = {pid for _, places in self._put.values() for pid, _, _ in places}
        if not wanted:
            return
        found = {r["id"] for r in self.c.get(self.n.passages, sorted(wanted), ["id"])}
        if missing := wanted - found:
            broken = [
                p
                for p, (_, places) in self._put.items()
                if any(pid in missing for pid, _, _ in places)
            ]
            self.c.delete_in(self.n.files, "key", ["d:" + p for p in broken])
            raise StoreError(
                f"another writer removed {len(missing)} passages of {len(broken)} files while "
                "this write ran; run the same command again to index them"
            )

    def _manifest(self, sources: list[str]) -> Manifest:
        documents = len(self.c.files()["d"])
        passages = self.c.count(self.n.passages)
        occurrences = self.c.count(self.n.places)
        kind = index_kind(self.index_type, passages)
        if kind != self.c.vector_index() or (self.rebuild and kind != "FLAT"):
            self.c.set_vector_index(kind, passages)
        return Manifest(
            generation=f"milvus-{self.id[:12]}",
            database="",
            encoder=self.encoder_spec,
            chunking=asdict(self.chunking),
            sources=sources,
            documents=documents,
            passages=passages,
            occurrences=occurrences,
            built_at=time.time(),
            index_type=self.index_type,
            ann=kind.lower(),
            store=self.backend.spec.address,
        )
