"""The marker row each write to a Milvus index keeps in ``C_meta`` while it runs:
who runs it, when it last did something, and which passages it is about to
unplace. Milvus has no transactions; a marker left by a write that will not
finish tells the next write what to clean up (see :mod:`semsearch.storage.milvus`)."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from .collections import MARKER

STALE_AFTER = 600.0
"""Seconds after which the marker of a write on another host that stopped beating
counts as that of a crashed write."""


def marker(unplaced: list[int] | None) -> str:
    """A marker's value now (``unplaced`` None: too many passages to list)."""
    return json.dumps(
        {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "beat": time.time(),
            "unplaced": unplaced,
        }
    )


def crashed_writes(meta: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The markers among the meta rows of writes that will not finish, by key."""
    return {k: json.loads(v) for k, v in meta.items() if _crashed(k, v)}


def _crashed(key: str, value: str) -> bool:
    """Whether a marker row is that of a write that will not finish: its process is
    gone (on this host), or it stopped beating long ago (on another)."""
    if not key.startswith(MARKER):
        return False
    try:
        found = json.loads(value)
        if time.time() - float(found["beat"]) > STALE_AFTER:
            return True
        if found["host"] != socket.gethostname():
            return False
        os.kill(int(found["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    except (ValueError, KeyError, TypeError):
        return True
    return False
