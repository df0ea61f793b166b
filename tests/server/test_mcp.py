"""semsearch mcp against a hostile client, for real: a ``semsearch mcp`` process
spoken to in raw lines over stdio (every line answered, none hangs the client),
and tools given values no path or passage can have."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.types import INVALID_REQUEST, PARSE_ERROR

from ..servers import SEMSEARCH, start_mcp_http

SURROGATE = (
    b'{"jsonrpc": "2.0", "id": %d, "method": "tools/call", '
    b'"params": {"name": "%s", "arguments": {"%s": "\\ud800 Qaim"}}}'
)
"""A tool call whose argument holds a lone surrogate, as a JSON escape."""
ANSWER_WAIT = 120
"""Seconds a line may go unanswered before the test calls it a hang (the first waits for the model)."""


class RawStdio:
    """A ``semsearch mcp`` process written to line by line, its answers read on a thread
    so that a line left unanswered fails the test instead of blocking it."""

    def __init__(self, index: Path) -> None:
        self.process = subprocess.Popen(
            [SEMSEARCH, "mcp", "--index", str(index)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ask(
            _request(
                0,
                "initialize",
                {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "1"},
                },
            )
        )
        self.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, line: bytes) -> None:
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def ask(self, line: bytes) -> dict[str, Any]:
        """Send one line and return the one answer it gets."""
        self.send(line)
        try:
            return json.loads(self.lines.get(timeout=ANSWER_WAIT))
        except queue.Empty:
            raise AssertionError(f"no answer to {line!r}: the client would hang") from None

    def close(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def _request(request_id: int, method: str, params: dict[str, Any] | None = None) -> bytes:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method}
    return json.dumps({**body, "params": params} if params is not None else body).encode()


def _call(request_id: int, tool: str, arguments: dict[str, Any]) -> bytes:
    return _request(request_id, "tools/call", {"name": tool, "arguments": arguments})


@pytest.fixture(scope="module")
def stdio(corpus: Path) -> Iterator[RawStdio]:
    server = RawStdio(corpus / "index")
    yield server
    assert server.close() == 0


@pytest.mark.parametrize(
    ("line", "code", "request_id", "named"),
    [
        (b"{not json", PARSE_ERROR, None, "{not json"),
        (b"[1, 2]", INVALID_REQUEST, None, "[1, 2]"),
        (b"42", INVALID_REQUEST, None, "42"),
        (b'"hello"', INVALID_REQUEST, None, "hello"),
        (b'{"jsonrpc": "2.0", "id": 7, "method": 3}', INVALID_REQUEST, 7, "'method': 3"),
        (b"\xff\xfe\x00\x01garbage", PARSE_ERROR, None, "garbage"),
        (b"\xed\xa0\x80", PARSE_ERROR, None, "Invalid JSON"),  # a surrogate encoded as UTF-8
        (SURROGATE % (9, b"search", b"query"), PARSE_ERROR, 9, "lone surrogate"),
        (SURROGATE % (10, b"get_document", b"source"), PARSE_ERROR, 10, "lone surrogate"),
    ],
)
def test_every_line_stdio_cannot_read_gets_a_json_rpc_error(
    stdio: RawStdio, line: bytes, code: int, request_id: int | None, named: str
) -> None:
    answer = stdio.ask(line)
    assert answer["jsonrpc"] == "2.0" and answer["id"] == request_id
    assert answer["error"]["code"] == code and named in answer["error"]["message"]
    assert stdio.ask(_request(1, "ping")) == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_a_blank_line_is_no_message_and_gets_no_answer(stdio: RawStdio) -> None:
    stdio.send(b"")
    stdio.send(b"  \r")
    assert stdio.ask(_request(2, "ping"))["id"] == 2


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("get_passage", {"passage_id": 2**63}, "9223372036854775808"),
        ("get_passage", {"passage_id": 10**40}, str(10**40)),
        ("get_passage", {"passage_id": -1}, "-1"),
        ("get_passage", {"passage_id": "abc"}, "'abc'"),
        ("search", {"query": "q", "k": "many"}, "'many'"),
        ("get_document", {"source": "inbox/a\x00b.txt"}, "a\\x00b"),
        ("get_document", {"source": "~nosuchuser/x.txt"}, "~nosuchuser/x.txt"),
        ("search", {"query": "a\x00 question"}, None),  # a NUL is only a character
    ],
)
def test_a_tool_given_a_value_nothing_can_have_names_it(
    stdio: RawStdio, tool: str, arguments: dict[str, Any], named: str | None
) -> None:
    result = stdio.ask(_call(3, tool, arguments))["result"]
    text = result["content"][0]["text"]
    if named is None:
        assert not result.get("isError") and text.startswith("Question:")
    else:
        assert result["isError"] and named in text and "Error executing tool" not in text


# -- streamable HTTP: the same door as serve ------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def mcp_http(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    secret = tmp_path_factory.mktemp("mcp") / "token"
    secret.write_text("s3cret\n")
    process, url = start_mcp_http(corpus / "index", "--token-file", str(secret))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


def _post(url: str, **headers: str) -> Any:
    import httpx

    accept = {"Accept": "application/json, text/event-stream"}
    return httpx.post(url + "/mcp", json=INITIALIZE, headers={**accept, **headers}, timeout=30)


def test_mcp_over_http_needs_the_token(mcp_http: str) -> None:
    assert _post(mcp_http).status_code == 401
    assert _post(mcp_http, Authorization="Bearer wrong").status_code == 401
    answer = _post(mcp_http, Authorization="Bearer s3cret")
    assert answer.status_code == 200 and "serverInfo" in answer.text


def test_mcp_over_http_refuses_a_foreign_host_and_origin(mcp_http: str) -> None:
    auth = {"Authorization": "Bearer s3cret"}
    assert _post(mcp_http, Host="evil.example", **auth).status_code == 421
    foreign = _post(mcp_http, Origin="http://evil.example", **auth)
    assert foreign.status_code == 403 and "--cors" not in foreign.text  # mcp has no --cors
    assert _post(mcp_http, Origin=mcp_http, **auth).status_code == 200


def test_an_empty_token_is_refused_for_mcp_too(corpus: Path) -> None:
    import os

    env = {**os.environ, "SEMSEARCH_TOKEN": ""}
    command = [SEMSEARCH, "mcp", "--http", "--index", str(corpus / "index")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "error: $SEMSEARCH_TOKEN is empty; set it to a token or unset it"
    )
