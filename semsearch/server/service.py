"""One warm index behind a network edge: what the HTTP API (:mod:`semsearch.server.http`) and the
MCP tools (:mod:`semsearch.server.mcp_tools`) both call, so that they answer alike.

It adds to :class:`~semsearch.index.Index` what a caller on the other side of a socket
needs: bounds on what one request may ask (k, question length, batch size),
JSON-ready answers, and a fence around the file system: a client names files
only inside the roots the server was started with (and the index's own
sources), never through ``..`` or a symbolic link that leads out of them.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, QueryError, SemsearchError
from ..index import Index
from ..search.pipeline import MAX_QUERY_CHARS
from ..search.ranking import check_mode
from ..text.sources import MAX_FILE_SIZE, Rules, resolve

MAX_K = 100
MAX_BATCH = 1000
MAX_HITS = 5000
"""Most passages one request may return (questions x k): bounds its work and its answer."""
MAX_PASSAGE_ID = 2**63 - 1
CHUNK = 16
"""Questions of a batch embedded at a time: single questions get the encoder between chunks."""
CHUNK_CHARS = 2000
"""Characters of a batch embedded at a time, so that a chunk of long questions takes
about as long as one long question: a single question waits at most that."""
YIELD_S = 1.0
"""Longest a batch's next chunk waits for single questions to finish."""


class ForbiddenPathError(InputError):
    """A client named a file outside the folders this server may touch."""


class NotFoundError(InputError):
    """A client asked for a passage or document the index does not hold."""


class WritesDisabledError(InputError):
    """A client asked to change the index of a server started read-only."""


class BusyError(SemsearchError):
    """Too much work is waiting already: the client should send it again later."""


@dataclass
class Service:
    """The index a server shares between its requests (thread-safe: the Index is)."""

    index: Index
    roots: list[Path] = field(default_factory=list)
    """Folders clients may name files in; the index's own sources are always allowed."""
    allow_writes: bool = False
    max_query_chars: int = MAX_QUERY_CHARS
    max_file_size: int = MAX_FILE_SIZE
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _singles: int = field(default=0, repr=False)
    _turn: threading.Condition = field(default_factory=threading.Condition, repr=False)

    # -- asking --------------------------------------------------------------------

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> dict[str, Any]:
        """``{"query", "hits"}``, the hits as ``semsearch ask --json`` prints them.

        Counted while it runs, so that a batch lets it go first (see :meth:`search_batch`)."""
        self._check([query], k, mode)
        with self._turn:
            self._singles += 1
        try:
            hits = self.index.search_many([query], k, mode)[0]
        finally:
            with self._turn:
                self._singles -= 1
                self._turn.notify_all()
        return {"query": query, "hits": [h.to_dict() for h in hits]}

    def search_batch(self, queries: list[str], k: int = 5, mode: str = "hybrid") -> dict[str, Any]:
        """``{"results": [{"query", "hits"}, ...]}``, embedded a chunk at a time: before
        each chunk it waits (a little) for single questions in flight, which would
        otherwise queue behind the whole batch on the encoder."""
        self._check(queries, k, mode)
        found = []
        for chunk in _chunks(queries):
            with self._turn:
                self._turn.wait_for(lambda: self._singles == 0, timeout=YIELD_S)
            found += self.index.search_many(chunk, k, mode)
        return {
            "results": [
                {"query": q, "hits": [h.to_dict() for h in hits]}
                for q, hits in zip(queries, found, strict=True)
            ]
        }

    def _check(self, queries: list[str], k: int, mode: str) -> None:
        if not 1 <= k <= MAX_K:
            raise QueryError(f"k must be between 1 and {MAX_K}, got {k}")
        if not 1 <= len(queries) <= MAX_BATCH:
            raise QueryError(f"a batch holds 1 to {MAX_BATCH} questions, got {len(queries)}")
        if len(queries) * k > MAX_HITS:
            raise QueryError(
                f"{len(queries)} questions x k={k} asks for {len(queries) * k:,} passages; at most "
                f"{MAX_HITS:,} per request: lower k or split the batch"
            )
        check_mode(mode)
        for n, q in enumerate(queries):
            where = "" if len(queries) == 1 else f" (question {n + 1})"
            if not _encodable(q):
                raise QueryError(f"question{where} {q!a} is not valid Unicode (a lone surrogate)")
            if not q.strip():
                raise QueryError(f"empty question{where}: ask something")
            if len(q) > self.max_query_chars:
                raise QueryError(
                    f"question{where} is {len(q):,} characters; at most "
                    f"{self.max_query_chars:,} are accepted"
                )

    # -- reading more ----------------------------------------------------------------

    def passage(self, passage_id: int) -> dict[str, Any]:
        """One stored passage: its text and every place it stands."""
        found = self.index.passages([passage_id]) if 0 <= passage_id <= MAX_PASSAGE_ID else []
        if not found:
            raise NotFoundError(f"no passage with id {passage_id}")
        p = found[0]
        return {
            "passage_id": p.passage_id,
            "text": p.text,
            "occurrences": [
                {"source": o.source, "start": o.start, "end": o.end} for o in p.occurrences
            ],
        }

    def document(self, source: str) -> dict[str, Any]:
        """An indexed document's passages in reading order, for context around a hit."""
        path = self.allowed(source)
        places = self.index.document(path)
        if not places:
            raise NotFoundError(f"{source} is not in the index; see GET /documents")
        texts = {p.passage_id: p.text for p in self.index.passages(pid for pid, _ in places)}
        return {
            "source": str(path),
            "passages": [
                {"passage_id": pid, "start": o.start, "end": o.end, "text": texts[pid]}
                for pid, o in places
            ],
        }

    def documents(self) -> list[str]:
        """The indexed paths a client may name: none outside the allowed folders."""
        roots = self._roots()
        return [d for d in self.index.documents() if _inside(Path(d), roots)]

    def health(self) -> dict[str, Any]:
        m = self.index.manifest
        return {
            "status": "ok",
            "index": self.index.directory.name,
            "documents": m.documents,
            "passages": m.passages,
            "model": m.encoder["name"],
            "format": m.format,
            "writes": self.allow_writes,
        }

    # -- changing ----------------------------------------------------------------------

    def add(self, paths: list[str]) -> dict[str, Any]:
        """Index files or folders under the allowed roots (new and changed files only)."""
        allowed = self._writable(paths)
        for path, given in zip(allowed, paths, strict=True):
            _check_indexable(path, given)
        roots = self._roots()
        with self._write_lock:
            # links may not lead out of the roots
            fence = Rules(within=tuple(map(str, roots)), max_file_size=self.max_file_size)
            changes = self.index.add(allowed, rules=fence)
        return {
            "added": changes.added,
            "updated": changes.updated,
            "unchanged": changes.unchanged,
            "embedded": changes.embedded,
            "skipped": [
                {"path": str(s.path), "reason": s.reason}
                for s in changes.skipped
                if _inside(s.path, roots)
            ],
        }

    def remove(self, paths: list[str]) -> dict[str, Any]:
        allowed = self._writable(paths)
        with self._write_lock:
            changes = self.index.remove(allowed)
        return {"removed": changes.removed}

    def _writable(self, paths: list[str]) -> list[Path]:
        if not self.allow_writes:
            raise WritesDisabledError(
                "this server is read-only; start it with --allow-writes to change the index"
            )
        if not paths:
            raise InputError("give one or more paths")
        return [self.allowed(p) for p in paths]

    def allowed(self, path: str) -> Path:
        """``path`` resolved (links followed, relative to the server's working folder)
        if it lies inside an allowed root, else refused."""
        if "\x00" in path:
            raise InputError(f"{path!a}: a path may not hold a NUL character")
        if not _encodable(path, os.fsencode):
            raise InputError(f"{path!a}: not a path this file system can hold (a lone surrogate)")
        if ".." in Path(path).parts:
            raise ForbiddenPathError(f"{path!r}: paths may not contain '..'")
        roots = self._roots()
        try:
            resolved = resolve(path)  # relative: to the server's folder
        except InputError as exc:  # ~nosuchuser, a link loop
            raise NotFoundError(str(exc)) from None
        if _inside(resolved, roots):
            return resolved
        shown = ", ".join(dict.fromkeys(str(r) for r in roots)) or "none"
        raise ForbiddenPathError(f"{path!r} is outside the folders this server may read: {shown}")

    def _roots(self) -> list[Path]:
        """The folders clients may name: ``roots`` and the index's own sources, resolved."""
        return [r.resolve() for r in [*self.roots, *map(Path, self.index.manifest.sources)]]


def _chunks(queries: list[str]) -> Iterator[list[str]]:
    """Consecutive runs of at most :data:`CHUNK` questions and, past the first of
    each, :data:`CHUNK_CHARS` characters."""
    chunk: list[str] = []
    chars = 0
    for query in queries:
        if chunk and (len(chunk) == CHUNK or chars + len(query) > CHUNK_CHARS):
            yield chunk
            chunk, chars = [], 0
        chunk.append(query)
        chars += len(query)
    if chunk:
        yield chunk


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(r) for r in roots)


def _encodable(text: str, encode: Any = str.encode) -> bool:
    """Whether ``text`` can leave Python (as UTF-8, or as a file name with ``os.fsencode``)."""
    try:
        encode(text)
    except UnicodeEncodeError:
        return False
    return True


def _check_indexable(path: Path, given: str) -> None:
    """Refuse what is neither a file nor a folder (a FIFO would block the reader)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return  # the index says so, in its own words
    except OSError as exc:
        raise InputError(f"{given!a}: cannot be read ({exc.strerror})") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError(f"{given!a} is not a regular file or a folder; name files or folders")
