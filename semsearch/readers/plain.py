"""Plain text and Markdown: UTF-8, a leading BOM removed, line endings kept as they are."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnreadableFileError
from .base import Document

_SNIFF_BYTES = 8192


class PlainText:
    suffixes = frozenset({".txt", ".md", ".markdown", ".text"})

    def read(self, data: bytes, path: Path) -> Document:
        if b"\x00" in data[:_SNIFF_BYTES]:
            raise UnreadableFileError("binary file (contains NUL bytes)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(
                f"not valid UTF-8 (byte {exc.start}); convert it, e.g. iconv -t UTF-8"
            ) from None
        return Document(text)
