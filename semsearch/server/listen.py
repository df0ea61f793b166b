"""uvicorn, set up for a server that strangers' connections may reach.

- **Idle and half-open connections are closed**: uvicorn closes a keep-alive
  connection ``KEEP_ALIVE_S`` after its last answer, but one that never sends a
  whole request head (slowloris, a port scanner) it keeps for ever; here it is
  closed ``HEADER_TIMEOUT_S`` after it opened or after its last answer.
- **A limit on connections and requests at once** (``LIMIT``, fewer where the
  process may open too few files): beyond it uvicorn answers 503 at once, and a
  new connection closes the one that has waited longest for a request head, so
  that half-open connections neither hold every place nor use up the file
  descriptors. The listen backlog is a quarter of the limit: the event loop accepts
  up to a backlog of connections at a time before any of them can close an older
  one, so a flood holds at most the limit plus a few backlogs of sockets at once.
- **A request head is bounded** (h11's ``MAX_HEAD`` bytes).
- **A repeated error is logged once** and then counted (``Too many open files``
  would otherwise fill the log).
- **SIGTERM or Ctrl-C** stops taking connections and lets the requests in flight
  finish (each is bounded: see :mod:`semsearch.server.http`); a second one stops at once, and
  those still running get 503 with Retry-After.
"""

from __future__ import annotations

import logging
import time
from typing import Any, TypeGuard

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
LIMIT = 256
FILES_PER_CONNECTION = 4
"""File descriptors kept per allowed connection: the socket, and room for the index,
the models and connections the server has not yet accepted."""
MAX_HEAD = 16 * 1024
REPEAT_WINDOW_S = 60.0
MAX_KINDS = 1000


def run(app: Any, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C (see the module's text)."""
    import uvicorn

    quiet = _Once()
    for name in ("uvicorn.error", "asyncio"):
        logging.getLogger(name).addFilter(quiet)
    logging.getLogger("uvicorn.error").addFilter(_cancelled_lifespan)
    _TimedH11.room = _room_for_connections()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=_TimedH11,
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=_TimedH11.room,
        backlog=max(16, _TimedH11.room // 4),
        h11_max_incomplete_event_size=MAX_HEAD,
        timeout_graceful_shutdown=None,
    )


class _TimedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for a request head."""

    room = LIMIT
    _head_timer: Any = None
    _idle_since = 0.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()
        self._make_room()

    def _make_room(self) -> None:
        """At the limit, close the connection that has waited longest for a head:
        half-open ones cannot hold every place (and file descriptor) for long."""
        if len(self.connections) < self.room:
            return
        waiting = [c for c in self.connections if c is not self and _waiting(c)]
        if waiting:
            min(waiting, key=lambda c: c._idle_since).transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._idle_since = time.monotonic()
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._head_late)

    def _head_late(self) -> None:
        """Close a connection still waiting for a whole request head; one that got
        a head is answering or reading a body (bounded by the body limit)."""
        if _waiting(self):
            self.transport.close()


def _waiting(c: object) -> TypeGuard[_TimedH11]:
    """Whether connection ``c`` waits for a request head (none sent, or one unfinished)."""
    import h11

    if not isinstance(c, _TimedH11) or c.transport.is_closing():
        return False
    idle = c.cycle is None or c.cycle.response_complete
    return idle and c.conn.their_state is h11.IDLE


def _room_for_connections() -> int:
    """``LIMIT``, or fewer where this process may not open ``FILES_PER_CONNECTION``
    files for each (after raising its soft limit as far as the hard one allows)."""
    import resource

    want = LIMIT * FILES_PER_CONNECTION
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return max(1, min(LIMIT, soft // FILES_PER_CONNECTION))


def _cancelled_lifespan(record: logging.LogRecord) -> bool:
    """Drop the traceback of the app's lifespan cancelled by a forced stop (a
    second Ctrl-C): the stop was asked for, nothing failed."""
    text = record.getMessage()
    return not (text.startswith("Traceback") and text.rstrip().endswith("CancelledError"))


class _Once(logging.Filter):
    """Let a message through once per window, then once more with how often it came."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            key += f":{record.exc_info[1]!r}"
        now = time.monotonic()
        if len(self.seen) > MAX_KINDS:
            self.seen.clear()
        first, count = self.seen.get(key, (now, 0))
        if count and now - first < REPEAT_WINDOW_S:
            self.seen[key] = (first, count + 1)
            return False
        self.seen[key] = (now, 1)
        if count > 1:
            record.msg = f"{record.getMessage()} (and {count - 1} more like it)"
            record.args = ()
        return True
