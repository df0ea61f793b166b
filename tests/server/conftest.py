"""What the server tests share: an index of the seeds to serve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from semsearch import Index

from ..conftest import SEEDS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds, and a folder a writable server may add to."""
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(SEEDS, root / "seeds")
    (root / "inbox").mkdir()
    Index.create([root / "seeds"], root / "index").close()
    return root
