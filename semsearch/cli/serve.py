"""``semsearch serve`` and ``semsearch mcp``: one warm index behind HTTP or MCP.

Both need the ``serve`` extra; without it they say which command installs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InputError, MissingDependencyError
from ..extras import install_command
from ..search.pipeline import MAX_QUERY_CHARS
from ..text.sources import MAX_FILE_SIZE, parse_size
from . import console, options
from .typer_options import AllowHost, IndexDir, Token, TokenFile, resolve_token

if TYPE_CHECKING:
    from ..server.service import Service

LOOPBACK = ("127.0.0.1", "localhost", "::1")

Host = Annotated[
    str, typer.Option(help="Address to listen on; another than loopback is reachable by others.")
]


def serve(
    index: IndexDir = None,
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    token: Token = None,
    token_file: TokenFile = None,
    allow_host: AllowHost = None,
    allow_writes: Annotated[
        bool, typer.Option(help="Allow POST /index and DELETE /documents to change the index.")
    ] = False,
    root: Annotated[
        list[Path] | None,
        typer.Option(
            help="A folder clients may name files in (repeatable); the index's sources always are.",
            show_default=False,
        ),
    ] = None,
    cors: Annotated[
        list[str] | None,
        typer.Option(
            help="An origin allowed to call the API from a browser (repeatable).",
            show_default=False,
        ),
    ] = None,
    max_query_chars: Annotated[
        int, typer.Option(help="Longest question accepted.")
    ] = MAX_QUERY_CHARS,
    max_file_size: Annotated[
        str,
        typer.Option(
            *options.MAX_FILE_SIZE.flags,
            help=f"With --allow-writes: {options.MAX_FILE_SIZE.help} Reading and chunking "
            "a file takes up to about 40 times its size in memory.",
        ),
    ] = options.MAX_FILE_SIZE.default,
) -> None:
    """Serve the index over HTTP: a JSON API (docs at /docs) and a search page at /.

    Example: semsearch serve --index index --port 8765, then open http://127.0.0.1:8765/
    """
    with console.errors():
        try:
            from ..server import listen
            from ..server.guard import allowed_hosts
            from ..server.http import create_app
        except ImportError as exc:
            raise MissingDependencyError(
                f"semsearch serve needs the serve extra: {install_command('serve')}"
            ) from exc
        secret = resolve_token(token, token_file)
        _check_port(host, port)
        size = parse_size(max_file_size)
        service = _service(index, root or [], allow_writes, max_query_chars, size)
        _warn_if_reachable(host)
        hosts = allowed_hosts(host, port, allow_host or [])
        app = create_app(service, token=secret, cors=cors, hosts=hosts)
        typer.echo(
            f"serving {service.index.directory} on http://{host}:{port}/ (API docs at /docs); "
            "Ctrl-C stops",
            err=True,
        )
        listen.run(app, host, port)


def mcp(
    index: IndexDir = None,
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP instead of stdio.")] = False,
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for --http.")] = 8766,
    token: Token = None,
    token_file: TokenFile = None,
    allow_host: AllowHost = None,
) -> None:
    """Serve the index as MCP tools (search, search_batch, get_passage, get_document).

    Over stdio for a client that starts it (see docs/server.md for the client config), or
    over streamable HTTP at http://HOST:PORT/mcp with --http, behind the same Host,
    Origin and token checks as serve.
    """
    with console.errors():
        try:
            from ..server.mcp_tools import create_server
        except ImportError as exc:
            raise MissingDependencyError(
                f"semsearch mcp needs the serve extra: {install_command('serve')}"
            ) from exc
        secret = resolve_token(token, token_file) if http else None
        if http:
            _check_port(host, port)
            _warn_if_reachable(host)
        server = create_server(_service(index, [], False, MAX_QUERY_CHARS))
        if http:
            from ..server import listen
            from ..server.guard import Guard, allowed_hosts

            hosts = allowed_hosts(host, port, allow_host or [])
            app = server.streamable_http_app(
                host=host, transport_security=_sdk_security(hosts, port)
            )
            listen.run(Guard(app, token=secret, hosts=hosts, cors_option=False), host, port)
        else:
            import anyio

            from ..server.mcp_stdio import serve_stdio

            anyio.run(serve_stdio, server)


def _warn_if_reachable(host: str) -> None:
    if host not in LOOPBACK:
        console.echo(
            f"warning: listening on {host}: reachable from other machines; consider --token",
            err=True,
        )


def _sdk_security(hosts: list[str], port: int) -> Any:
    """The MCP SDK's own DNS-rebinding check, given the names the Guard allows
    (it has no wildcards, so a server on every address leaves it to the Guard)."""
    from mcp.server.transport_security import TransportSecuritySettings

    names = [h for h in hosts if h.isprintable() and not h.startswith("<")]
    if any(h in ("*", "", "0.0.0.0", "::") for h in names):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    bare = [h for h in names if ":" not in h or h.startswith("[")]
    return TransportSecuritySettings(
        allowed_hosts=[*names, *(f"{h}:*" for h in bare)],
        allowed_origins=[f"http://{h}:{port}" for h in bare],
    )


def _check_port(host: str, port: int) -> None:
    """Refuse a port another program holds before loading anything, in one line."""
    import os
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(
            f"cannot listen on {host}:{port} ({reason}); choose another --port"
        ) from None


def _service(
    index: Path | None,
    roots: list[Path],
    allow_writes: bool,
    max_chars: int,
    max_file_size: int = MAX_FILE_SIZE,
) -> Service:
    """The index opened once and its model warmed, so the first request is not cold."""
    from ..index import Index
    from ..server.service import Service

    idx = Index.open(index)
    idx.search("warm up", k=1)
    return Service(idx, list(roots), allow_writes, max_chars, max_file_size)
