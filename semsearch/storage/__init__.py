"""Where an index lives.

:mod:`.base` is the seam: the protocols the :class:`~semsearch.index.Index`
facade, the writer and the search pipeline ask of a backend. Every backend
lives in a folder of its own (:mod:`.local`, :mod:`.milvus`) and is named here,
once, by the scheme of its ``--store`` address; the index folder itself
(:mod:`.folder`, :mod:`.manifest`) is the same whichever backend holds the
passages. Backends are imported only when an index opens one, so Milvus costs
nothing to an index that does not use it.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from .base import Backend

BACKENDS: dict[str, str] = {
    "": "semsearch.storage.local",
    "milvus-lite": "semsearch.storage.milvus",
    "milvus": "semsearch.storage.milvus",
}
"""The module of each backend by address scheme ("" is the index folder itself).
Each module offers ``open_backend(directory, address)`` and ``canonical(address)``."""

FORMS = "milvus-lite:PATH.db or milvus://HOST:PORT/COLLECTION"
"""The ``--store`` forms, as error messages list them."""


def open_backend(directory: Path, store: str | None = None) -> Backend:
    """The backend of the index at ``directory``: in the ``store`` given, else in
    the one its manifest records, else the local folder."""
    from .manifest import recorded_store

    store = store or recorded_store(directory)
    return _module(store).open_backend(directory, store)


def canonical(store: str) -> str:
    """``store`` as a manifest records it (a file path made absolute), or an error
    that names the forms an address may take."""
    if not store:
        raise InputError(f"--store {store!r} is not a store; give {FORMS}")
    return str(_module(store).canonical(store))


def _module(store: str) -> Any:
    scheme = store.partition(":")[0] if store else ""
    if scheme not in BACKENDS:
        raise InputError(f"--store {store!r} is not a store; give {FORMS}")
    return import_module(BACKENDS[scheme])
