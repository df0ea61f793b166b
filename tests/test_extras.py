"""A missing extra names the install command that works for this install: the
checkout's path from a clone, the package name from a package index."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODE = "from semsearch.extras import install_command; print(install_command('serve'))"


def _command(env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, cwd=cwd, check=True
    )
    return result.stdout.strip()


def test_from_a_checkout_the_command_names_the_checkout(tmp_path: Path) -> None:
    assert _command(cwd=tmp_path) == f'pip install -e "{REPO}[serve]"'


def test_from_a_package_index_the_command_names_the_package(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "semsearch", site / "semsearch")
    info = site / "semsearch-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: semsearch\nVersion: 9.9\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    assert _command(env, cwd=tmp_path) == 'pip install "semsearch[serve]"'


def test_index_help_shows_the_extra_in_brackets() -> None:
    env = {**os.environ, "COLUMNS": "400"}
    result = subprocess.run(
        [sys.executable, "-m", "semsearch", "index", "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0
    assert "[milvus]" in result.stdout
