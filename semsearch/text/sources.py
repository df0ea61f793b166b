"""Finding and reading the documents to index.

Which files a path names, which of them changed, and the rules (hidden files,
links, sizes) that decide what is read; reading one file is its format's reader's
job (:mod:`semsearch.readers`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Container, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UnreadableFileError
from ..readers import SUFFIXES, UNREAD_SUFFIXES, read_text
from ..records import Skipped

MAX_FILE_SIZE = 20_000_000
"""Bytes a file may have to be indexed (``--max-file-size``). Far above any article
or book (a 1,000-page novel is about 2 MB), yet a file at the limit is read and
chunked in a few hundred MB and embedded in minutes, not hours."""


@dataclass(frozen=True)
class Rules:
    """What a write may take from the file system; the defaults are the safe ones.

    ``within``: the folders a symbolic link found in a walk may lead into (a
    server's allowed roots); empty means the paths named to the write.
    ``follow_links`` lifts that fence. ``hidden`` takes hidden files and folders
    that are named explicitly (a walk leaves hidden entries out regardless), and
    ``max_file_size`` leaves out larger files, so that no file dropped in a
    folder can exhaust the machine.
    """

    within: tuple[str, ...] = ()
    follow_links: bool = False
    hidden: bool = False
    max_file_size: int = MAX_FILE_SIZE


def discover(paths: Iterable[str | Path], *, require_files: bool = True) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of text files.

    A folder contributes its ``.txt``/``.md`` files, hidden ones left out; a
    file named explicitly is taken whatever its suffix, since the user asked.
    A missing path is an error; finding no file at all is one too unless
    ``require_files`` is false (an emptied folder, when updating an index).
    """
    paths = list(paths)
    found = {full for full, _ in _listing(paths, Rules())}
    if require_files:
        require_some(found, paths)
    return in_order(found)


def file_states(
    paths: Iterable[str | Path],
    *,
    require_files: bool = False,
    on_skip: Callable[[Skipped], None] | None = None,
    rules: Rules | None = None,
) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of each text file :func:`discover` would find, by resolved path.

    What an index compares with its records to tell whether anything changed,
    without sorting or building ``Path`` objects. A missing path is an error,
    and so is finding no file at all with ``require_files``. Broken links, link
    loops, files that vanish meanwhile and whatever ``rules`` keep out (links
    leading out of the fence, hidden paths) are left out, told to ``on_skip``.
    Files over the size limit are present: the writer refuses them when it
    would read them, so that one indexed with a larger limit is not pruned.
    """
    paths = list(paths)
    rules = rules or Rules()
    states: dict[str, tuple[int, int]] = {}
    for full, entry in _listing(paths, rules, on_skip):
        try:
            stat = entry.stat()
        except OSError as exc:
            _report(on_skip, Path(full), f"cannot be read ({exc.strerror})")
            continue
        states[full] = (stat.st_size, stat.st_mtime_ns)
    if require_files:
        require_some(states, paths)
    return states


def _report(on_skip: Callable[[Skipped], None] | None, path: Path | str, reason: str) -> None:
    if on_skip is not None:
        on_skip(Skipped(Path(shown_name(str(path))), reason))


def shown_name(path: str) -> str:
    """A path as text that can be printed and stored: bytes that are not UTF-8
    (``surrogateescape``) written as ``\\xff``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _undecodable(name: str) -> bool:
    """Whether a file name holds bytes that are not UTF-8 (it could not be stored)."""
    return shown_name(name) != name


def require_some(
    found: Collection[str], paths: list[str | Path], skipped: Iterable[Skipped] = ()
) -> None:
    if not found:
        shown = ", ".join(shown_name(str(p)) for p in paths) or "(nothing)"
        suffixes = " ".join(sorted(SUFFIXES))
        why = "; ".join(f"{s.path.name}: {s.reason}" for s in list(skipped)[:3])
        raise InputError(
            f"no text files ({suffixes}) found in {shown}" + (f" ({why})" if why else "")
        )


def in_order(paths: Iterable[str]) -> list[Path]:
    """Resolved path strings as ``Path`` objects, in ``Path`` order (component by component)."""
    return [Path(p) for p in sorted(paths, key=lambda p: p.split(os.sep))]


def _listing(
    paths: Iterable[str | Path], rules: Rules, on_skip: Callable[[Skipped], None] | None = None
) -> Iterator[tuple[str, Path | os.DirEntry]]:
    """(resolved path, something to ``stat``) of each text file under ``paths``."""
    paths = list(paths)
    fence = None if rules.follow_links else (list(rules.within) or roots_of(paths))
    for raw in paths:
        full = str(resolve(raw))
        path = Path(raw).expanduser()
        try:
            if not path.exists():
                raise InputError(f"no such file or folder: {shown_name(str(raw))}")
            is_file, is_dir = path.is_file(), path.is_dir()
        except OSError as exc:
            raise InputError(f"cannot read {shown_name(str(raw))}: {exc.strerror}") from None
        if not (is_file or is_dir):
            raise InputError(
                f"{shown_name(str(raw))} is neither a file nor a folder (a pipe or a device?); "
                "name files or folders"
            )
        if _undecodable(full):
            _report(on_skip, full, NOT_UTF8_NAME)
        elif not rules.hidden and _hidden(Path(raw), full, rules.within):
            _report(on_skip, full, HIDDEN)
        elif is_file:
            yield full, path
        else:
            unread: Counter[str] = Counter()
            yield from _walk(path, fence, unread, on_skip)
            if unread:
                counts = ", ".join(f"{n} {suffix}" for suffix, n in unread.most_common())
                _report(on_skip, full, f"{counts} files in it: not read yet (convert them to .txt)")


NOT_UTF8_NAME = "its name is not valid UTF-8; rename it (e.g. convmv -t utf-8)"
HIDDEN = "hidden; name it with --hidden to index it"
LINKED_FOLDER = "a link to a folder: not entered (name the folder itself to index it)"


def _hidden(named: Path, full: str, within: Iterable[str]) -> bool:
    """Whether a named path is hidden or inside a hidden folder: its parts below
    the fence root holding it (a server names resolved paths), else as named."""
    parts = named.parts
    for root in sorted(within, key=len, reverse=True):
        if is_under(full, [root]):
            parts = Path(os.path.relpath(full, root)).parts
            break
    return any(p.startswith(".") and p not in (".", "..") for p in parts)


def is_under(path: str, roots: Iterable[str]) -> bool:
    """Whether a resolved path is one of ``roots`` or inside one (string checks only)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _walk(
    folder: Path | str,
    fence: list[str] | None,
    unread: Counter[str],
    on_skip: Callable[[Skipped], None] | None = None,
) -> Iterator[tuple[str, os.DirEntry]]:
    """Resolved paths (with their directory entries) of the text files under
    ``folder``, hidden ones left out, the suffixes of documents not read
    counted in ``unread``.

    Directory entries tell file from folder and link without a system call
    each, and ``realpath`` runs once a folder (and per linked file), not once
    a file: a folder of 100,000 files is listed in about a second. Linked
    folders are not entered (as with ``Path.rglob``), so a link loop cannot
    trap the walk (each is told to ``on_skip``); unreadable folders are passed over. A text file's link that
    leads nowhere (broken, or a loop), or out of ``fence`` (None: anywhere), and
    a name that is not UTF-8 are told to ``on_skip`` and left out.
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
        suffix = os.path.splitext(entry.name)[1].lower()
        is_dir = entry.is_dir(follow_symlinks=False)
        if (is_dir or suffix in SUFFIXES) and _undecodable(entry.name):
            _report(on_skip, entry.path, NOT_UTF8_NAME)
        elif is_dir:
            yield from _walk(entry.path, fence, unread, on_skip)
        elif entry.is_symlink() and os.path.isdir(entry.path):
            _report(on_skip, entry.path, LINKED_FOLDER)
        elif suffix not in SUFFIXES:
            if suffix in UNREAD_SUFFIXES:
                unread[suffix] += 1
        elif not entry.is_symlink():
            if entry.is_file(follow_symlinks=False):
                yield os.path.join(real, entry.name), entry
        else:
            yield from _linked(entry, fence, on_skip)


def _linked(
    entry: os.DirEntry, fence: list[str] | None, on_skip: Callable[[Skipped], None] | None
) -> Iterator[tuple[str, os.DirEntry]]:
    """A linked text file's target, if it leads to a file inside ``fence``."""
    try:
        os.stat(entry.path)  # follows the link: fails if broken or a loop
    except OSError as exc:
        _report(on_skip, entry.path, f"a link that leads nowhere ({exc.strerror})")
        return
    target = os.path.realpath(entry.path)
    if fence is not None and not is_under(target, fence):
        _report(
            on_skip, entry.path, "a link that leads out of the indexed folders (see --follow-links)"
        )
    elif _undecodable(target):
        _report(on_skip, entry.path, NOT_UTF8_NAME)
    elif entry.is_file():
        yield target, entry


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


def roots_of(paths: Iterable[str | Path]) -> list[str]:
    """Paths as the index records them: absolute, links resolved."""
    return [str(resolve(p)) for p in paths]


def resolve(raw: str | Path) -> Path:
    """``raw`` absolute, ``~`` expanded and links followed (relative: to the working
    folder), or an :class:`InputError` naming it when that cannot be done."""
    shown = shown_name(str(raw))
    try:
        path = Path(raw).expanduser()
    except RuntimeError:
        raise InputError(f"{shown}: no such user's home folder; give the full path") from None
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # a link loop (RuntimeError before Python 3.13)
        raise InputError(f"cannot read {shown}: a link that leads in a loop") from None


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


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9}


def parse_size(text: str) -> int:
    """``20MB``, ``500k``, ``1G`` or a count of bytes, as bytes (an :class:`InputError` else)."""
    number = text.strip().lower().rstrip("bgkm")
    unit = text.strip().lower()[len(number) :]
    try:
        size = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise InputError(f"--max-file-size {text!r}: give bytes or a size like 20MB") from None
    if not 0 < size < float("inf"):
        raise InputError(f"--max-file-size {text!r}: give a positive size like 20MB")
    return int(size)
