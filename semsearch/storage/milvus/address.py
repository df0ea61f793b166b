"""Where an index's passages live: the local folder (the default) or a Milvus
collection, named by ``semsearch index --store``.

- ``milvus-lite:PATH.db``: embedded Milvus Lite, a folder on this machine that
  one process at a time opens;
- ``milvus://HOST:PORT/COLLECTION``: a Milvus server or cluster (or ``milvus-lite
  server``), shared by several processes and hosts.

The index folder's manifest records the store's address, never its token: that
comes from ``$SEMSEARCH_MILVUS_TOKEN`` (``user:password`` or an API key) each time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ...errors import InputError, MissingDependencyError
from ...extras import install_command
from .. import FORMS

TOKEN_VARIABLE = "SEMSEARCH_MILVUS_TOKEN"
DEFAULT_COLLECTION = "semsearch"
_COLLECTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,150}")
_SERVER = re.compile(r"milvus://([^/:]+):(\d{1,5})/([^/]*)")


@dataclass(frozen=True)
class StoreSpec:
    """A parsed ``--store``: ``uri`` is what pymilvus connects to."""

    address: str
    """As the user wrote it (resolved for a file): what the manifest records."""
    uri: str
    collection: str
    embedded: bool

    @property
    def token(self) -> str:
        return os.environ.get(TOKEN_VARIABLE, "")


def parse_store(value: str) -> StoreSpec:
    """A ``--store`` value, refused with the forms it may take."""
    if value.startswith("milvus-lite:"):
        path = Path(value.removeprefix("milvus-lite:")).expanduser()
        if not path.name.endswith(".db"):
            raise InputError(f"--store {value!r}: a Milvus Lite store is a PATH ending in .db")
        path = path.resolve()
        return StoreSpec(f"milvus-lite:{path}", str(path), DEFAULT_COLLECTION, True)
    if found := _SERVER.fullmatch(value):
        host, port, collection = found.groups()
        if not _COLLECTION.fullmatch(collection):
            raise InputError(
                f"--store {value!r}: the collection name {collection!r} must start with a "
                "letter or _ and hold only letters, digits and _"
            )
        if not 0 < int(port) < 65536:
            raise InputError(f"--store {value!r}: port {port} is not between 1 and 65535")
        return StoreSpec(value, f"http://{host}:{port}", collection, False)
    raise InputError(f"--store {value!r} is not a store; give {FORMS}")


def require_pymilvus() -> ModuleType:
    """pymilvus, or an error that says how to install the extra."""
    try:
        import pymilvus
    except ImportError:
        raise MissingDependencyError(
            f"a Milvus store needs the milvus extra: {install_command('milvus')}"
        ) from None
    return pymilvus
