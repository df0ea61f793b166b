"""Reading an index that lives in Milvus: what :mod:`semsearch.search.pipeline` asks of a
:class:`~semsearch.storage.base.Snapshot`, answered by queries on the collections of
:mod:`semsearch.storage.milvus.collections`.

Milvus has no snapshots: a reader sees each write's rows as they land. What
keeps answers whole is the order a write lands in (passages, then their
places, then the files that name them) and one rule here: a passage is shown
only with its places, so one stored by a write still running, or by one that
crashed, is not an answer until a write places it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from ...errors import StoreError, converting
from ...records import Location, Passage
from ..base import DENSE_CANDIDATES, FileStates, SkippedFiles
from ..common import rarest, rescored
from ..manifest import Manifest
from .collections import (
    NAME_SEARCH,
    Collections,
    name_dim,
    quoted,
    reason_of,
    search_params,
    vectors_of,
)


def store_error(holder: Any, exc: BaseException) -> StoreError:
    """A pymilvus error, said as what failed and where."""
    return StoreError(f"Milvus at {holder.collections.spec.address} failed: {reason_of(exc)}")


_Class = TypeVar("_Class", bound=type)


def milvus_errors(cls: _Class) -> _Class:
    """Every public method of ``cls`` raises :class:`StoreError`, not pymilvus's
    errors, and first loads collections a restarted server has released again."""
    from pymilvus.exceptions import MilvusException

    return converting((MilvusException, ConnectionError), store_error, retry=reloaded)(cls)


def reloaded(holder: Any, exc: BaseException) -> bool:
    """Whether ``exc`` says a restarted server holds the collections released; if so
    they are loaded again, and the call is worth one more try."""
    if "released" not in str(exc) and "not loaded" not in str(exc):
        return False
    holder.collections.reload()
    return True


@milvus_errors
class MilvusSnapshot:
    """The index in a Milvus collection as this process last read its manifest."""

    def __init__(self, manifest: Manifest, collections: Collections, text: str) -> None:
        self.manifest = manifest
        self.collections = collections
        self.text = text  # the manifest as stored: a change means another write committed
        self.names = collections.names

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        return self._search(queries, k)[1]

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        kind = self.manifest.ann.upper()
        found = self.collections.search(
            self.names.passages, queries.tolist(), "vector", k, search_params(kind, k)
        )
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, hits in enumerate(found):
            for col, hit in enumerate(hits[:k]):
                scores[row, col] = hit["distance"]
                ids[row, col] = hit["id"]
        return scores, ids

    def nearest(
        self, queries: np.ndarray, k: int, *, approximate: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The collection's vector index's answers rescored exactly; FLAT (below
        20,000 passages) is exact, HNSW and IVF_SQ8 find more than asked for so
        that the best ``k`` are rarely missed (bench/milvus.py: recall@10)."""
        wide = k if self.manifest.ann == "flat" else max(2 * k, DENSE_CANDIDATES)
        return rescored(self, queries, self.candidates(queries, wide), k)

    def within(
        self, queries: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every passage at ``threshold`` or closer: nearest ones, widened until the
        farthest found falls below the threshold (Milvus Lite has no range search)."""
        lims, all_scores, all_ids = [0], [], []
        total = max(1, self.manifest.passages)
        for query in queries:
            k = min(64, total)
            while True:
                scores, ids = self.nearest(query[None, :], k)
                keep = (scores[0] >= threshold) & (ids[0] >= 0)
                if not keep.all() or k >= total:
                    break
                k = min(4 * k, total)
            all_scores.append(scores[0][keep])
            all_ids.append(ids[0][keep])
            lims.append(lims[-1] + int(keep.sum()))
        return (
            np.asarray(lims, dtype=np.int64),
            np.concatenate(all_scores) if all_scores else np.empty(0, np.float32),
            np.concatenate(all_ids) if all_ids else np.empty(0, np.int64),
        )

    def vectors(self, ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        rows = self.collections.get(self.names.passages, list(ids), ["vector"])
        by_id = {row["id"]: row for row in rows}
        kept = [pid for pid in ids if pid in by_id]
        return kept, vectors_of([by_id[pid] for pid in kept], self.manifest.dim)

    def sentences(self, ids: Iterable[int]) -> list[tuple[int, int, int, np.ndarray]]:
        rows = self.collections.where_in(
            self.names.sentences, "passage_id", ids, ["passage_id", "start", "end", "vector"]
        )
        rows.sort(key=lambda r: (r["passage_id"], r["start"]))
        matrix = vectors_of(rows, self.manifest.dim)
        return [(r["passage_id"], r["start"], r["end"], matrix[n]) for n, r in enumerate(rows)]

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Text and places of these passages; those without a place are left out."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        places: dict[int, list[tuple[str, int, int, int]]] = {}
        for row in self.collections.where_in(
            self.names.places, "passage_id", ids, ["passage_id", "source", "seq", "start", "end"]
        ):
            places.setdefault(row["passage_id"], []).append(
                (row["source"], row["seq"], row["start"], row["end"])
            )
        texts = self.collections.get(self.names.passages, sorted(places), ["text"])
        return {
            row["id"]: Passage(
                row["id"],
                row["text"],
                tuple(Location(s, a, b) for s, _, a, b in sorted(places[row["id"]])),
            )
            for row in texts
        }

    def passage_ids(self) -> list[int]:
        """Every placed passage's id, ascending."""
        placed = self.collections.ids(self.names.places, "passage_id", "seq >= 0")
        return sorted(placed & self.collections.ids(self.names.passages, "id", "id >= 0"))

    def document(self, path: str) -> list[tuple[int, Location]]:
        rows = self.collections.rows(
            self.names.places,
            f"source == {quoted(path)}",
            ["passage_id", "seq", "start", "end"],
        )
        rows.sort(key=lambda r: r["seq"])
        return [(r["passage_id"], Location(path, r["start"], r["end"])) for r in rows]

    def bm25(self, words: list[list[str]], limit: int, budget: int) -> list[dict[int, float]]:
        """Milvus's BM25 over the same normalised, stemmed words as the local store,
        every question in one call (its inverted index bounds the work: no budget)."""
        asked = [n for n, w in enumerate(words) if w]
        out: list[dict[int, float]] = [{} for _ in words]
        if not asked:
            return out
        found = self.collections.search(
            self.names.passages,
            [" ".join(words[n]) for n in asked],
            "sparse",
            limit,
            {"metric_type": "BM25"},
        )
        for n, hits in zip(asked, found, strict=True):
            # Milvus gives BM25 scores; Milvus Lite 3 their negatives, as distances
            out[n] = {hit["id"]: abs(float(hit["distance"])) for hit in hits if hit["distance"]}
        return out

    def postings(self, skeletons: Iterable[str], budget: int) -> list[tuple[str, int, int]]:
        """The name-term rows of the rarest skeletons, within ``budget`` rows in all,
        as the local store chooses them: each skeleton's rows (a passage's first mask
        of it, then its second...: a search each, all skeletons at once) are counted
        up to ``budget + 1``."""
        rows: dict[str, list[tuple[str, int, int]]] = {s: [] for s in set(skeletons)}
        asking, nth = sorted(rows), 0
        while asking:
            queries = [{name_dim(s, nth): 1.0} for s in asking]
            found = self.collections.search(
                self.names.passages, queries, "names", budget + 1, NAME_SEARCH
            )
            for skeleton, hits in zip(asking, found, strict=True):
                rows[skeleton] += [(skeleton, round(abs(h["distance"])) - 1, h["id"]) for h in hits]
            asking = [
                s for s, hits in zip(asking, found, strict=True) if hits and len(rows[s]) <= budget
            ]
            nth += 1
        chosen = rarest({s: len(found) for s, found in rows.items()}, budget)
        return [row for skeleton in chosen for row in rows[skeleton]]

    def file_states(self) -> FileStates:
        return file_states(self.collections)

    def skipped(self) -> SkippedFiles:
        return skipped_files(self.collections)


def file_states(collections: Collections) -> FileStates:
    """(size, mtime_ns) of every file seen: indexed, or skipped as unusable (one read;
    ``ask`` looks before each question whether anything changed)."""
    files = collections.files()
    return {p: (f.size, f.mtime_ns) for kind in ("d", "s") for p, f in files[kind].items()}


def skipped_files(collections: Collections, paths: Iterable[str] | None = None) -> SkippedFiles:
    return {p: (f.size, f.mtime_ns, f.reason) for p, f in collections.files(paths)["s"].items()}
