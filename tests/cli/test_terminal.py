"""What reaches a terminal: a document's text or a file's name cannot drive it.

A file holding ``ESC [2J`` (clear the screen), ``ESC ]52`` (write the clipboard),
BEL and a C1 CSI, under a name with an escape and a newline in it, is indexed and
searched through the real CLI, to a pipe and to a pseudo-terminal; the bytes
printed hold none of its controls, while ``--json`` gives back the exact text.
A question whose bytes are not UTF-8 gets one line, on the quick path and typer's.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..commands import clean_env, one_line, run_cli, semsearch_command

HOSTILE = "\x1b[2J\x1b]52;c;SGVsbG8=\x07\x9b31m"
TEXT = (
    f"The harbour of Aden reopened for cargo ships in March.{HOSTILE} Officials said the "
    "port would expand. More ships arrived.\n\n"
    "A second paragraph about fishing boats and the weather in the bay.\n"
)
NAME = "bad\x1b[31m\nname.txt"
QUESTION = "harbour of Aden cargo ships"
FOREIGN = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
"""Control bytes (C0 but tab and newline, DEL, C1 in UTF-8)."""
STYLE = re.compile(rb"\x1b\[[0-9;]*m")
"""The only escapes semsearch writes itself: bold and underline on a terminal."""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder ``work`` with ``docs/`` (the hostile file and a plain one) indexed."""
    work = tmp_path_factory.mktemp("terminal")
    (work / "docs").mkdir()
    (work / "docs" / NAME).write_text(TEXT, encoding="utf-8")
    (work / "docs" / "plain.txt").write_text("Mountains and rivers far away.\n", encoding="utf-8")
    built = run_cli("index", "docs", "--index", "idx", cwd=work)
    assert built.returncode == 0, built.stderr
    return work


def _ask_bytes(work: Path, *args: str) -> bytes:
    result = subprocess.run(
        [*semsearch_command(), "ask", QUESTION, "--index", "idx", "-k", "2", *args],
        cwd=work,
        capture_output=True,
        timeout=120,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ask_in_a_pipe_shows_controls_escaped(hostile: Path) -> None:
    out = _ask_bytes(hostile)
    assert not FOREIGN.search(out) and b"\x1b" not in out, out
    assert rb"March.\x1b[2J\x1b]52;c;SGVsbG8=\x07\x9b31m Officials" in out, out
    head = out.splitlines()[0]  # the name's newline does not fake a line
    assert rb"  docs/bad\x1b[31m\x0aname.txt:0-" in head, head


def test_ask_on_a_terminal_writes_only_its_own_styles(hostile: Path) -> None:
    """Through a pseudo-terminal, as a user sees it: bold and underline are the
    only escapes, and none of the document's reaches the screen."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*semsearch_command(), "ask", QUESTION, "--index", "idx", "-k", "2"],
            cwd=hostile,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        os.close(follower)
        out = b""
        while chunk := _read(leader):
            out += chunk
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        os.close(leader)
    assert STYLE.search(out), out  # it did see a terminal
    bare = STYLE.sub(b"", out).replace(b"\r\n", b"\n")
    assert not FOREIGN.search(bare) and b"\x1b" not in bare, out
    assert rb"\x1b]52;c;SGVsbG8=\x07" in bare, out


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal closed with the process
        return b""


def test_json_keeps_the_exact_text_and_name(hostile: Path) -> None:
    out = _ask_bytes(hostile, "--json")
    assert not FOREIGN.search(out) and b"\x1b" not in out, out  # escaped as JSON
    hit = json.loads(out)["hits"][0]
    assert hit["source"] == f"docs/{NAME}"
    assert HOSTILE in hit["text"] and TEXT.startswith(hit["text"])


def test_a_report_shows_document_text_escaped(hostile: Path) -> None:
    (hostile / "questions.txt").write_text(QUESTION + "\n", encoding="utf-8")
    result = subprocess.run(
        [*semsearch_command(), "report", "queries", "questions.txt", "--index", "idx", "-k", "1"],
        cwd=hostile,
        capture_output=True,
        timeout=120,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    assert not FOREIGN.search(result.stdout) and b"\x1b" not in result.stdout, result.stdout
    assert rb"\x1b[2J" in result.stdout, result.stdout


def test_a_question_that_is_not_utf8_gets_one_line(hostile: Path) -> None:
    """``semsearch ask $'\\xff\\xfe q'``: the quick path, then typer's (which the
    quick parser hands anything it cannot take)."""
    question = os.fsdecode(b"\xff\xfe q")
    quick = run_cli("ask", question, "--index", "idx", cwd=hostile)
    assert "not UTF-8" in one_line(quick), quick.stderr
    typer_cli = "import sys; from semsearch.cli.app import app; app(sys.argv[1:])"
    typer_path = subprocess.run(
        [sys.executable, "-c", typer_cli, "ask", question, "--index", "idx"],
        cwd=hostile,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert "not UTF-8" in one_line(typer_path), typer_path.stderr
