"""The index folder: where an index lives, who may write to it, and which of its
entries are semsearch's own.

::

    manifest.json              what the index is (see storage/manifest.py)
    store-000001/passages.sqlite   the record of truth, changed in place
    gen-000003/                the finder of one write (see storage/local/vectors.py)
    embeddings.sqlite          the embedding cache (see indexing/embedding_cache.py)
    .lock                      held while a writer works

Only entries named like semsearch's own are ever deleted, and a folder that
holds other files and no manifest is neither read as an index nor written to.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError, NotAnIndexError

MANIFEST = "manifest.json"
OWN_ENTRY = re.compile(r"(gen|store)-\d{6}|embeddings\.sqlite(\.damaged(-\d+)?)?")
"""Names semsearch writes in an index folder (besides the manifest and hidden files)."""


def default_index_dir() -> Path:
    """``$SEMSEARCH_INDEX`` if set, else ``index/`` in the working directory."""
    return Path(os.environ.get("SEMSEARCH_INDEX") or "index")


def index_dir(directory: str | Path | None) -> Path:
    """The folder asked for, or the default one."""
    return Path(directory) if directory is not None else default_index_dir()


def rebuild_hint(directory: Path) -> str:
    return f"; rebuild with: semsearch index PATH --index {directory}"


def foreign_entries(directory: Path) -> list[str]:
    """Names in a folder without a manifest that semsearch did not put there.

    Hidden files and a README (the repo's ``index/`` ships both) don't count,
    nor what a first build interrupted before its manifest left behind, so
    such a folder can become an index; anything else means the folder holds
    someone's files, which are neither read as an index nor overwritten.
    """
    if not directory.is_dir() or (directory / MANIFEST).exists():
        return []
    return sorted(
        p.name
        for p in directory.iterdir()
        if not p.name.startswith(".") and p.name != "README.md" and not OWN_ENTRY.fullmatch(p.name)
    )


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the folder's write lock (one writer at a time, across processes);
    refuse folders that hold something else or cannot be written."""
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


def stamp(directory: Path) -> tuple[int, int] | None:
    """Identifies the ``manifest.json`` in place: every write replaces the file."""
    try:
        stat = (directory / MANIFEST).stat()
    except OSError:  # none, or the "folder" is a file: reading the manifest says which
        return None
    return stat.st_ino, stat.st_mtime_ns


def next_number(directory: Path) -> int:
    """The number of the next generation folder (``gen-NNNNNN``)."""
    taken = [int(p.name[4:]) for p in directory.glob("gen-*") if p.name[4:].isdigit()]
    return max(taken, default=0) + 1


def remove_unused(directory: Path, keep: Iterable[str]) -> None:
    """Delete semsearch's own folders other than ``keep``.

    Readers that still have them open keep reading them (their files stay
    until closed) and move to the new state on their next search.
    """
    kept = set(keep)
    for old in directory.iterdir():
        if old.is_dir() and OWN_ENTRY.fullmatch(old.name) and old.name not in kept:
            shutil.rmtree(old, ignore_errors=True)
