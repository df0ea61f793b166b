"""semsearch serve and semsearch mcp, for real: server processes on free loopback
ports, an MCP client session from the SDK over stdio, and the search page driven
in the system's headless Chromium through Playwright."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from semsearch import Index
from semsearch.extras import install_command

from ..conftest import CHROMIUM_FLAGS, QAIM, write
from ..servers import SEMSEARCH, Server, start_mcp_http

T = TypeVar("T")
QUESTION = "when did the Qaim base handover happen"


@pytest.fixture(scope="module")
def server(corpus: Path) -> Iterator[Server]:
    s = Server(corpus / "index", "--allow-writes", "--root", str(corpus / "inbox"))
    yield s
    assert s.stop() == 0


def test_search_returns_the_hits_ask_json_prints(server: Server, corpus: Path) -> None:
    response = server.post("/search", {"query": QUESTION, "k": 3})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert len(hits) == 3 and QAIM in hits[0]["text"]
    ask = subprocess.run(
        [SEMSEARCH, "ask", QUESTION, "-k", "3", "--json", "--index", str(corpus / "index")],
        capture_output=True, text=True, check=True, cwd=corpus,
    )  # fmt: skip
    import json

    printed = json.loads(ask.stdout)["hits"]
    assert [(h["passage_id"], h["start"], h["highlight"]) for h in hits] == [
        (h["passage_id"], h["start"], h["highlight"]) for h in printed
    ]
    assert set(hits[0]) == set(printed[0])


def test_a_batch_is_answered_in_order(server: Server) -> None:
    body = {"queries": [QUESTION, "كم عدد الجنود الأمريكيين في سوريا؟"], "k": 2}
    results = server.post("/search/batch", body).json()["results"]
    assert [r["query"] for r in results] == body["queries"]
    assert QAIM in results[0]["hits"][0]["text"] and "900" in results[1]["hits"][0]["text"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"query": "   "}, 422, "empty question"),
        ({"query": "x" * 2001}, 422, "2,001 characters; at most 2,000"),
        ({"query": "x", "k": 0}, 422, "k: Input should be greater than or equal to 1 (got 0)"),
        ({"query": "x", "k": 101}, 422, "less than or equal to 100 (got 101)"),
        ({"query": "x", "mode": "fuzzy"}, 422, "'hybrid', 'dense' or 'lexical' (got 'fuzzy')"),
        ({"k": 3}, 422, "query: Field required"),
        ([1, 2], 422, "the body must be a JSON object"),
        ({"query": "x" * 1_100_000}, 413, "request body over 1,000,000 bytes"),
    ],
)
def test_bad_requests_get_a_status_and_a_detail_naming_the_value(
    server: Server, body: object, status: int, detail: str
) -> None:
    response = server.post("/search", body)
    assert response.status_code == status and detail in response.json()["detail"]


def test_malformed_json_and_unknown_things(server: Server) -> None:
    response = httpx.post(
        server.url + "/search", content=b'{"query":', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "malformed JSON" in response.json()["detail"]
    assert httpx.get(server.url + "/passages/999999").status_code == 404
    documents = httpx.get(server.url + "/documents").json()["documents"]
    assert len(documents) == 5
    passage = httpx.get(server.url + "/passages/1").json()
    assert passage["passage_id"] == 1 and passage["occurrences"]
    document = httpx.get(server.url + "/documents/passages", params={"source": documents[0]})
    assert document.status_code == 200 and document.json()["passages"][0]["start"] >= 0
    health = httpx.get(server.url + "/health").json()
    assert health["documents"] == 5 and health["model"] == "e5-small-q4+use-m3"
    assert "/search" in httpx.get(server.url + "/openapi.json").json()["paths"]


def test_clients_cannot_reach_outside_the_allowed_folders(server: Server, corpus: Path) -> None:
    (corpus / "secret.txt").write_text("A secret paragraph that is long enough to be a passage.\n")
    (corpus / "inbox" / "link.txt").symlink_to(corpus / "secret.txt")
    for path in (
        "/etc/passwd",
        str(corpus / "secret.txt"),
        str(corpus / "inbox" / ".." / "secret.txt"),
        str(corpus / "inbox" / "link.txt"),  # a link inside that leads out
    ):
        response = server.post("/index", {"paths": [path]})
        assert response.status_code == 403, path
        assert (
            "outside the folders" in response.json()["detail"]
            or "'..'" in response.json()["detail"]
        )
        listed = httpx.get(server.url + "/documents/passages", params={"source": path})
        assert listed.status_code == 403, path
    assert len(httpx.get(server.url + "/documents").json()["documents"]) == 5


def test_a_write_is_seen_by_the_next_search_then_removed(server: Server, corpus: Path) -> None:
    note = write(
        corpus / "inbox" / "zebra.txt",
        "The zebra festival of Timbuktu opened on Tuesday with three hundred painted drums.\n",
    )
    added = server.post("/index", {"paths": [str(note)]})
    assert added.status_code == 200 and added.json()["embedded"] >= 1
    hit = server.post("/search", {"query": "zebra festival drums", "k": 1}).json()["hits"][0]
    assert hit["source"] == str(note.resolve())
    removed = httpx.request(
        "DELETE", server.url + "/documents", json={"paths": [str(note)]}, timeout=60
    )
    assert removed.status_code == 200 and removed.json()["removed"] == [str(note.resolve())]
    hits = server.post("/search", {"query": "zebra festival drums", "k": 3}).json()["hits"]
    assert all(h["source"] != str(note.resolve()) for h in hits)


def test_a_token_guards_every_route_but_health_and_a_read_only_server_refuses_writes(
    corpus: Path,
) -> None:
    guarded = Server(corpus / "index", "--token", "s3cret")
    try:
        assert httpx.get(guarded.url + "/health").status_code == 200
        assert httpx.get(guarded.url + "/").status_code == 200  # the page asks for the token
        refused = guarded.post("/search", {"query": QUESTION})
        assert refused.status_code == 401 and "Bearer" in refused.json()["detail"]
        wrong = guarded.post("/search", {"query": QUESTION}, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        ok = guarded.post(
            "/search", {"query": QUESTION}, headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
        write_attempt = guarded.post(
            "/index", {"paths": [str(corpus / "inbox")]}, headers={"Authorization": "Bearer s3cret"}
        )
        assert (
            write_attempt.status_code == 403 and "--allow-writes" in write_attempt.json()["detail"]
        )
    finally:
        assert guarded.stop() == 0


@pytest.mark.slow
def test_sigterm_lets_requests_in_flight_finish(corpus: Path) -> None:
    s = Server(corpus / "index")
    batch = {"queries": [f"question {i} about the coalition withdrawal" for i in range(150)]}
    statuses: list[int] = []

    def ask() -> None:
        statuses.append(s.post("/search/batch", batch).status_code)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the requests are in the server, embedding
    assert s.stop() == 0
    for t in threads:
        t.join()
    assert statuses == [200, 200, 200]


def _inbox_with_a_long_write(corpus: Path, tmp_path: Path, files: int) -> tuple[Path, Path]:
    """A copy of the served index, and an inbox whose indexing takes some seconds."""
    shutil.copytree(corpus / "index", tmp_path / "index")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(files):
        paragraphs = (
            f"Paragraph {j} of report {i}: base {i * 100 + j} was handed over." for j in range(30)
        )
        write(inbox / f"report{i}.txt", "\n\n".join(paragraphs))
    return tmp_path / "index", inbox


@pytest.mark.slow
def test_sigterm_finishes_a_write_in_flight(corpus: Path, tmp_path: Path) -> None:
    index, inbox = _inbox_with_a_long_write(corpus, tmp_path, files=8)
    s = Server(index, "--allow-writes", "--root", str(inbox))
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(s.post, "/index", {"paths": [str(inbox)]}, timeout=300)
        time.sleep(2)  # the write is embedding
        assert s.stop() == 0
        response = answer.result()
    assert response.status_code == 200 and len(response.json()["added"]) == 8
    assert len(Index.open(index).documents()) == 5 + 8


@pytest.mark.slow
def test_a_second_ctrl_c_answers_503_and_keeps_the_index_as_it_was(
    corpus: Path, tmp_path: Path
) -> None:
    index, inbox = _inbox_with_a_long_write(corpus, tmp_path, files=40)
    s = Server(index, "--allow-writes", "--root", str(inbox))
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(s.post, "/index", {"paths": [str(inbox)]}, timeout=300)
        time.sleep(2)  # the write is embedding
        s.process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert s.stop(signal.SIGINT) == 0
        response = answer.result()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "stopping" in response.json()["detail"]
    assert "Traceback" not in s.process.stderr.read()
    check = subprocess.run(
        [SEMSEARCH, "check", "--index", str(index)], capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stdout.startswith("ok: 5 documents"), check


def test_without_the_extra_the_error_names_the_install_command(tmp_path: Path) -> None:
    blocker = write(tmp_path / "sitecustomize.py", "import sys\nsys.modules['uvicorn'] = None\n")
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    result = subprocess.run([SEMSEARCH, "serve"], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: semsearch serve needs the serve extra: {install_command('serve')}"
    )


# -- MCP ----------------------------------------------------------------------------


def _run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run an MCP client on a thread of its own: Playwright's sync API keeps an event
    loop running on the main thread while its browser fixture lives."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_an_mcp_client_lists_the_tools_and_searches(corpus: Path) -> None:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=SEMSEARCH, args=["mcp", "--index", str(corpus / "index")], cwd=str(corpus)
    )

    async def session() -> tuple[list, object, object, object]:
        async with stdio_client(params) as (read, write_), ClientSession(read, write_) as client:
            await client.initialize()
            tools = (await client.list_tools()).tools
            found = await client.call_tool("search", {"query": QUESTION, "k": 2})
            passage = await client.call_tool("get_passage", {"passage_id": 999999})
            document = await client.call_tool(
                "get_document", {"source": found.structured_content["hits"][0]["source"]}
            )
            return tools, found, passage, document

    tools, found, passage, document = _run_async(session())
    assert {t.name for t in tools} == {"search", "search_batch", "get_passage", "get_document"}
    search = next(t for t in tools if t.name == "search")
    assert "any language" in search.description and "Arabic" in search.description
    hits = found.structured_content["hits"]
    assert len(hits) == 2 and QAIM in hits[0]["text"] and not found.is_error
    text = found.content[0].text
    assert f"1. {hits[0]['source']}:{hits[0]['start']}-{hits[0]['end']}" in text
    assert passage.is_error and "no passage with id 999999" in passage.content[0].text
    assert any(QAIM in p["text"] for p in document.structured_content["passages"])


# -- the search page in a real browser ---------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def test_the_search_page_answers_in_a_real_browser(
    browser, server: Server, corpus: Path, tmp_path: Path
) -> None:
    hostile = write(
        corpus / "inbox" / "hostile.txt",
        "A report on the pelican census <script>window.pwned = 1</script> and "
        '<img src=x onerror="window.pwned = 2"> in the marshes of Basra.\n',
    )
    assert server.post("/index", {"paths": [str(hostile)]}).status_code == 200
    page = browser.new_page()
    page.goto(server.url + "/")
    page.keyboard.type(QUESTION)  # the box has the focus
    page.keyboard.press("Enter")
    page.wait_for_selector("li.hit")
    first = page.locator("li.hit").first
    assert QAIM in first.inner_text()
    assert first.locator("mark").inner_text() in first.inner_text()
    assert first.locator("p.text").get_attribute("dir") == "auto"
    shot = corpus / "search-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.fill("#query", "pelican census in the marshes")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#status').textContent.includes('passages')")
    shown = page.locator("li.hit").first.inner_text()
    assert "<script>window.pwned = 1</script>" in shown and "<img src=x" in shown
    assert page.evaluate("window.pwned") is None
    page.close()


def test_a_busy_port_is_one_line_naming_it(corpus: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        result = subprocess.run(
            [SEMSEARCH, "serve", "--index", str(corpus / "index"), "--port", str(port)],
            capture_output=True,
            text=True,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use); choose another --port\n"
    )


def test_a_write_by_another_process_is_seen_by_the_next_search(
    server: Server, corpus: Path
) -> None:
    note = write(
        corpus / "inbox" / "heron.txt",
        "The grey heron count on the Tigris doubled this spring, the ministry of water said.\n",
    )
    index = ["--index", str(corpus / "index"), "-q"]
    subprocess.run([SEMSEARCH, "index", str(note), *index], check=True, cwd=corpus)
    hits = server.post("/search", {"query": "grey heron count Tigris", "k": 1}).json()["hits"]
    assert hits[0]["source"] == str(note.resolve())
    subprocess.run([SEMSEARCH, "remove", str(note), "--index", str(corpus / "index")], check=True)
    hits = server.post("/search", {"query": "grey heron count Tigris", "k": 3}).json()["hits"]
    assert all(h["source"] != str(note.resolve()) for h in hits)


def test_the_mcp_server_answers_over_streamable_http(corpus: Path) -> None:
    from mcp import Client

    process, url = start_mcp_http(corpus / "index")

    async def ask() -> object:
        async with Client(f"{url}/mcp") as client:
            return await client.call_tool("search", {"query": QUESTION, "k": 1})

    try:
        found = _run_async(ask())
        assert QAIM in found.structured_content["hits"][0]["text"]
    finally:
        process.terminate()
        process.wait(timeout=60)
