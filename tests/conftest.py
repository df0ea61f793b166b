"""Shared fixtures: the real seeds, one real index of them, a fake encoder for plumbing."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from semsearch import Index

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
QAIM = "وتسلمت القوات الأمنية العراقية قاعدة القائم العسكرية في محافظة الأنبار"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # else a closed network refuses its many connections
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""How the tests start the system's Chromium, headless, here and in CI."""


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of seeds/, so tests may not touch the repo's files."""
    dest = tmp_path_factory.mktemp("corpus") / "seeds"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture(scope="session")
def seeds_index(seeds_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Index:
    """The seeds indexed once with the real bundled model (read-only for tests)."""
    return Index.create([seeds_copy], tmp_path_factory.mktemp("idx") / "index")


class FakeEncoder:
    """Deterministic bag-of-words vectors: fast, for tests of plumbing only."""

    name = "fake-bow"
    dim = 64

    def __init__(self) -> None:
        self.passage_calls: list[int] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in text.split():
            v[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.passage_calls.append(len(texts))
        return np.stack([self._vec(t) for t in texts])

    def spec(self) -> dict:
        return {"name": self.name, "backend": "test", "dim": self.dim}


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
