"""schemathesis, run as a user would, against a real ``semsearch serve``: every
response must be one the schema declares, with the body it declares, and every
request the schema allows must be answered as allowed (``--checks all``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import SEEDS, write
from ..servers import Server

pytestmark = pytest.mark.slow
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def test_the_schema_is_true_of_every_answer(tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    inbox = tmp_path / "inbox"
    write(inbox / "note.txt", "The river gauge at Mosul read 4.2 metres on Tuesday.\n")
    built = subprocess.run(
        [
            Path(sys.executable).parent / "semsearch",
            "index",
            tmp_path / "seeds",
            "--index",
            tmp_path / "index",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    s = Server(tmp_path / "index", "--allow-writes", "--root", str(inbox), cwd=tmp_path)
    try:
        run = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{s.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "60",
                "--seed",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    finally:
        assert s.stop() == 0
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Tested: 8" in run.stdout  # every route was tried
