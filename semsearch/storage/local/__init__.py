"""The default backend: the index folder itself. SQLite holds documents, passages,
their places, vectors, words and names (:mod:`.database`); FAISS files or an
exact numpy scan find candidate vectors (:mod:`.vectors`); each write makes a new
generation and swaps it in whole (:mod:`.backend`), readers hold a snapshot of
one (:mod:`.snapshot`), and :mod:`.integrity` checks the parts agree."""

from __future__ import annotations

from pathlib import Path

from .backend import LocalBackend


def open_backend(directory: Path, address: str) -> LocalBackend:
    return LocalBackend(directory)


def canonical(address: str) -> str:
    return address


__all__ = ["LocalBackend", "canonical", "open_backend"]
