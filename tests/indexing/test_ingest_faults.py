"""What a folder, a file or its name can do to `semsearch index` (issue 22): links
out of the folder, hidden files, emptied or broken files, names that are not
UTF-8, words no name has, files too large and formats not read. Through the CLI
as a subprocess, and a real `semsearch serve` for the link fence."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import httpx
import pytest

from semsearch import Index
from semsearch.readers import read_text
from semsearch.text.sources import Rules

from ..commands import one_line, run_cli
from ..conftest import SEEDS, write
from ..servers import Server

MODEL = ("--model", "e5-small-q4")
SECRET = "the launch code of the vault is zebra-tango-nine"


def _index(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, dict]:
    result = run_cli("index", *args, "--index", "idx", "--json", *MODEL, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads(result.stdout)


def _names(info: dict) -> set[str]:
    """The names of the files the index at ``idx`` (beside the sources) has passages of."""
    with Index.open(Path(info["sources"][0]).parent / "idx") as idx:
        return {Path(o.source).name for p in idx.passages() for o in p.occurrences}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], tmp_path / "seed.txt")
    (tmp_path / "docs").mkdir()
    write(tmp_path / "docs" / "a.txt", "Baghdad hosted talks on the withdrawal of forces.\n")
    write(tmp_path / "secret.txt", SECRET)
    return tmp_path


def test_a_link_out_of_the_folder_is_skipped_unless_asked(docs: Path) -> None:
    (docs / "docs" / "link.txt").symlink_to(docs / "secret.txt")
    result, info = _index("docs", cwd=docs)
    assert _names(info) == {"a.txt"}
    assert "docs/link.txt: a link that leads out of the indexed folders" in result.stderr
    _, info = _index("docs", "--follow-links", cwd=docs)
    assert _names(info) == {"a.txt", "secret.txt"}


def test_a_linked_folder_is_not_entered_and_said(docs: Path) -> None:
    (docs / "vault").mkdir()
    (docs / "secret.txt").rename(docs / "vault" / "secret.txt")
    (docs / "docs" / "more").symlink_to(docs / "vault")
    result, info = _index("docs", cwd=docs)
    assert _names(info) == {"a.txt"}
    assert "docs/more: a link to a folder: not entered" in result.stderr


@pytest.mark.parametrize(
    ("command", "named", "said"),
    [
        ("index", "~nosuchuser/x", "~nosuchuser/x: no such user's home folder"),
        ("remove", "~nosuchuser/x", "~nosuchuser/x: no such user's home folder"),
        ("index", "loop", "cannot read loop: a link that leads in a loop"),
        ("remove", "loop", "cannot read loop: a link that leads in a loop"),
        ("index", "pipe", "pipe is neither a file nor a folder"),
    ],
)
def test_a_path_that_cannot_be_walked_is_one_line(
    docs: Path, command: str, named: str, said: str
) -> None:
    _index("docs", cwd=docs)
    (docs / "loop").symlink_to(docs / "loop")
    os.mkfifo(docs / "pipe")
    model = MODEL if command == "index" else ()
    result = run_cli(command, named, "--index", "idx", *model, cwd=docs, timeout=60)
    assert one_line(result).startswith(f"error: {said}")
    assert _names(json.loads(run_cli("info", "--index", "idx", "--json", cwd=docs).stdout)) == {
        "a.txt"
    }


def test_a_link_inside_the_folder_is_followed(docs: Path) -> None:
    write(docs / "docs" / "sub" / "b.txt", "Mosul and Erbil agreed on the road.\n")
    (docs / "docs" / "link.txt").symlink_to(docs / "docs" / "sub" / "b.txt")
    result, info = _index("docs", cwd=docs)
    assert _names(info) == {"a.txt", "b.txt"}
    assert "warning" not in result.stderr


def test_hidden_files_named_explicitly_are_skipped_unless_asked(docs: Path) -> None:
    write(docs / "docs" / ".env", SECRET)
    write(docs / ".git" / "config", SECRET)
    write(docs / "docs" / ".private" / "c.txt", SECRET)
    named = ("docs", "docs/.env", ".git/config", "docs/.private/c.txt")
    result, info = _index(*named, cwd=docs)
    assert _names(info) == {"a.txt"}
    assert result.stderr.count("hidden; name it with --hidden") == 3
    assert not any(".env" in s or ".git" in s for s in info["sources"])
    # a refresh before a question does not take them in either
    asked = run_cli("ask", "launch code vault", "--index", "idx", "--json", cwd=docs)
    assert asked.returncode == 0, asked.stderr
    assert SECRET not in asked.stdout
    _, info = _index(*named, "--hidden", cwd=docs)
    assert _names(info) == {"a.txt", ".env", "config", "c.txt"}


def test_a_file_emptied_or_broken_leaves_the_index(docs: Path) -> None:
    write(docs / "docs" / "b.txt", "Mosul and Erbil agreed on the road to Dohuk.\n")
    _index("docs", cwd=docs)
    (docs / "docs" / "a.txt").write_bytes(b"")
    (docs / "docs" / "b.txt").write_bytes(b"Mosul \xff\xfe and Erbil\n")
    result, info = _index("docs", "--prune", cwd=docs)
    assert info["changes"]["removed"] == 2 and info["documents"] == 0
    assert "a.txt: empty file" in result.stderr
    assert "b.txt: not valid UTF-8" in result.stderr
    check = run_cli("check", "--index", "idx", cwd=docs)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "changed on disk" not in check.stdout
    asked = run_cli("ask", "Baghdad withdrawal", "--index", "idx", "--json", cwd=docs)
    assert "a.txt" not in asked.stdout and "b.txt" not in asked.stdout
    with Index.open(docs / "idx") as idx:  # what GET /documents lists and DELETE takes
        assert idx.documents() == []


def test_a_file_name_that_is_not_utf8_is_skipped_and_said(docs: Path) -> None:
    bad = os.fsencode(docs / "docs") + b"/\xff\xfe.txt"
    with open(bad, "wb") as f:
        f.write(SECRET.encode())
    result, info = _index("docs", cwd=docs)
    assert _names(info) == {"a.txt"}
    assert "docs/\\xff\\xfe.txt: its name is not valid UTF-8" in result.stderr
    asked = run_cli("ask", "Baghdad withdrawal", "--index", "idx", cwd=docs)
    assert asked.returncode == 0 and "Traceback" not in asked.stderr, asked.stderr


@pytest.mark.slow
def test_a_long_run_of_consonants_is_indexed(docs: Path) -> None:
    uri = "data:image/png;base64," + "iVBORwKGgoAAAANSUhEUgAAAAEAAAAB" * 240  # letters only
    write(docs / "docs" / "page.md", f"A news page.\n\n![logo]({uri})\n\nBaghdad talks.\n")
    _, info = _index("docs", cwd=docs)
    assert _names(info) == {"a.txt", "page.md"}


def test_a_file_over_the_size_limit_is_skipped_with_one_line(docs: Path) -> None:
    write(docs / "docs" / "big.txt", "Basra port news. " * 100)  # 1,700 bytes
    result, info = _index("docs", "--max-file-size", "1k", cwd=docs)
    assert _names(info) == {"a.txt"}, result.stderr
    lines = [line for line in result.stderr.splitlines() if "big.txt" in line]
    assert len(lines) == 1 and "over the" in lines[0] and "--max-file-size" in lines[0]
    bad = run_cli("index", "docs", "--index", "idx", "--max-file-size", "lots", cwd=docs)
    assert bad.returncode != 0 and "--max-file-size 'lots'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_reading_stops_at_the_limit(tmp_path: Path) -> None:
    """A file that grows past the limit after it was listed is not read whole."""
    big = write(tmp_path / "big.txt", "x" * 3_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match="over the"):
            read_text(big, 100_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_formats_not_read_are_counted_once_per_walk(docs: Path) -> None:
    for name in ("a.pdf", "b.pdf", "c.pdf", "d.html", "e.html", "f.docx"):
        (docs / "docs" / name).write_bytes(b"%PDF-1.4 \xe2\x28\xa1")
    result, _ = _index("docs", cwd=docs)
    lines = [line for line in result.stderr.splitlines() if "not read yet" in line]
    assert len(lines) == 1, result.stderr
    assert "3 .pdf, 2 .html, 1 .docx files" in lines[0]


def test_a_binary_document_named_explicitly_gets_no_iconv_hint(docs: Path) -> None:
    pdf = docs / "docs" / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n\xe2\x28\xa1 stream")
    result = run_cli("index", "docs/report.pdf", "docs", "--index", "idx", *MODEL, cwd=docs)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if "report.pdf" in x)
    assert "a .pdf file" in line and "iconv" not in line


def test_the_fence_is_the_named_paths_by_default(tmp_path: Path, fake_encoder: object) -> None:
    """The library's default is the safe one too: links stay inside what is named,
    or inside ``within`` (a server's roots)."""
    write(tmp_path / "other" / "b.txt", "Mosul and Erbil agreed on the road to Dohuk.\n" * 3)
    write(tmp_path / "docs" / "a.txt", "Baghdad hosted talks on the withdrawal.\n" * 3)
    (tmp_path / "docs" / "link.txt").symlink_to(tmp_path / "other" / "b.txt")
    idx = Index.create([tmp_path / "docs"], tmp_path / "idx", encoder=fake_encoder)
    assert [Path(p).name for p in idx.documents()] == ["a.txt"]
    roots = (str(tmp_path / "docs"), str(tmp_path / "other"))
    idx.add([tmp_path / "docs"], rules=Rules(within=roots))
    assert [Path(p).name for p in idx.documents()] == ["a.txt", "b.txt"]
    idx.close()


def test_a_served_inbox_does_not_follow_links_out_of_its_roots(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    write(tmp_path / "seeds" / "a.txt", "Baghdad hosted talks on the withdrawal.\n")
    write(tmp_path / "secret.txt", SECRET)
    write(tmp_path / "inbox" / "note.txt", "Basra port reopened to ships.\n")
    write(tmp_path / "inbox" / ".env", SECRET)
    (tmp_path / "inbox" / "link.txt").symlink_to(tmp_path / "secret.txt")
    write(tmp_path / "inbox" / "huge.txt", "Mosul and Erbil agreed on the road.\n" * 100)
    Index.create([tmp_path / "seeds"], tmp_path / "index", encoder="e5-small-q4").close()
    server = Server(
        tmp_path / "index",
        *("--allow-writes", "--root", str(tmp_path / "inbox"), "--max-file-size", "3k"),
    )
    try:
        added = server.post("/index", {"paths": [str(tmp_path / "inbox")]})
        assert added.status_code == 200, added.text
        assert [Path(p).name for p in added.json()["added"]] == ["note.txt"]
        assert any(
            s["path"].endswith("huge.txt") and "over the 3.0 kB limit" in s["reason"]
            for s in added.json()["skipped"]
        ), added.json()
        hidden = server.post("/index", {"paths": [str(tmp_path / "inbox" / ".env")]})
        assert hidden.status_code in (200, 400, 403), hidden.text
        assert ".env" not in json.dumps(hidden.json().get("added", []))
        found = httpx.get(server.url + "/search", params={"q": "launch code vault zebra"})
        assert SECRET not in found.text
    finally:
        assert server.stop() == 0
