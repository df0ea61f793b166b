"""How fast a question is answered on the seeds index.

Prints, side by side in one run:
- cold CLI: wall time of `semsearch ask` as a new process (imports, open, encode, search);
- warm library: Index.search latency, vs a numpy brute-force baseline (encode + matmul +
  argsort over the same vectors), so the ratio is what the index adds or saves.

Usage: python bench/query_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from semsearch import Index

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "when did the Qaim base handover happen",
    "how many soldiers in Syria",
    "who is Farhad Alaa al-Din",
    "متى وقعت اتفاقية الإطار الاستراتيجي؟",
]


def _ms(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples) * 1e3:7.1f} ms   max {max(samples) * 1e3:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "seeds", work / "seeds")
        started = time.perf_counter()
        idx = Index.create([work / "seeds"], work / "index")
        print(f"build: {time.perf_counter() - started:.2f} s for {len(idx)} passages")

        script = Path(sys.executable).parent / "semsearch"
        cli = []
        for _ in range(max(3, args.runs // 4)):
            t = time.perf_counter()
            subprocess.run(
                [str(script), "ask", QUESTIONS[0], "--json"],
                cwd=work,
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - t)
        print(f"cold CLI `semsearch ask`:      {_ms(cli)}")

        ids = np.array([p.passage_id for p in idx.passages()])
        matrix = idx.vectors(ids.tolist())
        ours, base = [], []
        for _ in range(args.runs):
            for q in QUESTIONS:
                t = time.perf_counter()
                idx.search(q, k=5)
                ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                v = idx.encoder.encode_queries([q])[0]
                ids[np.argsort(-(matrix @ v))[:5]]
                base.append(time.perf_counter() - t)
        print(f"warm Index.search (k=5):       {_ms(ours)}")
        print(f"warm numpy brute force (k=5):  {_ms(base)}")
        print(
            f"ratio search / brute force:    {statistics.median(ours) / statistics.median(base):.2f}"
        )


if __name__ == "__main__":
    main()
