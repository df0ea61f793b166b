"""The records semsearch stores and returns: small frozen dataclasses, the same
for the CLI, the library and every storage backend.

One idea, one type: :class:`Location` is the only "place in a file".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Location:
    """A place a passage's text stands: ``read_text(source)[start:end]``."""

    source: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """One search result.

    ``source``/``start``/``end`` are the passage's first place; a paragraph
    that a scraped page repeats is stored and scored once, and
    ``occurrences`` lists every place it stands (the first included).
    ``highlight`` is (start, end) in ``text`` of the sentence closest to the
    question (the whole text for a one-sentence passage).
    """

    rank: int
    score: float
    text: str
    source: str
    passage_id: int
    start: int
    end: int
    occurrences: tuple[Location, ...]
    highlight: tuple[int, int]

    @property
    def highlighted(self) -> str:
        return self.text[self.highlight[0] : self.highlight[1]]

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        """JSON-ready form; paths shown relative to ``relative_to`` when inside it."""
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "text": self.text,
            "source": display_path(self.source, relative_to),
            "passage_id": self.passage_id,
            "start": self.start,
            "end": self.end,
            "highlight": {
                "start": self.highlight[0],
                "end": self.highlight[1],
                "text": self.highlighted,
            },
            "occurrences": [
                {"source": display_path(o.source, relative_to), "start": o.start, "end": o.end}
                for o in self.occurrences
            ],
        }


@dataclass(frozen=True)
class NewPassage:
    """A unique text to store, with everything a question may find it by: its
    vector, its sentences' vectors, its words (BM25) and its names. Computed once,
    above the backends (:mod:`semsearch.indexing.signals`), so that a backend only
    stores what it is given."""

    sha256: str
    text: str
    vector: np.ndarray
    sentences: tuple[tuple[int, int, np.ndarray], ...]
    """(start, end, vector) of its sentences, offsets into ``text``."""
    words: tuple[str, ...]
    """Its normalised, stemmed words, in order."""
    names: frozenset[tuple[str, int]]
    """Its (consonant skeleton, vowel mask) name and number terms."""


@dataclass(frozen=True)
class DocumentRecord:
    """What is known of an indexed file, to tell whether it changed."""

    id: int
    path: str
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Passage:
    """A stored passage: its text once, and every place it stands."""

    passage_id: int
    text: str
    occurrences: tuple[Location, ...]


def display_path(path: str, relative_to: Path | None) -> str:
    """``path`` relative to ``relative_to`` if it lies inside it, else unchanged."""
    if relative_to is None:
        return path
    try:
        return (
            os.path.relpath(path, relative_to) if Path(path).is_relative_to(relative_to) else path
        )
    except ValueError:
        return path


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why (shown to the user as a warning)."""

    path: Path
    reason: str


@dataclass
class Changes:
    """What a write did, for the user's summary line."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
