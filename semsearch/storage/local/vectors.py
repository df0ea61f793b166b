"""Everything FAISS: the *finder*, which proposes candidate passages fast, its
files in a generation folder, and when a write updates, extends or rebuilds it.

One vector per unique passage, id = passage id; inner product over
L2-normalised vectors, i.e. cosine similarity. Small collections use exact
search, large ones an approximate index (see
:func:`semsearch.storage.manifest.resolve_type`). The exact
vectors themselves live in the database; the finder can always be rebuilt
from them. Files are FAISS's own format (no pickle). Only the local backend
(its writer and snapshots) uses this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from ...errors import IndexCorruptError
from ...threads import all_cores, one_thread_per_search
from ..folder import rebuild_hint
from ..manifest import Manifest
from .exact import ExactFinder

one_thread_per_search(faiss)

ANN = "ann.faiss"
"""The finder file of an approximate (IVF, HNSW) index."""
DELTA = "delta.faiss"
"""Vectors added to an IVF finder since its main file was written (exact, small)."""
DELTA_SHARE = 0.05
"""An IVF finder's delta, with the removed vectors still in its main file, grows to
this share of the main file; then the next write folds them into a new main file."""
ANN_RETRAIN_GROWTH = 2
"""An approximate index is updated in place until the collection outgrows this
multiple of what it was trained on, then retrained."""


def new_vectors(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def load_vectors(path: Path, dim: int, *, mmap: bool = False) -> faiss.Index:
    """Read a vector file, refusing one that is unreadable or of another dimension.

    ``mmap`` maps the file instead of reading it: opening is instant and only
    the vectors actually touched take memory.
    """
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
    except RuntimeError:
        raise IndexCorruptError(f"{path} is not a readable FAISS file") from None
    if index.d != dim:
        raise IndexCorruptError(f"{path} holds {index.d}-dimensional vectors, manifest says {dim}")
    return index


def save_vectors(index: faiss.Index, path: Path) -> None:
    """Write through Python's file, in FAISS's own chunks: a full disk is then an
    ``OSError`` that says so (ENOSPC), where FAISS's writer raises a bare RuntimeError."""
    with path.open("wb") as f:
        faiss.write_index(index, faiss.PyCallbackIOWriter(f.write))  # type: ignore[attr-defined]  # not in FAISS's stubs


def add_vectors(index: faiss.Index, ids: list[int], matrix: np.ndarray) -> None:
    if ids:
        index.add_with_ids(
            np.ascontiguousarray(matrix, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )


def remove_vectors(index: faiss.Index, ids: list[int]) -> None:
    if ids:
        index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]  # the wrapper takes ids too


def search_vectors(
    index: faiss.Index, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, ids) per query row; ids are -1 where fewer exist."""
    k = max(1, min(k, index.ntotal))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def vector_ids(index: faiss.Index) -> np.ndarray:
    """The ids a FAISS index holds: from its id map, or its inverted lists."""
    if isinstance(index, faiss.IndexIDMap):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    lists = ivf.invlists
    assert lists is not None  # an IVF index always has its lists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(ivf.nlist)
        if lists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


@dataclass
class Finder:
    """What proposes candidates: the main FAISS index and, for IVF, a small exact
    ``delta`` of the vectors added since the main file was written.

    Writes add to the delta and leave the main file as it is, so that a small
    change does not rewrite hundreds of megabytes; vectors removed since stay in
    the main index (``stale`` of them) and callers drop ids that no longer
    exist. The write that finds the delta grown folds everything into a new
    main file.
    """

    main: faiss.Index
    origin: str
    """The generation folder the main file is in (it is shared by later ones)."""
    delta: faiss.Index | None = None
    stale: int = 0

    @property
    def live(self) -> int:
        """How many passages it can find."""
        return self.main.ntotal - self.stale + (self.delta.ntotal if self.delta else 0)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best (scores, ids) per row over main and delta (ids -1 where fewer).

        Up to ``k`` more than ``k`` when the main index holds stale ids, so that
        ``k`` remain once the caller has dropped those.
        """
        wanted = k + min(self.stale, k)
        scores, ids = search_vectors(self.main, queries, wanted)
        if self.delta is None or not self.delta.ntotal:
            return scores, ids
        more_scores, more_ids = search_vectors(self.delta, queries, wanted)
        scores = np.hstack([scores, more_scores])
        ids = np.hstack([ids, more_ids])
        scores[ids < 0] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :wanted]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


HNSW_EF_SEARCH = 64
IVF_NPROBE = 16


def build_finder(ids: np.ndarray, vectors: np.ndarray, kind: str) -> faiss.Index:
    """An approximate finder of type ``kind`` (hnsw, ivf) over these vectors, same ids
    (an exact index needs none: see exact.py).

    The approximate types store 8-bit scalar-quantised vectors (a quarter of
    the memory); candidates are rescored with the exact vectors anyway. IVF
    keeps the ids itself, so later writes can update it in place
    (:func:`update_finder`); HNSW needs an id map and is rebuilt.
    """
    count, dim = vectors.shape
    if kind == "hnsw":
        factory = "HNSW32,SQ8"
    elif kind == "ivf":
        lists = max(1, min(int(4 * np.sqrt(count)), count // 39))
        factory = f"IVF{lists},SQ8"
    else:
        raise ValueError(f"no approximate index of type {kind!r}")
    ann = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    sample = vectors if count <= 200_000 else vectors[:: max(1, count // 200_000)]
    with all_cores(faiss):
        ann.train(np.ascontiguousarray(sample))
        if kind == "hnsw":
            ann = faiss.IndexIDMap(ann)
        ann.add_with_ids(vectors, ids)
    tune(ann)
    return ann


def update_finder(
    finder: faiss.Index, removed: list[int], ids: list[int], matrix: np.ndarray
) -> None:
    """Remove and add vectors in place, in an exact or an IVF index.

    Exact search simply changes. An IVF index keeps the clusters it was trained
    on; new vectors go to the nearest one. That stays accurate while the
    collection grows moderately (:func:`next_finder` retrains when it has
    doubled). HNSW cannot remove: it is rebuilt instead.
    """
    flat = isinstance(finder, faiss.IndexIDMap2)
    if not flat and not isinstance(faiss.downcast_index(finder), faiss.IndexIVF):
        raise ValueError(f"a {type(finder).__name__} cannot be updated in place; rebuild it")
    remove_vectors(finder, removed)
    add_vectors(finder, ids, matrix)


def tune(ann: faiss.Index) -> None:
    """Search-time settings, which FAISS does not save with the index."""
    inner = faiss.downcast_index(ann.index if isinstance(ann, faiss.IndexIDMap) else ann)
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    elif isinstance(inner, faiss.IndexIVF):
        inner.nprobe = IVF_NPROBE


# -- the finder's files, and what a write does to it -------------------------------


def load_finder(
    directory: Path,
    manifest: Manifest,
    *,
    private: bool = False,
    reuse: Sequence[Finder | ExactFinder] = (),
) -> Finder:
    """The approximate finder a manifest names: its main FAISS file (from ``reuse``
    when one in memory came from the same folder, unless ``private``: to be
    changed) and its delta.

    Raises FileNotFoundError if the generation is gone (a writer replaced it).
    """
    origin = manifest.ann_base or manifest.generation
    main = None
    if not private:
        main = next((f.main for f in reuse if isinstance(f, Finder) and f.origin == origin), None)
    if main is None:
        main = _load_file(directory, origin, ANN, manifest.dim, False)
        tune(main)
    delta = None
    if manifest.ann_delta:
        delta = _load_file(directory, manifest.generation, DELTA, manifest.dim, False)
    return Finder(main, origin, delta, manifest.ann_stale)


def _load_file(directory: Path, generation: str, name: str, dim: int, mmap: bool) -> faiss.Index:
    gen = directory / generation
    if not (gen / name).is_file():
        if not gen.is_dir():
            raise FileNotFoundError(gen)
        raise IndexCorruptError(f"{gen} is missing its files{rebuild_hint(directory)}")
    try:
        return load_vectors(gen / name, dim, mmap=mmap)
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}{rebuild_hint(directory)}") from None


def save_finder(finder: Finder, folder: Path, generation: str) -> None:
    """Write what is new of ``finder`` into ``folder``: its main file if this
    write made one (its origin is ``generation``), and its delta."""
    if finder.origin == generation:
        save_vectors(finder.main, folder / ANN)
    if finder.delta is not None and finder.delta.ntotal:
        save_vectors(finder.delta, folder / DELTA)


class VectorSource(Protocol):
    """The exact vectors a finder is built or folded from (the database's)."""

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """Rows of these passages' vectors, all of them present, in this order."""
        ...

    def all_ids(self) -> list[int]: ...

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class FinderWrite:
    """One write's effect on the vectors, and where its finder goes."""

    directory: Path
    generation: str
    """The new generation folder's name (its main file's origin if it makes one)."""
    removed: list[int]
    added: list[int]
    dim: int


def next_finder(
    write: FinderWrite,
    base: Manifest | None,
    kind: str,
    passages: int,
    source: VectorSource,
    live: Finder | ExactFinder | None,
) -> tuple[Finder, int]:
    """The approximate finder (``kind``: hnsw or ivf) with a write's changes, or a
    new one; and the number of passages it was trained on. (An exact index's
    finder is the database's vectors: :mod:`semsearch.storage.local` reads them again.)

    ``base`` is the manifest the write started from (None: build afresh).
    IVF takes the changes into its delta (see :class:`Finder`), in time proportional to them.
    Rebuilding, and retraining an approximate index (on a rebuild, when the
    type changed, when the collection has doubled since training, and for
    HNSW, which cannot remove) costs time in proportion to the whole.
    """
    if (
        base is not None
        and base.ann == kind == "ivf"
        and passages <= ANN_RETRAIN_GROWTH * base.ann_trained
    ):
        return _with_delta(write, base, source, live), base.ann_trained
    ids, vectors = source.all_vectors()
    return Finder(build_finder(ids, vectors, kind), write.generation), passages


def _with_delta(
    write: FinderWrite, base: Manifest, source: VectorSource, live: Finder | ExactFinder | None
) -> Finder:
    """The live IVF finder with a write's changes in its delta; merged into a
    new main file once the delta and the stale vectors outgrow ``DELTA_SHARE``."""
    current = load_finder(write.directory, base, reuse=[live] if live else [])
    delta = current.delta if current.delta is not None else new_vectors(write.dim)
    in_delta = set(vector_ids(delta).tolist())
    dropped = [pid for pid in write.removed if pid in in_delta]
    stale = current.stale + len(write.removed) - len(dropped)
    update_finder(delta, dropped, write.added, source.vectors_of(write.added))
    if stale + delta.ntotal <= DELTA_SHARE * current.main.ntotal:
        return Finder(current.main, current.origin, delta, stale)
    main = load_finder(write.directory, replace(base, ann_delta=0), private=True).main
    dead = np.setdiff1d(vector_ids(main), source.all_ids()).tolist()
    fresh = vector_ids(delta).tolist()
    update_finder(main, dead, fresh, source.vectors_of(fresh))
    return Finder(main, write.generation)
