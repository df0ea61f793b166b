"""What --help, -h and --version teach, through the installed command."""

from __future__ import annotations

from pathlib import Path

import pytest

import semsearch

from ..commands import run_cli

COMMANDS = [
    [],
    ["ask"],
    ["index"],
    ["remove"],
    ["check"],
    ["info"],
    ["eval"],
    ["models"],
    ["serve"],
    ["mcp"],
    ["report"],
    ["report", "queries"],
    ["report", "duplicates"],
    ["report", "compare"],
]


def test_version_is_the_package_version(tmp_path: Path) -> None:
    done = run_cli("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"semsearch {semsearch.__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "semsearch")
def test_every_help_shows_flags_as_flags_and_h_is_help(command: list[str], tmp_path: Path) -> None:
    long = run_cli(*command, "--help", cwd=tmp_path)
    short = run_cli(*command, "-h", cwd=tmp_path)
    assert long.returncode == short.returncode == 0, long.stderr
    assert short.stdout == long.stdout
    assert "<bool>" not in long.stdout and "Traceback" not in long.stderr


def test_choices_are_listed(tmp_path: Path) -> None:
    assert "hybrid|dense|lexical" in run_cli("ask", "-h", cwd=tmp_path).stdout
    assert "auto|flat|hnsw|ivf" in run_cli("index", "-h", cwd=tmp_path).stdout
