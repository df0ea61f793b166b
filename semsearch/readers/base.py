"""The seam every file format plugs into: a :class:`Reader` turns a file's bytes
into a :class:`Document`, the text that passages are cut from and that their
offsets point into, with what the file says about itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Document:
    """A file as semsearch reads it. Offsets stored in the index are character
    offsets into ``text``, so ``read_document(path).text[start:end]`` is exactly a
    hit's text: a reader must give the same text for the same bytes."""

    text: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    """What the file says about itself (title, date, site, ...), where it says it."""


class Reader(Protocol):
    """One file format."""

    suffixes: frozenset[str]
    """The suffixes (lower case, with the dot) a folder walk reads with this reader."""

    def read(self, data: bytes, path: Path) -> Document:
        """The document in ``data`` (the whole file), or
        :class:`~semsearch.errors.UnreadableFileError` saying why it cannot be read."""
        ...
