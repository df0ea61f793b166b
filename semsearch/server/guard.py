"""The door of every semsearch HTTP server (``serve`` and ``mcp --http``): a pure
ASGI middleware that needs nothing but the standard library.

A server on loopback is still reachable from a browser: a page on
``evil.example`` whose name is made to resolve to 127.0.0.1 (DNS rebinding)
talks to it with ``Host: evil.example``, and any page may POST to it (the
browser then sends its own ``Origin``). So, in this order:

- a ``Host`` header that names none of the server's names is refused with 421;
- a state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` is
  neither the server itself nor one of ``origins`` (``--cors``) is refused with 403;
- with ``token``, a request without ``Authorization: Bearer TOKEN`` is refused
  with 401 (compared in constant time); ``open_paths`` and CORS preflights pass.

Usage::

    hosts = allowed_hosts(bound_host, port, extra=allow_host)
    app = Guard(app, token=token, hosts=hosts, origins=cors or [])

Each refusal is one line of JSON, ``{"detail": "..."}``, as the API's errors are.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANY = "*"
"""In ``hosts``, any Host (a proxy that rewrites it); in ``origins``, any Origin."""


def allowed_hosts(bound: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """The Host names a server bound to ``bound`` answers to: that address, the
    loopback names when it is loopback, the machine's names when it listens on
    every address, and ``extra`` (``--allow-host``, e.g. a reverse proxy's name).

    A name without a port matches it on any port; ``name:port`` only that port."""
    names = [bound, f"{bound}:{port}"]
    if _is_loopback(bound):
        names += LOOPBACK_NAMES
    if _is_wildcard(bound):
        names += [*LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn(), _IP_LITERAL]
    return [*dict.fromkeys(n.lower() for n in [*names, *extra])]


_IP_LITERAL = "<ip>"
"""Any IP address as Host: a page reached by address is its own origin, no rebinding."""


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def _split_host(value: str) -> tuple[str, str | None]:
    """``name`` and ``port`` of a Host header (``[::1]:8765`` -> ``::1``, ``8765``)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else None
    if value.count(":") == 1:
        name, _, port = value.partition(":")
        return name, port
    return value, None


class Guard:
    """Host, Origin and token checks in front of ``app`` (see the module's text)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        hosts: Sequence[str],
        origins: Sequence[str] = (),
        open_paths: Sequence[str] = (),
        cors_option: bool = True,
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.hosts = {h.lower() for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in origins}
        self.open_paths = frozenset(open_paths)
        self.allow_origin = "; start it with --cors ORIGIN to allow it" if cors_option else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _reply(send, *refusal)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, dict] | None:
        host = headers.get("host", "")
        if not self._host_allowed(host):
            shown = ascii(host) if host else "none"
            return (
                421,
                f"Host {shown} is not a name of this server; start it with --allow-host NAME to answer to it",
                {},
            )
        method = scope.get("method", "GET")
        origin = headers.get("origin")
        if (
            method in STATE_CHANGING
            and origin is not None
            and not self._origin_allowed(origin, host)
        ):
            return (
                403,
                f"Origin {origin!a} may not change this server{self.allow_origin}",
                {},
            )
        if (
            self.expected is not None
            and method != "OPTIONS"
            and scope["path"] not in self.open_paths
        ):
            given = headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, self.expected):
                detail = "missing or wrong token: send Authorization: Bearer TOKEN"
                return 401, detail, {"www-authenticate": "Bearer"}
        return None

    def _host_allowed(self, host: str) -> bool:
        if ANY in self.hosts:
            return True
        name, port = _split_host(host)
        if not name:
            return False
        if name in self.hosts or (port is not None and f"{name}:{port}" in self.hosts):
            return True
        if _IP_LITERAL in self.hosts:
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False

    def _origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if ANY in self.origins or origin in self.origins:
            return True
        scheme, sep, rest = origin.partition("://")
        return bool(sep) and scheme in ("http", "https") and rest == host.strip().lower()


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the first of repeated ones)."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


async def _reply(send: Send, status: int, detail: str, extra: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
