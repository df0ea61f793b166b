"""The whole Index (SQLite + FAISS + name and word indexes) at 10k and 100k passages.

Embedding real text at this size takes hours on 2 cores, so a stand-in encoder
gives each text a clustered 384-dim vector (seeded by the text's hash); query
times therefore exclude the query embedding (add ~25 ms for e5-small-q4). The
passages are real Arabic sentences from the seeds, recombined, one file of 10
passages each. Measured per size: build, size on disk, open time, resident
memory after open, query latency (dense and hybrid), and recall@10 of the
approximate index against an exact build of the same corpus.

Usage: python bench/scale.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DIM = 384
CENTRES = np.random.default_rng(0).standard_normal((2048, DIM)).astype(np.float32)


class ClusteredEncoder:
    """Deterministic stand-in: a vector near one of 2,048 topic centres per text."""

    name = "bench-clustered"
    dim = DIM

    def _encode(self, texts) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            v = CENTRES[seed % len(CENTRES)] + 0.6 * rng.standard_normal(DIM).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

    encode_queries = _encode
    encode_passages = _encode

    def spec(self) -> dict:
        return {"name": self.name, "backend": "bench", "dim": DIM}


def _corpus(folder: Path, passages: int) -> None:
    sentences = [
        line.strip()
        for path in sorted((REPO / "seeds").glob("*.txt"))
        for line in path.read_text(encoding="utf-8").replace(".", ".\n").splitlines()
        if len(line.split()) >= 8
    ]
    rng = random.Random(3)
    folder.mkdir(parents=True)
    for f in range(passages // 10):
        paras = [f"{' '.join(rng.sample(sentences, 2))} ({f}-{p})" for p in range(10)]
        (folder / f"{f:06d}.txt").write_text("\n".join(paras) + "\n", encoding="utf-8")


def _open_child(directory: Path) -> tuple[float, float]:
    """Open time and resident memory of a fresh process that opens the index."""
    code = (
        "import time, resource, sys\n"
        f"sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(REPO / 'bench')!r})\n"
        "from scale import ClusteredEncoder\n"
        "from semsearch import Index\n"
        "t = time.perf_counter()\n"
        f"idx = Index.open({str(directory)!r}, encoder=ClusteredEncoder())\n"
        "opened = time.perf_counter() - t\n"
        "idx.search('test question', k=10)\n"
        "print(opened, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    opened, rss = out.stdout.split()
    return float(opened), float(rss)


def main() -> None:
    from semsearch import Index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"{'passages':>9} {'index':>6} {'build s':>8} {'MB disk':>8} {'open s':>7} {'RSS MB':>7} "
          f"{'dense p50':>10} {'hybrid p50':>11} {'p99':>7} {'recall@10':>9}")  # fmt: skip
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            _corpus(corpus, n)
            questions = [
                p.read_text(encoding="utf-8").splitlines()[3][:80]
                for p in sorted(corpus.glob("*"))[:50]
            ]
            exact_hits = None
            for kind in ("flat", "ivf"):
                started = time.perf_counter()
                idx = Index.build(
                    [corpus], Path(tmp) / kind, encoder=ClusteredEncoder(), index_type=kind
                )
                build = time.perf_counter() - started
                disk = (
                    sum(f.stat().st_size for f in (Path(tmp) / kind).rglob("*") if f.is_file())
                    / 2**20
                )
                opened, rss = _open_child(Path(tmp) / kind)
                timings = {}
                for mode in ("dense", "hybrid"):
                    lat = []
                    for q in questions:
                        t = time.perf_counter()
                        idx.search(q, k=10, mode=mode)
                        lat.append(time.perf_counter() - t)
                    timings[mode] = lat
                hits = [
                    [h.passage_id for h in idx.search(q, k=10, mode="dense")] for q in questions
                ]
                if exact_hits is None:
                    exact_hits = hits
                recall = np.mean(
                    [len(set(a) & set(b)) / 10 for a, b in zip(hits, exact_hits, strict=True)]
                )
                p50d = statistics.median(timings["dense"]) * 1e3
                p50h = statistics.median(timings["hybrid"]) * 1e3
                p99 = np.percentile(timings["hybrid"], 99) * 1e3
                print(f"{n:>9} {kind:>6} {build:8.1f} {disk:8.0f} {opened:7.2f} {rss:7.0f} "
                      f"{p50d:8.1f}ms {p50h:9.1f}ms {p99:5.0f}ms {recall:9.3f}")  # fmt: skip
                idx.close()
    print(
        f"(this process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
