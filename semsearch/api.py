"""The HTTP API (FastAPI): each route a few lines over :class:`~.service.Service`.

Errors become JSON ``{"detail": "..."}`` here and only here: a bad question or
parameter is 422, malformed JSON 400, a missing passage 404, a path outside
the allowed folders (or a write to a read-only server) 403, a body over the
limit 413, a missing or wrong token 401, an index that cannot answer 503. ``/`` serves the search page; ``/docs`` and ``/openapi.json`` the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import InputError, SemsearchError
from .guard import LOOPBACK_NAMES, Guard
from .service import (
    MAX_BATCH,
    MAX_K,
    ForbiddenPathError,
    NotFoundError,
    Service,
    WritesDisabledError,
)

OPEN_PATHS = ("/health", "/")
"""Routes open without the token: the page asks for it, a monitor needs no secret."""
MAX_BODY = 1_000_000
"""Largest request body accepted, in bytes (a batch of 1,000 long questions fits)."""
Mode = Literal["hybrid", "dense", "lexical"]


class SearchRequest(BaseModel):
    query: str = Field(description="The question, in any language.")
    k: int = Field(5, ge=1, le=MAX_K, description="How many passages to return.")
    mode: Mode = "hybrid"


class BatchRequest(BaseModel):
    queries: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    k: int = Field(5, ge=1, le=MAX_K)
    mode: Mode = "hybrid"


class PathsRequest(BaseModel):
    paths: list[str] = Field(min_length=1, description="Files or folders inside the allowed roots.")


def create_app(
    service: Service,
    *,
    token: str | None = None,
    cors: list[str] | None = None,
    hosts: Sequence[str] = LOOPBACK_NAMES,
) -> ASGIApp:
    """The API over ``service`` behind a :class:`~.guard.Guard`: only ``hosts`` in the
    Host header, no change from a foreign Origin (``cors`` ones allowed), and with
    ``token`` every route but ``/health`` and the page needs ``Authorization: Bearer TOKEN``."""
    app = FastAPI(
        title="semsearch",
        summary="Multilingual semantic search over a folder of documents.",
        version="1",
    )

    @app.get("/health")
    def health() -> dict[str, Any]:
        return service.health()

    @app.post("/search")
    def search(body: SearchRequest) -> dict[str, Any]:
        return service.search(body.query, body.k, body.mode)

    @app.post("/search/batch")
    def search_batch(body: BatchRequest) -> dict[str, Any]:
        return service.search_batch(body.queries, body.k, body.mode)

    @app.get("/documents")
    def documents() -> dict[str, Any]:
        return {"documents": service.documents()}

    @app.get("/documents/passages")
    def document(source: str) -> dict[str, Any]:
        return service.document(source)

    @app.get("/passages/{passage_id}")
    def passage(passage_id: int) -> dict[str, Any]:
        return service.passage(passage_id)

    @app.post("/index")
    def add(body: PathsRequest) -> dict[str, Any]:
        return service.add(body.paths)

    @app.delete("/documents")
    def remove(body: PathsRequest) -> dict[str, Any]:
        return service.remove(body.paths)

    search_page = resources.files("semsearch").joinpath("templates/search.html").read_text("utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return search_page

    _errors(app)
    if cors:
        app.add_middleware(
            CORSMiddleware, allow_origins=cors, allow_methods=["*"], allow_headers=["*"]
        )
    app.add_middleware(_BodyLimit, limit=MAX_BODY)
    return Guard(app, token=token, hosts=hosts, origins=cors or [], open_paths=OPEN_PATHS)


def _errors(app: FastAPI) -> None:
    statuses: list[tuple[type[SemsearchError], int]] = [
        (NotFoundError, 404),
        (ForbiddenPathError, 403),
        (WritesDisabledError, 403),
        (InputError, 422),
        (SemsearchError, 503),  # the index cannot answer now (damaged, another model)
    ]

    @app.exception_handler(SemsearchError)
    def library_error(request: Request, exc: SemsearchError) -> JSONResponse:
        status = next(code for kind, code in statuses if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            return JSONResponse({"detail": f"malformed JSON: {first.get('msg')}"}, status_code=400)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        if not where:
            detail = 'the body must be a JSON object (Content-Type: application/json), e.g. {"query": "...", "k": 5}'
            return JSONResponse({"detail": detail}, status_code=422)
        got = f" (got {first['input']!r})" if "input" in first else ""
        return JSONResponse({"detail": f"{where}: {first.get('msg')}{got}"}, status_code=422)


class _BodyLimit:
    """413 for a request body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_large = JSONResponse(
            {"detail": f"request body over {self.limit:,} bytes; send fewer or shorter questions"},
            status_code=413,
        )
        if declared.isdigit() and int(declared) > self.limit:
            await too_large(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await too_large(scope, receive, send)


class _TooLarge(Exception):
    pass
