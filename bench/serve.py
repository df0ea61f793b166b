"""What the server buys and costs, side by side in one run on the seeds:

- in-process ``Index.search`` (the floor) against ``POST /search`` on a real
  ``semsearch serve`` process over loopback, p50/p99 with 1, 4 and 16
  concurrent clients, a new question each time (the question cache does not help);
- a cold ``semsearch ask`` of the same questions (what the server saves);
- two loads of 2,000 new questions each from 8 clients: errors, and the server's
  resident memory before and after each.

With ``--large N`` the same on a stand-in index of N passages (bench/scale.py's
clustered vectors; each question is still embedded by e5 and the vector thrown
away), served by a process that opens it with that encoder.

Usage: python bench/serve.py [--load 2000] [--large 100000 --workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from semsearch import Index

REPO = Path(__file__).resolve().parent.parent
SEMSEARCH = str(Path(sys.executable).parent / "semsearch")
TOPICS = ["withdrawal", "Qaim base", "soldiers in Syria", "Kadhimi", "coalition", "Anbar"]


def questions(n: int, salt: str) -> list[str]:
    return [f"{salt} {i}: what happened with the {TOPICS[i % len(TOPICS)]}?" for i in range(n)]


def percentiles(samples: list[float]) -> str:
    cut = statistics.quantiles(samples, n=100)
    return f"p50 {cut[49] * 1000:6.1f} ms  p99 {cut[98] * 1000:6.1f} ms"


def concurrent(clients: int, asks: list[str], call) -> list[float]:
    """Each client asks its share of ``asks`` in turn; the latency of every call."""
    times: list[float] = []
    lock = threading.Lock()

    def run(mine: list[str]) -> None:
        for q in mine:
            started = time.perf_counter()
            call(q)
            with lock:
                times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=run, args=(asks[i::clients],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory: all of it, anonymous (the heap), and file pages (mapped models)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}


def shown(m: dict[str, float]) -> str:
    return f"{m['VmRSS']:.0f} MB (heap {m['RssAnon']:.0f}, mapped files {m['RssFile']:.0f})"


STAND_IN_SERVER = """
import sys
sys.path.insert(0, {bench!r})
import uvicorn
from scale import ClusteredEncoder
from semsearch import Index
from semsearch.server.http import create_app
from semsearch.server.service import Service
idx = Index.open({index!r}, encoder=ClusteredEncoder(embed_questions=True))
idx.search("warm up", k=1)
uvicorn.run(create_app(Service(idx)), host="127.0.0.1", port={port}, log_level="warning")
"""


def start_server(command: list[str], cwd: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [c.format(port=port) for c in command]
    server = subprocess.Popen(command, cwd=cwd, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(url + "/health")
            return server, url
        except httpx.TransportError:
            time.sleep(0.2)


def measure(label: str, idx: Index, server: subprocess.Popen, url: str, load_n: int) -> None:
    client = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=32))
    idx.search("warm up", k=5)

    def http(q: str) -> None:
        client.post(url + "/search", json={"query": q, "k": 5}).raise_for_status()

    print(f"{label}, hybrid, k=5, a new question each time:")
    for clients in (1, 4, 16):
        n = 40 * clients if clients < 16 else 320
        local = concurrent(clients, questions(n, f"local{clients}"), lambda q: idx.search(q, k=5))
        remote = concurrent(clients, questions(n, f"http{clients}"), http)
        print(
            f"  {clients:2d} clients  in-process {percentiles(local)}  |  HTTP {percentiles(remote)}"
        )
    errors = 0

    def load(q: str) -> None:
        nonlocal errors
        try:
            http(q)
        except httpx.HTTPError:
            errors += 1

    # The first load fills the question cache (4,096 entries) and maps the model pages
    # new words touch; the second, of as many new questions, shows whether memory is flat.
    for run in ("first", "second"):
        before = memory_mb(server.pid)
        started = time.perf_counter()
        concurrent(8, questions(load_n, f"load-{run}"), load)
        took = time.perf_counter() - started
        after = memory_mb(server.pid)
        growth = (after["VmRSS"] - before["VmRSS"]) / before["VmRSS"]
        print(
            f"  {run} load: {load_n} requests from 8 clients in {took:.1f} s "
            f"({load_n / took:.0f}/s), {errors} errors so far; server memory "
            f"{shown(before)} -> {shown(after)} ({growth:+.1%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", type=int, default=2000)
    parser.add_argument(
        "--large", type=int, default=0, help="also serve a stand-in index of this many passages"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the large index")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "seeds", work / "seeds")
        subprocess.run([SEMSEARCH, "index", "seeds", "-q"], cwd=work, check=True)
        server, url = start_server([SEMSEARCH, "serve", "--port", "{port}"], work)
        measure("seeds (55 passages)", Index.open(work / "index"), server, url, args.load)
        cold = []
        for q in questions(10, "cold"):
            started = time.perf_counter()
            subprocess.run(
                [SEMSEARCH, "ask", q, "-k", "5"], cwd=work, check=True, capture_output=True
            )
            cold.append(time.perf_counter() - started)
        print(f"  cold semsearch ask: median {statistics.median(cold) * 1000:.0f} ms (10 runs)")
        server.terminate()
        server.wait(timeout=60)
    if args.large:
        sys.path.insert(0, str(REPO / "bench"))
        from scale import ClusteredEncoder, _built

        work = args.workdir or Path(tempfile.mkdtemp())
        directory, build_s = _built(work / str(args.large), args.large)
        print(f"stand-in index of {args.large:,} passages (built in {build_s:.0f} s)")
        code = STAND_IN_SERVER.format(
            bench=str(REPO / "bench"), index=str(directory), port="{port}"
        )
        server, url = start_server([sys.executable, "-c", code], work)
        idx = Index.open(directory, encoder=ClusteredEncoder(embed_questions=True))
        measure(
            f"{args.large:,} passages (stand-in vectors, e5 embeds each question)",
            idx,
            server,
            url,
            args.load,
        )
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
