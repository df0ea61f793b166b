"""`semsearch ask` answers without loading the typer CLI: its cold start is most of
what a user waits for (docs/benchmarks.md)."""

import subprocess
import sys
from pathlib import Path

from semsearch import Index

from ..commands import clean_env

CLI_ONLY = ("typer", "click", "pydantic", "rich")


def _imported(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "semsearch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_ask_loads_no_cli_library(seeds_index: Index, tmp_path: Path) -> None:
    index = str(seeds_index.directory)
    quick = _imported(["ask", "Qaim", "--index", index, "--no-refresh", "-q"], tmp_path)
    assert "semsearch" in quick and "numpy" in quick
    assert not quick & set(CLI_ONLY)
    # what the quick path avoids is what any other command loads
    assert "typer" in _imported(["info", "--index", index], tmp_path)
