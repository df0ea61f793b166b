"""``semsearch check``: is an index sound, and are its sources still what was indexed?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import open_backend
from .folder import index_dir


@dataclass(frozen=True)
class CheckReport:
    """What ``semsearch check`` found; ``problems`` is empty for a sound index."""

    documents: int
    passages: int
    vectors: int
    problems: tuple[str, ...]
    stale: tuple[str, ...]


def check_index(directory: str | Path | None = None) -> CheckReport:
    """Verify that every part of the index agrees with the others (the backend's
    audit: vectors and passages in step, database sound, counts as recorded).

    ``stale`` lists indexed files changed or deleted on disk since (not a fault).
    """
    backend = open_backend(index_dir(directory))
    try:
        audit = backend.audit()
    finally:
        backend.close()
    stale = tuple(path for path, known in sorted(audit.documents.items()) if _state(path) != known)
    return CheckReport(len(audit.documents), audit.passages, audit.vectors, audit.problems, stale)


def _state(path: str) -> tuple[int, int] | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns) if Path(path).is_file() else None
