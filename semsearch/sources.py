"""Finding and reading the documents to index.

Offsets stored in the index are character offsets into the text that
:func:`read_text` returns (UTF-8, a leading BOM removed, line endings kept as
they are), so ``read_text(path)[start:end]`` is exactly a hit's text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Container, Iterable, Iterator
from pathlib import Path

from .errors import InputError, UnreadableFileError
from .records import Skipped

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text"})
_SNIFF_BYTES = 8192


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
        require_some(found, paths)
    return in_order(found)


def file_states(
    paths: Iterable[str | Path],
    *,
    require_files: bool = False,
    on_skip: Callable[[Skipped], None] | None = None,
) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of each text file :func:`discover` would find, by resolved path.

    What an index compares with its records to tell whether anything changed,
    without sorting or building ``Path`` objects. A missing path is an error,
    and so is finding no file at all with ``require_files``. Broken links, link
    loops and files that vanish meanwhile are left out, told to ``on_skip``.
    """
    paths = list(paths)
    states: dict[str, tuple[int, int]] = {}
    for full, entry in _listing(paths, on_skip):
        try:
            stat = entry.stat()
        except OSError as exc:
            _report(on_skip, Path(full), f"cannot be read ({exc.strerror})")
            continue
        states[full] = (stat.st_size, stat.st_mtime_ns)
    if require_files:
        require_some(states, paths)
    return states


def _report(on_skip: Callable[[Skipped], None] | None, path: Path, reason: str) -> None:
    if on_skip is not None:
        on_skip(Skipped(path, reason))


def require_some(found: Collection[str], paths: list[str | Path]) -> None:
    if not found:
        shown = ", ".join(str(p) for p in paths) or "(nothing)"
        suffixes = " ".join(sorted(TEXT_SUFFIXES))
        raise InputError(f"no text files ({suffixes}) found in {shown}")


def in_order(paths: Iterable[str]) -> list[Path]:
    """Resolved path strings as ``Path`` objects, in ``Path`` order (component by component)."""
    return [Path(p) for p in sorted(paths, key=lambda p: p.split(os.sep))]


def _listing(
    paths: Iterable[str | Path], on_skip: Callable[[Skipped], None] | None = None
) -> Iterator[tuple[str, Path | os.DirEntry]]:
    """(resolved path, something to ``stat``) of each text file under ``paths``."""
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if not path.exists():
                raise InputError(f"no such file or folder: {raw}")
            is_file = path.is_file()
            full = str(path.resolve())
        except OSError as exc:  # a link loop named directly
            raise InputError(f"cannot read {raw}: {exc.strerror}") from None
        if is_file:
            yield full, path
        else:
            yield from _walk(path, on_skip)


def is_under(path: str, roots: Iterable[str]) -> bool:
    """Whether a resolved path is one of ``roots`` or inside one (string checks only)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _walk(
    folder: Path | str, on_skip: Callable[[Skipped], None] | None = None
) -> Iterator[tuple[str, os.DirEntry]]:
    """Resolved paths (with their directory entries) of the text files under
    ``folder``, hidden ones left out.

    Directory entries tell file from folder and link without a system call
    each, and ``realpath`` runs once a folder (and per linked file), not once
    a file: a folder of 100,000 files is listed in about a second. Linked
    folders are not entered (as with ``Path.rglob``), so a link loop cannot
    trap the walk; unreadable folders are passed over. A text file's link that
    leads nowhere (broken, or a loop) is told to ``on_skip`` and left out.
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
            yield from _walk(entry.path, on_skip)
        elif os.path.splitext(entry.name)[1].lower() in TEXT_SUFFIXES:
            if not entry.is_symlink():
                if entry.is_file(follow_symlinks=False):
                    yield os.path.join(real, entry.name), entry
                continue
            try:
                os.stat(entry.path)  # follows the link: fails if broken or a loop
            except OSError as exc:
                _report(on_skip, Path(entry.path), f"a link that leads nowhere ({exc.strerror})")
                continue
            if entry.is_file():
                yield os.path.realpath(entry.path), entry


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


def roots_of(paths: Iterable[str | Path]) -> list[str]:
    """Paths as the index records them: absolute, links resolved."""
    return [str(Path(p).expanduser().resolve()) for p in paths]


def vanished(known: Iterable[str], present: Container[str], roots: list[str]) -> list[str]:
    """Recorded files under ``roots`` that are not ``present`` any more."""
    return [p for p in known if p not in present and is_under(p, roots)]


def untouched(
    known: dict[str, tuple[int, int]],
    current: dict[str, tuple[int, int]],
    roots: list[str],
    prune: bool,
) -> bool:
    """Whether syncing would change nothing: each current file indexed with its
    current (size, mtime_ns) and, with ``prune``, no indexed file under ``roots`` gone."""
    if any(known.get(path) != state for path, state in current.items()):
        return False
    return not (prune and vanished(known, current, roots))
