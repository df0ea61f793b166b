"""The HTTP API (FastAPI): each route a few lines over :class:`~.service.Service`.

Errors become JSON ``{"detail": "..."}`` here and only here: a bad question or
parameter is 422, malformed JSON 400, a missing passage 404, a path outside
the allowed folders, a write to a read-only server or from a foreign Origin
403, a body over the limit 413, a missing or wrong token 401, a Host that is
not the server's 421, an index that cannot answer (or a server that is
stopping, or too many batches waiting) 503. ``/openapi.json`` declares each
of these per route, with that body. ``/`` serves the search page; ``/docs`` the schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DiskError, InputError, SemsearchError
from .guard import LOOPBACK_NAMES, Guard
from .service import (
    MAX_BATCH,
    MAX_HITS,
    MAX_K,
    BusyError,
    ForbiddenPathError,
    NotFoundError,
    Service,
    WritesDisabledError,
)

OPEN_PATHS = ("/health", "/", "/openapi.json", "/docs")
"""Routes open without the token: the page asks for it, a monitor and the schema need no secret."""
MAX_BODY = 1_000_000
"""Largest request body accepted, in bytes (a batch of 1,000 long questions fits)."""
QUEUED_BATCHES = 4
"""Batches that may wait for the one running; more get 503 with Retry-After."""
RETRY_AFTER = "5"
Mode = Literal["hybrid", "dense", "lexical"]
BOUNDS = (
    f"Bounds: k 1..{MAX_K}; a batch 1..{MAX_BATCH} questions and at most {MAX_HITS:,} "
    f"passages (questions x k); a body at most {{body:,}} bytes. One batch runs at a time, "
    f"beside single questions, {QUEUED_BATCHES} more may wait; beyond, 503 with Retry-After."
)


class ErrorBody(BaseModel):
    """Every error the server sends: one line naming the bad value and what to do."""

    detail: str


_WHY = {
    400: "malformed JSON",
    401: "missing or wrong token (with --token)",
    403: "outside the allowed folders, writes disabled, or a foreign Origin",
    404: "no such passage or document",
    413: "body over the limit",
    421: "Host is not a name of this server (--allow-host)",
    422: "a value out of bounds or missing",
    503: "the index cannot answer now, the server is stopping, or too busy",
    507: "the disk is full or read-only: the index is as it was",
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route really sends, with their one body shape."""
    return {c: {"model": ErrorBody, "description": _WHY[c]} for c in (421, 503, 507, *codes)}


ASK = _responses(400, 401, 403, 413, 422)
WRITE = _responses(400, 401, 403, 404, 413, 422)


SPACES = "".join(f"\\u{c:04x}" for c in range(0x3001) if chr(c).isspace())
ASKS_SOMETHING: dict[str, Any] = {"type": "string", "pattern": f"[^{SPACES}]"}
"""A question holds something besides the spaces ``str.strip`` takes away: declared
in the schema, not enforced by pydantic, so that the service's own check says what is wrong."""
QUESTION = Field(description="The question, in any language.", json_schema_extra=ASKS_SOMETHING)
A_PATH: dict[str, Any] = {"type": "string", "pattern": "^[^\\x00]*$"}


class SearchRequest(BaseModel):
    query: str = QUESTION
    k: int = Field(5, ge=1, le=MAX_K, description="How many passages to return.")
    mode: Mode = "hybrid"


class BatchRequest(BaseModel):
    queries: list[str] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        json_schema_extra={"items": ASKS_SOMETHING},
    )
    k: int = Field(5, ge=1, le=MAX_K)
    mode: Mode = "hybrid"


class PathsRequest(BaseModel):
    paths: list[str] = Field(
        min_length=1,
        description="Files or folders inside the allowed roots.",
        json_schema_extra={"items": A_PATH},
    )


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
        description=BOUNDS.format(body=MAX_BODY),
        version="1",
    )
    batch_turn = anyio.Semaphore(1)

    @app.get("/health", responses=_responses())
    def health() -> dict[str, Any]:
        return service.health()

    @app.post("/search", responses=ASK)
    def search(body: SearchRequest) -> dict[str, Any]:
        return service.search(body.query, body.k, body.mode)

    @app.post("/search/batch", responses=ASK, description=BOUNDS.format(body=MAX_BODY))
    async def search_batch(body: BatchRequest) -> dict[str, Any]:
        """One batch at a time, waiting without holding a thread, so that single
        questions keep their threads and the encoder between a batch's chunks."""
        if batch_turn.statistics().tasks_waiting >= QUEUED_BATCHES:
            raise BusyError(f"{QUEUED_BATCHES} batches are waiting already; send it again later")
        async with batch_turn:
            return await anyio.to_thread.run_sync(
                service.search_batch, body.queries, body.k, body.mode
            )

    @app.get("/documents", responses=_responses(401))
    def documents() -> dict[str, Any]:
        return {"documents": service.documents()}

    @app.get("/documents/passages", responses=_responses(401, 403, 404, 422))
    def document(source: str = Query(json_schema_extra=A_PATH)) -> dict[str, Any]:
        return service.document(source)

    @app.get("/passages/{passage_id}", responses=_responses(401, 404, 422))
    def passage(passage_id: int) -> dict[str, Any]:
        return service.passage(passage_id)

    @app.post("/index", responses=WRITE)
    def add(body: PathsRequest) -> dict[str, Any]:
        return service.add(body.paths)

    @app.delete("/documents", responses=WRITE)
    def remove(body: PathsRequest) -> dict[str, Any]:
        return service.remove(body.paths)

    search_page = resources.files("semsearch.server").joinpath("search.html").read_text("utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return search_page

    _errors(app)
    app.add_middleware(_Methods, routes=app.router.routes)
    if cors:
        app.add_middleware(
            CORSMiddleware, allow_origins=cors, allow_methods=["*"], allow_headers=["*"]
        )
    app.add_middleware(_BodyLimit, limit=MAX_BODY)
    app.add_middleware(_Stopping)
    return Guard(app, token=token, hosts=hosts, origins=cors or [], open_paths=OPEN_PATHS)


def _errors(app: FastAPI) -> None:
    statuses: list[tuple[type[SemsearchError], int]] = [
        (NotFoundError, 404),
        (ForbiddenPathError, 403),
        (WritesDisabledError, 403),
        (InputError, 422),
        (DiskError, 507),  # the disk refused a write: nothing to rebuild
        (SemsearchError, 503),  # the index cannot answer now (damaged, another model)
    ]

    @app.exception_handler(SemsearchError)
    def library_error(request: Request, exc: SemsearchError) -> JSONResponse:
        status = next(code for kind, code in statuses if isinstance(exc, kind))
        retry = {"Retry-After": RETRY_AFTER} if isinstance(exc, BusyError) else None
        # a path the client sent may hold a lone surrogate, which JSON cannot carry
        detail = str(exc).encode("utf-8", "backslashreplace").decode()
        return JSONResponse({"detail": detail}, status_code=status, headers=retry)

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
    """413 for a request body over ``limit`` bytes, declared or streamed (chunked):
    the body is read here, at most ``limit`` bytes of it, before the route sees it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > self.limit:
                await self._too_large(scope, receive, send)
                return
        body: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

        async def replay() -> Message:
            return body.pop() if body else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        asking = scope["path"].startswith("/search")
        fewer = "send fewer or shorter questions" if asking else "name fewer paths"
        detail = f"request body over {self.limit:,} bytes; {fewer}"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


class _Methods:
    """OPTIONS answers, and 405s list, every method a path has (Starlette names
    only the first route's, so ``/documents`` would hide DELETE)."""

    def __init__(self, app: ASGIApp, routes: list[Any]) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            matches = [r.matches(scope)[0] for r in self.routes]
            methods = {
                m
                for r, match in zip(self.routes, matches, strict=True)
                if match is not Match.NONE
                for m in getattr(r, "methods", None) or ()
            }
            if methods and Match.FULL not in matches:
                allow = {"Allow": ", ".join(sorted(methods | {"OPTIONS"}))}
                if scope["method"] == "OPTIONS":
                    response: Response = Response(status_code=204, headers=allow)
                else:
                    detail = f"{scope['method']} is not allowed here; use {allow['Allow']}"
                    response = JSONResponse({"detail": detail}, status_code=405, headers=allow)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Stopping:
    """A request the server must give up as it stops (a second SIGTERM or Ctrl-C)
    gets 503 with Retry-After, not a bare 500; the index stays as it was."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError:
            if scope["type"] != "http" or started:
                raise
            # answered: the cancellation ends here, uvicorn has nothing to log
            detail = "the server is stopping; send the request again when it is back"
            headers = {"Retry-After": RETRY_AFTER}
            with anyio.CancelScope(shield=True):
                await JSONResponse({"detail": detail}, 503, headers)(scope, receive, send)
