"""The reports' default cutoffs, per encoder: similarity scales differ between models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..index import Index


@dataclass(frozen=True)
class Thresholds:
    """Default cutoffs of the reports, on one encoder's scale of similarity."""

    duplicate: float
    """Cosine at or above which two passages count as near-duplicates."""
    align: float
    """Cosine at or above which two mutually closest passages of two documents align."""


THRESHOLDS = {
    "e5-small-q4": Thresholds(duplicate=0.955, align=0.90),
    "e5-small-q4+use-m3": Thresholds(duplicate=0.86, align=0.70),
}
"""Measured on the seeds' passages with 10-20% of their words deleted, against
the closest two distinct passages (e5 similarities are compressed: unrelated
news paragraphs sit around 0.86, and the closest distinct pair at 0.934, while
95% of the edited copies stay at 0.960 or more). The set's scale is wider
(unrelated 0.55, closest distinct 0.78, edited copies 0.887 at the 5th
percentile) and its alignment cutoff the e5 one moved along it; on XQuAD's
Arabic-English paragraph pairs, 95% of translations reach 0.72 while 99% of
other pairs stay below 0.63. Other encoders get e5's values: pass thresholds
that suit them."""


def thresholds(index: Index) -> Thresholds:
    """The report cutoffs for ``index``'s encoder."""
    return THRESHOLDS.get(index.encoder.name, THRESHOLDS["e5-small-q4"])
