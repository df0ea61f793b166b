"""What a passage is found by besides its vector, computed once for every backend.

A new ranking signal is computed here and carried by :class:`~semsearch.records.NewPassage`;
each backend stores what it is handed. (The local database still derives a passage's
name terms from its text once more to delete them: its terms table is keyed by name.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..records import NewPassage
from ..text.lexical import terms
from ..text.names import passage_terms


def new_passage(
    sha256: str, text: str, vector: np.ndarray, sentences: Sequence[tuple[int, int, np.ndarray]]
) -> NewPassage:
    """The record of a unique text to store: its words and names worked out from ``text``."""
    return NewPassage(
        sha256, text, vector, tuple(sentences), tuple(terms(text)), frozenset(passage_terms(text))
    )
