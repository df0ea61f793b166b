"""File formats: which reader reads a file, and reading it.

A new format is one module here holding a :class:`~.base.Reader`, and one line
in :data:`READERS`. A folder walk reads the suffixes the readers name; a file
named on the command line is read whatever its suffix (as plain text when no
reader claims it), since the user asked for it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UnreadableFileError
from .base import Document, Reader
from .plain import PlainText

READERS: tuple[Reader, ...] = (PlainText(),)
"""Every reader, the first whose suffixes hold a file's suffix reading it."""
FALLBACK: Reader = READERS[0]
"""What reads a file named explicitly whose suffix no reader claims."""

_BY_SUFFIX = {suffix: reader for reader in reversed(READERS) for suffix in reader.suffixes}
SUFFIXES = frozenset(_BY_SUFFIX)
"""The suffixes a folder walk reads."""
BINARY_SUFFIXES = (
    frozenset(
        {".pdf", ".doc", ".docx", ".odt", ".rtf", ".epub", ".ppt", ".pptx", ".odp"}
        | {".xls", ".xlsx", ".ods"}
    )
    - SUFFIXES
)
"""Document formats that are not text and that no reader reads."""
UNREAD_SUFFIXES = BINARY_SUFFIXES | ({".html", ".htm", ".xhtml", ".rst", ".org", ".tex"} - SUFFIXES)
"""Document formats a folder walk finds but does not read (yet): counted, said once."""
_BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"{\\rtf")


def reader_for(path: Path) -> Reader:
    return _BY_SUFFIX.get(path.suffix.lower(), FALLBACK)


def read_document(path: Path, max_size: int | None = None) -> Document:
    """Read ``path`` with its format's reader, refusing empty files, binary files
    no reader takes, and (reading no more than that) files over ``max_size`` bytes."""
    with path.open("rb") as f:
        data = f.read() if max_size is None else f.read(max_size + 1)
    if max_size is not None and len(data) > max_size:
        raise UnreadableFileError(too_large(path.stat().st_size, max_size))
    suffix = path.suffix.lower()
    reader = reader_for(path)
    # plain text would read anything: a binary document is refused before it is
    if isinstance(reader, PlainText) and (
        suffix in BINARY_SUFFIXES or data.startswith(_BINARY_MAGIC)
    ):
        kind = f"a {suffix} file" if suffix in BINARY_SUFFIXES else "a binary document"
        raise UnreadableFileError(f"{kind}, a format semsearch does not read; convert it to text")
    document = reader.read(data, path)
    if not document.text.strip():
        raise UnreadableFileError("empty file")
    return document


def too_large(size: int, limit: int) -> str:
    return f"{_bytes(size)}, over the {_bytes(limit)} limit (see --max-file-size)"


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 1000)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} bytes"


def read_text(path: Path, max_size: int | None = None) -> str:
    """The text of ``path`` (see :func:`read_document`)."""
    return read_document(path, max_size).text


__all__ = [
    "READERS",
    "SUFFIXES",
    "UNREAD_SUFFIXES",
    "Document",
    "Reader",
    "read_document",
    "read_text",
    "reader_for",
    "too_large",
]
