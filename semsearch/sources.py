"""Finding and reading the documents to index.

Offsets stored in the index are character offsets into the text that
:func:`read_text` returns (UTF-8, a leading BOM removed, line endings kept as
they are), so ``read_text(path)[start:end]`` is exactly a hit's text.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, UnreadableFileError

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text"})
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why (shown to the user as a warning)."""

    path: Path
    reason: str


def discover(paths: Iterable[str | Path], *, require_files: bool = True) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of text files.

    A folder contributes its ``.txt``/``.md`` files, hidden ones left out; a
    file named explicitly is taken whatever its suffix, since the user asked.
    A missing path is an error; finding no file at all is one too unless
    ``require_files`` is false (an emptied folder, when updating an index).
    """
    paths = list(paths)
    found = {full for full, _ in _listing(paths)}
    if require_files:
        _require_some(found, paths)
    return in_order(found)


def file_states(
    paths: Iterable[str | Path], *, require_files: bool = False
) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of each text file :func:`discover` would find, by resolved path.

    What an index compares with its records to tell whether anything changed,
    without sorting or building ``Path`` objects. A missing path is an error,
    and so is finding no file at all with ``require_files``.
    """
    paths = list(paths)
    states: dict[str, tuple[int, int]] = {}
    for full, entry in _listing(paths):
        stat = entry.stat()
        states[full] = (stat.st_size, stat.st_mtime_ns)
    if require_files:
        _require_some(states, paths)
    return states


def _require_some(found: Collection[str], paths: list[str | Path]) -> None:
    if not found:
        shown = ", ".join(str(p) for p in paths) or "(nothing)"
        suffixes = " ".join(sorted(TEXT_SUFFIXES))
        raise InputError(f"no text files ({suffixes}) found in {shown}")


def in_order(paths: Iterable[str]) -> list[Path]:
    """Resolved path strings as ``Path`` objects, in ``Path`` order (component by component)."""
    return [Path(p) for p in sorted(paths, key=lambda p: p.split(os.sep))]


def _listing(paths: Iterable[str | Path]) -> Iterator[tuple[str, Path | os.DirEntry]]:
    """(resolved path, something to ``stat``) of each text file under ``paths``."""
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"no such file or folder: {raw}")
        if path.is_file():
            yield str(path.resolve()), path
        else:
            yield from _walk(path)


def is_under(path: str, roots: Iterable[str]) -> bool:
    """Whether a resolved path is one of ``roots`` or inside one (string checks only)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _walk(folder: Path | str) -> Iterator[tuple[str, os.DirEntry]]:
    """Resolved paths (with their directory entries) of the text files under
    ``folder``, hidden ones left out.

    Directory entries tell file from folder and link without a system call
    each, and ``realpath`` runs once a folder (and per linked file), not once
    a file: a folder of 100,000 files is listed in about a second. Linked
    folders are not entered (as with ``Path.rglob``), so a link loop cannot
    trap the walk; unreadable folders are passed over.
    """
    real = os.path.realpath(folder)
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except PermissionError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path)
        elif os.path.splitext(entry.name)[1].lower() in TEXT_SUFFIXES and entry.is_file():
            full = (
                os.path.realpath(entry.path)
                if entry.is_symlink()
                else os.path.join(real, entry.name)
            )
            yield full, entry


def read_input(path: str | Path, what: str) -> str:
    """The text of a file named to a command (questions, qrels, a document to
    compare), or an :class:`InputError` that says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such {what}: {path}")
    try:
        return read_text(path)
    except UnreadableFileError as exc:
        raise InputError(f"cannot read {what} {path}: {exc}") from None


def read_text(path: Path) -> str:
    """Decode a file as UTF-8, refusing empty, binary and non-UTF-8 files."""
    data = path.read_bytes()
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise UnreadableFileError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            f"not valid UTF-8 (byte {exc.start}); convert it, e.g. iconv -t UTF-8"
        ) from None
    if not text.strip():
        raise UnreadableFileError("empty file")
    return text
