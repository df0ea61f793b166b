"""The seam file formats plug into: which reader reads a file, and what it gives back."""

from pathlib import Path

import pytest

from semsearch import readers
from semsearch.errors import UnreadableFileError
from semsearch.readers.plain import PlainText
from semsearch.text import sources


def test_a_folder_walk_reads_exactly_the_suffixes_the_readers_name(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", "c.markdown", "d.text", "e.html", "f.csv"):
        (tmp_path / name).write_text("Some words to read here.\n", encoding="utf-8")
    found = {p.name for p in sources.discover([tmp_path])}
    assert found == {"a.txt", "b.md", "c.markdown", "d.text"}
    assert {Path(n).suffix for n in found} <= readers.SUFFIXES
    assert all(readers.reader_for(tmp_path / n).__class__ is PlainText for n in found)


def test_a_document_is_the_text_offsets_point_into(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_bytes("\ufeff# Title\r\nوتسلمت القوات\r\n".encode())
    document = readers.read_document(path)
    assert document.text == "# Title\r\nوتسلمت القوات\r\n"  # BOM gone, line ends kept
    assert document.metadata == {}
    assert readers.read_text(path) == document.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("report.pdf", b"%PDF-1.7 binary", "a .pdf file, a format semsearch does not read"),
        ("renamed.txt", b"PK\x03\x04zip inside", "a binary document"),
        ("nul.txt", b"text\x00more", "binary file (contains NUL bytes)"),
        ("latin1.txt", "café".encode("latin-1"), "not valid UTF-8 (byte 3)"),
        ("empty.txt", b"  \n", "empty file"),
    ],
)
def test_what_no_reader_can_read_says_why(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFileError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        readers.read_document(path)


def test_a_file_over_the_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000, encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="over the 100 bytes limit"):
        readers.read_document(path, max_size=100)
