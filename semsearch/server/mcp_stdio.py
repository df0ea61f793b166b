"""MCP over stdio, answering every line.

The SDK's stdio transport turns a line it cannot read (not JSON, not an object,
binary garbage, a lone surrogate) into an exception that the server then drops,
so a client waiting for the answer hangs. Here the SDK's transport still owns
the wire (stdout diverted to stderr while serving, UTF-8 both ways), and each
such line gets a JSON-RPC error (-32700 or -32600) as over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

SHOWN = 80
"""How much of a bad line an error quotes."""


async def serve_stdio(server: MCPServer) -> None:
    """Serve ``server`` over stdin/stdout until stdin closes."""
    lowlevel = server._lowlevel_server  # what MCPServer.run_stdio_async runs too
    async with stdio_server() as (wire_in, wire_out):
        to_server, from_wire = anyio.create_memory_object_stream[SessionMessage | Exception]()
        answers = wire_out.clone()

        async def relay() -> None:
            """Pass readable messages on; answer the rest on the wire."""
            async with to_server, answers, wire_in:
                async for item in wire_in:
                    if isinstance(item, SessionMessage):
                        await to_server.send(item)
                    elif (error := rejection(item)) is not None:
                        await answers.send(SessionMessage(error))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(relay)
            await lowlevel.run(from_wire, wire_out, lowlevel.create_initialization_options())


def rejection(exc: Exception) -> JSONRPCError | None:
    """The JSON-RPC error for a line the SDK could not read (None for a blank line)."""
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    if not errors:
        return _error(None, INVALID_REQUEST, f"Invalid request: {exc}")
    first = errors[0]
    value = first.get("input")
    if first["type"] == "json_invalid":
        if isinstance(value, str) and not value.strip():
            return None  # an empty line carries no message, so nothing waits for an answer
        lenient = _lenient(value)
        if lenient is None:
            return _error(None, PARSE_ERROR, f"Parse error: {first['msg']} in {_shown(value)}")
        return _error(
            _request_id(lenient),
            PARSE_ERROR,
            f"Parse error: {_shown(value)} holds a lone surrogate (a \\ud800-\\udfff escape "
            "without its pair), which is not Unicode text",
        )
    # a missing field's error holds the whole object; a non-object's holds the value
    value = next((e["input"] for e in errors if e["type"] == "missing"), value)
    return _error(
        _request_id(value),
        INVALID_REQUEST,
        f"Invalid request: {_shown(value)} is not a JSON-RPC 2.0 message "
        '(an object with "jsonrpc": "2.0" and a "method", "result" or "error")',
    )


def _error(request_id: int | str | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _request_id(value: Any) -> int | str | None:
    """The id of a malformed request, when it has a usable one, so its caller stops waiting."""
    found = value.get("id") if isinstance(value, dict) else None
    if isinstance(found, str) or (isinstance(found, int) and not isinstance(found, bool)):
        return found
    return None


def _lenient(line: Any) -> Any:
    """The line as Python's own JSON reads it: it takes a lone surrogate (``\\ud800``),
    which the SDK refuses, so such a request's id can still be answered."""
    try:
        return json.loads(line, parse_constant=_refuse)  # NaN is refused by both
    except (TypeError, ValueError):
        return None


def _refuse(constant: str) -> Any:
    raise ValueError(constant)


def _shown(value: Any) -> str:
    text = repr(value.strip() if isinstance(value, str) else value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
