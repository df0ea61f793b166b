"""The MCP tool server (official ``mcp`` SDK): each tool a few lines over
:class:`~.service.Service`, answering with the hits as structured content and
a compact text an LLM can cite (``source:start-end`` and the best sentence).

A tool's bad input (an empty question, an unknown passage) comes back as a
tool error the model can read and correct, not as a protocol failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from ..errors import SemsearchError
from .service import Service

INSTRUCTIONS = (
    "Semantic search over a folder of documents. Questions may be asked in any language "
    "(English, Arabic, French, Chinese...); passages are returned in the language they are "
    "written in, often Arabic. Cite a passage by its source and offsets (source:start-end); "
    "read more around it with get_document."
)


class _Server(MCPServer):
    """Arguments of the wrong type are told as the field, what it must be and the
    value given (``passage_id: Input should be a valid integer (got 'abc')``), not
    as pydantic's report under "Error executing tool"."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc, UnexpectedToolError) or not isinstance(
                exc.__cause__, ValidationError
            ):
                raise  # a crash of ours, or not the arguments
            first = exc.__cause__.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ToolError(f"{where}: {first['msg']} (got {first['input']!r})") from exc.__cause__


def create_server(service: Service) -> MCPServer:
    """The tools over ``service`` (run with ``.run()`` for stdio, or ``.run("streamable-http")``)."""
    server = _Server("semsearch", instructions=INSTRUCTIONS)

    def tool(fn: Any) -> Any:  # the docstring, on one line, is what the model reads
        return server.tool(description=" ".join(fn.__doc__.split()))(fn)

    @tool
    def search(query: str, k: int = 5, mode: str = "hybrid") -> CallToolResult:
        """Find the k passages that best answer a question. The question may be in any
        language; passages come back in theirs (often Arabic), each with its source file,
        character offsets and the sentence that best answers. mode: hybrid (default:
        meaning, words and names), dense (meaning only) or lexical (words and names)."""
        return _answer(lambda: service.search(query, k, mode), _hits_text)

    @tool
    def search_batch(queries: list[str], k: int = 5) -> CallToolResult:
        """Answer several questions at once (one model call): for each, the k best
        passages, as search returns them."""
        return _answer(
            lambda: service.search_batch(queries, k),
            lambda d: "\n\n".join(_hits_text(r) for r in d["results"]),
        )

    @tool
    def get_passage(passage_id: int) -> CallToolResult:
        """The full text of one passage (by the passage_id of a hit), and every place
        in the documents where it stands."""
        return _answer(lambda: service.passage(passage_id), lambda d: d["text"])

    @tool
    def get_document(source: str) -> CallToolResult:
        """All passages of an indexed document, in reading order with their offsets:
        the context around a hit (pass the hit's source)."""
        return _answer(
            lambda: service.document(source),
            lambda d: "\n\n".join(f"[{p['start']}-{p['end']}] {p['text']}" for p in d["passages"]),
        )

    return server


def _answer(
    call: Callable[[], dict[str, Any]], text: Callable[[dict[str, Any]], str]
) -> CallToolResult:
    try:
        data = call()
    except SemsearchError as exc:
        return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
    return CallToolResult(
        content=[TextContent(type="text", text=text(data))], structured_content=data
    )


def _hits_text(result: dict[str, Any]) -> str:
    lines = [f"Question: {result['query']}"]
    for h in result["hits"]:
        lines.append(
            f"{h['rank']}. {h['source']}:{h['start']}-{h['end']}  {h['highlight']['text']}"
        )
    if not result["hits"]:
        lines.append("(no passage found)")
    return "\n".join(lines)
