"""Two documents side by side: which paragraph of one says what a paragraph of the other says."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..index import Index
from ..records import Location
from ..text.chunking import ChunkingConfig, chunk, collapse_spaces
from ..text.sources import read_input
from .cutoffs import thresholds


@dataclass(frozen=True)
class Section:
    """A passage of a compared document: where it stands, and its text."""

    place: Location
    text: str


@dataclass(frozen=True)
class Alignment:
    """A passage of A and the passage of B that says the same, if any."""

    a: Section
    b: Section | None
    score: float


@dataclass(frozen=True)
class Comparison:
    """Which passage of A says what passage of B says, in A's order."""

    a: str
    b: str
    threshold: float
    aligned: tuple[Alignment, ...]
    unmatched_b: tuple[Section, ...]


def compare(
    index: Index, file_a: str | Path, file_b: str | Path, threshold: float | None = None
) -> Comparison:
    """Align two documents' passages one to one, best matches at or above ``threshold`` first.

    Indexed documents (unchanged since indexing) use their stored vectors;
    others are chunked and embedded with the index's encoder. ``threshold``
    defaults to the encoder's (see THRESHOLDS).
    """
    threshold = thresholds(index).align if threshold is None else threshold
    sections_a, vectors_a = _sections(index, Path(file_a))
    sections_b, vectors_b = _sections(index, Path(file_b))
    scores = vectors_a @ vectors_b.T
    partner = _match(scores, threshold)
    aligned = tuple(
        Alignment(section, sections_b[partner[i]], float(scores[i, partner[i]]))
        if i in partner
        else Alignment(section, None, float(scores[i].max()))
        for i, section in enumerate(sections_a)
    )
    used = set(partner.values())
    unmatched = tuple(s for j, s in enumerate(sections_b) if j not in used)
    return Comparison(str(file_a), str(file_b), threshold, aligned, unmatched)


def _match(scores: np.ndarray, threshold: float) -> dict[int, int]:
    """One-to-one greedy matching, best scores first; ties go to the pair whose
    relative positions in the two documents are closest, so repeated paragraphs
    pair up in order."""
    rows, cols = np.nonzero(scores >= threshold)
    drift = np.abs(rows / max(len(scores), 1) - cols / max(scores.shape[1], 1))
    order = np.lexsort((drift, -np.round(scores[rows, cols], 5)))
    partner: dict[int, int] = {}
    taken: set[int] = set()
    for i, j in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if i not in partner and j not in taken:
            partner[i] = j
            taken.add(j)
    return partner


def _sections(index: Index, path: Path) -> tuple[list[Section], np.ndarray]:
    text = read_input(path, "file")
    stored = index.document(path)
    if stored:
        known = {
            p.passage_id: collapse_spaces(p.text) for p in index.passages(pid for pid, _ in stored)
        }
        if all(collapse_spaces(text[loc.start : loc.end]) == known[pid] for pid, loc in stored):
            sections = [
                Section(Location(str(path), loc.start, loc.end), text[loc.start : loc.end])
                for _, loc in stored
            ]
            return sections, index.vectors([pid for pid, _ in stored])
    spans = chunk(text, ChunkingConfig(**index.manifest.chunking))
    if not spans:
        raise InputError(f"{path} has no passages left after removing page chrome")
    sections = [Section(Location(str(path), s, e), text[s:e]) for s, e in spans]
    return sections, index.encoder.encode_passages([collapse_spaces(s.text) for s in sections])
