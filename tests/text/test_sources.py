from pathlib import Path

import pytest

from semsearch.errors import InputError, UnreadableFileError
from semsearch.readers import read_text
from semsearch.text.sources import discover, file_states, is_under

from ..conftest import SEEDS, write


def test_discover_walks_folders_for_text_files_only(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "x")
    write(tmp_path / "sub" / "b.md", "x")
    write(tmp_path / "sub" / "c.html", "x")
    write(tmp_path / ".hidden" / "d.txt", "x")
    found = discover([tmp_path])
    assert [p.name for p in found] == ["a.txt", "b.md"]


def test_discover_resolves_linked_files_and_does_not_enter_linked_folders(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "far.txt", "x")
    corpus = tmp_path / "corpus"
    write(corpus / "sub" / "near.txt", "x")
    linked = write(corpus / "sub" / "deep" / "linked.md", "x")
    (corpus / "link.txt").symlink_to(outside)  # leads out of the corpus: left out
    (corpus / "inner.md").symlink_to(linked)
    (corpus / "sub" / "loop").symlink_to(corpus, target_is_directory=True)
    found = discover([corpus])
    assert found == [linked.resolve(), (corpus / "sub" / "near.txt").resolve()]


def test_discover_takes_an_explicit_file_whatever_its_suffix(tmp_path: Path) -> None:
    f = write(tmp_path / "notes.log", "hello")
    assert discover([f]) == [f.resolve()]


def test_discover_finds_the_five_seeds() -> None:
    assert len(discover([SEEDS])) == 5


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        discover([tmp_path / "nope"])


def test_empty_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no text files"):
        discover([tmp_path])


def test_read_text_strips_bom_and_keeps_crlf(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes("\ufeffسطر أول\r\nسطر ثان\r\n".encode())
    assert read_text(f) == "سطر أول\r\nسطر ثان\r\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (b"abc\x00\x01\x02def", "binary"),
        ("نص عربي".encode("cp1256"), "not valid UTF-8"),
    ],
)
def test_read_text_refuses_bad_files(tmp_path: Path, data: bytes, reason: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_bytes(data)
    with pytest.raises(UnreadableFileError, match=reason):
        read_text(f)


def test_is_under_compares_whole_path_components() -> None:
    assert is_under("/news/ar/a.txt", ["/news/ar"]) and is_under("/news/ar", ["/news/ar"])
    assert is_under("/news/ar/a.txt", ["/news/ar/"]) and is_under("/x/a.txt", ["/"])
    assert not is_under("/news/arabic/a.txt", ["/news/ar"])


def test_file_states_match_what_discover_finds(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "abc")
    write(tmp_path / "sub" / "b.md", "x")
    write(tmp_path / ".hidden" / "c.txt", "x")
    states = file_states([tmp_path])
    assert sorted(states) == [str(p) for p in discover([tmp_path])]
    assert states[str((tmp_path / "a.txt").resolve())][0] == 3
