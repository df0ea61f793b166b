"""Cutting a document into passages worth embedding, with exact offsets.

A passage is always an exact slice ``text[start:end]`` of the document, so a
hit can be traced back to the file. Lines are the unit of scraped text (one
paragraph a line); junk lines are dropped, tiny fragments (headings, broken
lines) join their neighbour, and paragraphs longer than the model's window
are split at sentence boundaries with a small overlap.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ..errors import InputError
from .cleaning import boilerplate_reason, word_count
from .lexical import collapse_spaces

__all__ = ["ChunkingConfig", "chunk", "collapse_spaces", "sentences"]

_LINE = re.compile(r"[^\n]+")
# Split points, tried in order until every piece fits: after a sentence end
# (Latin and Arabic punctuation, closing quotes included), after a clause mark
# (Arabic comma and semicolon too), then at any space.
_SPLITS = (
    re.compile(r"[.!?؟؛…]+[\"'»”’)\]]*\s+"),
    re.compile(r"[،,;:]\s+"),
    re.compile(r"\s+"),
)
_SENTENCE_SPLIT = re.compile(_SPLITS[0].pattern + r"|\n+")
_LETTER = re.compile(r"[^\W\d_]")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_SENTENCE_END = re.compile(r"[.!?؟؛…:][\"'»”’)\]]*$")


@dataclass(frozen=True)
class ChunkingConfig:
    """Passage sizes in characters; the defaults suit multilingual-e5-small.

    ``max_chars`` keeps a passage well inside the model's 512-token window
    (Arabic runs about 3-4 characters a token); ``min_chars`` is the size
    under which a fragment joins its neighbour; ``min_words`` is the size
    under which a fragment that has no neighbour is dropped as junk.
    """

    max_chars: int = 1000
    min_chars: int = 80
    overlap_chars: int = 200
    min_words: int = 5

    def __post_init__(self) -> None:
        if self.max_chars < 50:
            raise InputError(f"max_chars must be at least 50, got {self.max_chars}")
        if not 0 <= self.min_chars < self.max_chars:
            raise InputError(
                f"min_chars must be between 0 and max_chars ({self.max_chars}), "
                f"got {self.min_chars}"
            )
        if not 0 <= self.overlap_chars < self.max_chars:
            raise InputError(
                f"overlap_chars must be between 0 and max_chars ({self.max_chars}), "
                f"got {self.overlap_chars}"
            )
        if self.min_words < 0:
            raise InputError(f"min_words must be 0 or more, got {self.min_words}")


def chunk(text: str, config: ChunkingConfig = ChunkingConfig()) -> list[tuple[int, int]]:
    """Cut ``text`` into passages: (start, end) offsets, ``text[start:end]`` each
    (see the module docstring); in a file, each is a :class:`~semsearch.records.Location`."""
    spans: list[tuple[int, int]] = []
    arabic = _is_arabic(text)
    for run in _runs(text):
        for start, end in _merge_fragments(text, run, config):
            if end - start < config.min_chars and not _worth_alone(text[start:end], arabic, config):
                continue
            spans.extend(_split_long(text, start, end, config))
    return spans


def sentences(text: str, limit: int = 300, min_words: int = 3) -> list[tuple[int, int]]:
    """(start, end) of the sentences of a passage, overlong ones cut at clause marks.

    Fragments of fewer than ``min_words`` words are left out: too short to
    carry a meaning of their own.
    """
    cuts = [m.end() for m in _SENTENCE_SPLIT.finditer(text) if m.end() < len(text)]
    bounds = [0, *cuts, len(text)]
    spans = [
        _trim(text, s, e)
        for a, b in itertools.pairwise(bounds)
        for s, e in _pieces(text, a, b, limit, 1)
    ]
    return [(s, e) for s, e in spans if word_count(text[s:e]) >= min_words]


def _runs(text: str) -> list[list[tuple[int, int]]]:
    """Kept lines as (start, end), grouped into runs that no dropped line interrupts.

    Fragments may merge only within a run, so a merged passage never spans
    junk and stays an exact slice of meaningful text.
    """
    runs: list[list[tuple[int, int]]] = [[]]
    for match in _LINE.finditer(text):
        start, end = _trim(text, match.start(), match.end())
        if start == end:
            continue
        if boilerplate_reason(text[start:end]):
            runs.append([])
        else:
            runs[-1].append((start, end))
    return [run for run in runs if run]


def _merge_fragments(
    text: str, run: list[tuple[int, int]], config: ChunkingConfig
) -> list[tuple[int, int]]:
    """Join lines shorter than ``min_chars`` to a neighbour in the same run.

    A fragment that ends a sentence joins the paragraph before it; a heading
    or a broken line joins the one after it. A line never joins an identical
    line (repeated titles stay separate, so deduplication can see them).
    """
    out: list[list[int]] = []
    carry: int | None = None
    for i, (start, end) in enumerate(run):
        if carry is not None:
            start, carry = carry, None
        if end - start >= config.min_chars:
            out.append([start, end])
            continue
        piece = collapse_spaces(text[start:end])
        prev_ok = bool(out) and collapse_spaces(text[out[-1][0] : out[-1][1]]) != piece
        next_ok = i + 1 < len(run) and collapse_spaces(text[run[i + 1][0] : run[i + 1][1]]) != piece
        if prev_ok and (_SENTENCE_END.search(piece) or not next_ok):
            out[-1][1] = end
        elif next_ok:
            carry = start
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def _is_arabic(text: str) -> bool:
    """Whether most letters of ``text`` are Arabic script."""
    letters = _LETTER.findall(text)
    return sum(1 for ch in letters if _ARABIC.match(ch)) * 2 > len(letters)


def _worth_alone(fragment: str, arabic_document: bool, config: ChunkingConfig) -> bool:
    """Whether a short fragment that joined no paragraph is content (a title).

    Too few words, or a script other than the document's (a language menu,
    English navigation on an Arabic page), marks it as page chrome.
    """
    return word_count(fragment) >= config.min_words and _is_arabic(fragment) == arabic_document


def _split_long(text: str, start: int, end: int, config: ChunkingConfig) -> list[tuple[int, int]]:
    """Pack sentence-sized pieces into passages of at most ``max_chars``, overlapping."""
    if end - start <= config.max_chars:
        return [(start, end)]
    pieces = _pieces(text, start, end, config.max_chars, 0)
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        j = i
        while j + 1 < len(pieces) and pieces[j + 1][1] - pieces[i][0] <= config.max_chars:
            j += 1
        chunks.append(_trim(text, pieces[i][0], pieces[j][1]))
        if j + 1 == len(pieces):
            break
        k = j + 1  # step back over trailing pieces that fit in the overlap
        while k - 1 > i and pieces[j][1] - pieces[k - 1][0] <= config.overlap_chars:
            k -= 1
        i = k
    return chunks


def _pieces(text: str, start: int, end: int, limit: int, level: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into pieces of at most ``limit`` characters.

    Tries sentence ends first, then clause marks, then spaces; cuts hard only
    when a single word is longer than the limit.
    """
    if end - start <= limit:
        return [(start, end)]
    if level == len(_SPLITS):
        return [(s, min(s + limit, end)) for s in range(start, end, limit)]
    cuts = [m.end() for m in _SPLITS[level].finditer(text, start, end) if m.end() < end]
    bounds = [start, *cuts, end]
    out: list[tuple[int, int]] = []
    for s, e in itertools.pairwise(bounds):
        out.extend(_pieces(text, s, e, limit, level + 1))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink (start, end) past surrounding white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
