"""Finding and reading the documents to index.

Offsets stored in the index are character offsets into the text that
:func:`read_text` returns (UTF-8, a leading BOM removed, line endings kept as
they are), so ``read_text(path)[start:end]`` is exactly a hit's text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text"})
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why (shown to the user as a warning)."""

    path: Path
    reason: str


class UnreadableFile(Exception):
    """Raised by :func:`read_text` for a file that cannot be indexed."""


def discover(paths: Iterable[str | Path], *, require_files: bool = True) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of text files.

    A folder contributes its ``.txt``/``.md`` files, hidden ones left out; a
    file named explicitly is taken whatever its suffix, since the user asked.
    A missing path is an error; finding no file at all is one too unless
    ``require_files`` is false (an emptied folder, when updating an index).
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"no such file or folder: {raw}")
        if path.is_file():
            found.add(path.resolve())
            continue
        for child in path.rglob("*"):
            rel = child.relative_to(path)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if child.suffix.lower() in TEXT_SUFFIXES and child.is_file():
                found.add(child.resolve())
    if not found and require_files:
        shown = ", ".join(str(p) for p in paths) or "(nothing)"
        suffixes = " ".join(sorted(TEXT_SUFFIXES))
        raise InputError(f"no text files ({suffixes}) found in {shown}")
    return sorted(found)


def read_text(path: Path) -> str:
    """Decode a file as UTF-8, refusing empty, binary and non-UTF-8 files."""
    data = path.read_bytes()
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise UnreadableFile("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 (byte {exc.start}); convert it, e.g. iconv -t UTF-8"
        ) from None
    if not text.strip():
        raise UnreadableFile("empty file")
    return text
