"""Batch similarity reports: many questions at once, repeated passages, two documents side by side.

Each function returns typed results a program can use directly;
:mod:`semsearch.reports.render` turns them into CSV, JSON or a self-contained HTML page.
Everything works from the stored vectors: nothing is re-embedded except the
questions (one encoder call) and documents that are not in the index.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..index import Index
from ..records import Hit, Location, Passage
from ..search.pipeline import check_query
from ..text.chunking import ChunkingConfig, chunk, collapse_spaces
from ..text.sources import read_input


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


NEIGHBOURS = 256
"""Neighbours per passage used for the document similarity matrix."""

Stage = Callable[[str], None]
"""Called with a short description as each stage of a report starts."""


# -- many questions ---------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    question: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class QueryReport:
    """The answers to a list of questions, in the order given."""

    k: int
    results: tuple[QueryResult, ...]


def read_questions(path: str | Path) -> list[str]:
    """One question a line, or a CSV/TSV file with a ``question`` column."""
    path = Path(path)
    text = read_input(path, "questions file")
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = csv.DictReader(
            text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","
        )
        if "question" not in (rows.fieldnames or []):
            columns = ", ".join(rows.fieldnames or []) or "none"
            raise InputError(f"{path} has no 'question' column (columns: {columns})")
        questions = [(row["question"] or "").strip() for row in rows]
    else:
        questions = [line.strip() for line in text.splitlines()]
    questions = [q for q in questions if q and not q.startswith("#")]
    if not questions:
        raise InputError(f"no questions in {path}: write one question a line")
    return questions


def search_many(index: Index, questions: Sequence[str], k: int = 5) -> QueryReport:
    """Answer every question with one encoder call and one FAISS call."""
    questions = list(questions)
    check_query(questions, k)
    hits = index.search_many(questions, k)
    return QueryReport(
        k, tuple(QueryResult(q, tuple(h)) for q, h in zip(questions, hits, strict=True))
    )


# -- repeated passages -------------------------------------------------------------


@dataclass(frozen=True)
class DuplicatePair:
    """Two different passages whose vectors are at least the threshold apart."""

    a: int
    b: int
    score: float


@dataclass(frozen=True)
class Cluster:
    """Passages that repeat each other, directly or through a chain of pairs.

    A passage whose exact text stands in several places is a cluster on its own.
    """

    passages: tuple[int, ...]
    places: int
    documents: tuple[str, ...]


@dataclass(frozen=True)
class DuplicateReport:
    """Near-duplicate passages and how much the documents repeat each other.

    ``coverage[a][b]``: share of document a's passages that have a close match
    (an exact repeat or a pair above the threshold) in document b; read a row
    as "how much of a is said again in b". Not symmetric. The diagonal is the
    share of a's passages repeated within a itself.

    ``similarity[a][b]``: mean over a's passages of the best cosine to any
    passage of b, averaged with the same from b to a: symmetric, diagonal 1.
    Best matches come from each passage's nearest NEIGHBOURS; where b has none
    among them, the farthest neighbour's score stands in (an upper bound).
    """

    threshold: float
    documents: tuple[str, ...]
    passages: dict[int, Passage]
    pairs: tuple[DuplicatePair, ...]
    clusters: tuple[Cluster, ...]
    coverage: tuple[tuple[float, ...], ...]
    similarity: tuple[tuple[float, ...], ...]


def near_duplicates(
    index: Index, threshold: float | None = None, stage: Stage | None = None
) -> DuplicateReport:
    """Find repeated passages within and across documents from the stored vectors.

    ``threshold`` defaults to the encoder's (see THRESHOLDS).
    """
    threshold = thresholds(index).duplicate if threshold is None else threshold
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1], got {threshold}")
    _stage(stage, "reading passages")
    passages = index.passages()
    if not passages:
        raise InputError("the index holds no passages")
    ids = np.array([p.passage_id for p in passages], dtype=np.int64)
    documents = tuple(sorted({o.source for p in passages for o in p.occurrences}))
    counts = _occurrence_counts(passages, documents)  # passages x documents
    member = counts > 0
    vectors = index.vectors(ids.tolist())

    _stage(stage, f"range search over {len(ids)} passages")
    lims, scores, found = index.within(vectors, threshold)
    rows = np.repeat(np.arange(len(ids)), np.diff(lims.astype(np.int64)))
    partner = np.searchsorted(ids, found)
    keep = found > ids[rows]  # each unordered pair once, no self-pairs
    pa, pb, ps = rows[keep], partner[keep], scores[keep]
    pairs = tuple(
        DuplicatePair(int(ids[a]), int(ids[b]), float(s))
        for a, b, s in sorted(zip(pa, pb, ps, strict=True), key=lambda t: -t[2])
    )

    matched = np.zeros_like(member)  # passage has a near-duplicate in document
    np.logical_or.at(matched, pa, member[pb])
    np.logical_or.at(matched, pb, member[pa])
    coverage = _coverage(member, matched, counts)

    _stage(stage, "nearest neighbours for the document matrix")
    k = min(len(ids), NEIGHBOURS)
    near_scores, near_ids = index.nearest(vectors, k)
    similarity = _similarity(member, near_scores, np.searchsorted(ids, near_ids))

    clusters = _clusters(passages, ids, pa, pb)
    return DuplicateReport(
        threshold,
        documents,
        {p.passage_id: p for p in passages},
        pairs,
        clusters,
        _rounded(coverage),
        _rounded(similarity),
    )


def _occurrence_counts(passages: list[Passage], documents: tuple[str, ...]) -> np.ndarray:
    column = {d: i for i, d in enumerate(documents)}
    counts = np.zeros((len(passages), len(documents)), dtype=np.int32)
    for row, p in enumerate(passages):
        for o in p.occurrences:
            counts[row, column[o.source]] += 1
    return counts


def _coverage(member: np.ndarray, matched: np.ndarray, counts: np.ndarray) -> np.ndarray:
    docs = member.shape[1]
    sizes = np.maximum(member.sum(0), 1)
    covered = np.zeros((docs, docs))
    for a in range(docs):
        mine = member[:, a]
        elsewhere = (matched | member) & mine[:, None]  # exact repeats count across documents
        elsewhere[:, a] = mine & (matched[:, a] | (counts[:, a] > 1))  # within a itself
        covered[a] = elsewhere.sum(0) / sizes[a]
    return covered


def _similarity(member: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    docs = member.shape[1]
    floor = scores[:, -1:]
    best = np.empty((member.shape[0], docs))
    for b in range(docs):
        in_b = member[rows, b]
        best[:, b] = np.where(in_b, scores, -np.inf).max(1)
        best[:, b] = np.where(np.isfinite(best[:, b]), best[:, b], floor[:, 0])
    sizes = np.maximum(member.sum(0), 1)
    directed = (member.T.astype(float) @ best) / sizes[:, None]
    similarity = (directed + directed.T) / 2
    np.fill_diagonal(similarity, 1.0)
    return similarity


def _clusters(
    passages: list[Passage], ids: np.ndarray, pa: np.ndarray, pb: np.ndarray
) -> tuple[Cluster, ...]:
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(pa.tolist(), pb.tolist(), strict=True):
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(root(i), []).append(i)
    clusters = []
    for members in groups.values():
        places = sum(len(passages[i].occurrences) for i in members)
        if places < 2:
            continue
        docs = sorted({o.source for i in members for o in passages[i].occurrences})
        clusters.append(Cluster(tuple(int(ids[i]) for i in members), places, tuple(docs)))
    return tuple(sorted(clusters, key=lambda c: (-c.places, c.passages)))


def _rounded(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(round(float(x), 4) for x in row) for row in matrix)


# -- two documents side by side -------------------------------------------------


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


def _stage(stage: Stage | None, what: str) -> None:
    if stage:
        stage(what)
