"""FAISS index types on clustered 384-dim vectors: build, size, memory, latency, recall@10.

Groundwork for `--index-type` (issue: scale and speed). Random Gaussian vectors
make every approximate index look bad, so the vectors here are clustered like
text embeddings: a few thousand topic centres, points scattered around them,
L2-normalised; queries are drawn the same way. Exact flat search is the
reference for recall and the numpy brute force (matmul + argpartition) is the
baseline for speed, both measured in the same run.

Usage: python bench/ann.py [--sizes 10000 100000 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

DIM = 384


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Points near random topic centres, normalised (cosine ~0.75-0.9 within a topic)."""
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        picks = centres[rng.integers(0, len(centres), m)]
        noise = rng.standard_normal((m, DIM), dtype=np.float32) * 0.045
        block = picks + noise
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def factories(n: int) -> dict[str, str]:
    lists = max(64, int(4 * np.sqrt(n)))
    return {
        "flat (exact)": "Flat",
        "HNSW32,SQ8": "HNSW32,SQ8",
        f"IVF{lists},SQ8": f"IVF{lists},SQ8",
    }


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4096, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")
    print(
        f"{'n':>9} {'index':16} {'build s':>8} {'MB disk':>8} {'open s':>7} {'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9}"
    )
    for n in args.sizes:
        data = clustered(n, rng, centres)
        queries = clustered(args.queries, rng, centres)
        truth = None
        started = time.perf_counter()
        for q in queries[:50]:
            part = np.argpartition(-(data @ q), 10)[:10]
        brute = (time.perf_counter() - started) / 50
        print(f"{n:>9} {'numpy brute force':16} {'':>8} {'':>8} {'':>7} {brute * 1e3:7.2f}")
        with tempfile.TemporaryDirectory() as tmp:
            for name, factory in factories(n).items():
                index = faiss.index_factory(DIM, factory, faiss.METRIC_INNER_PRODUCT)
                started = time.perf_counter()
                if not index.is_trained:
                    index.train(data[rng.choice(n, min(n, 100_000), replace=False)])
                index.add(data)
                build = time.perf_counter() - started
                path = Path(tmp) / "x.faiss"
                faiss.write_index(index, str(path))
                size = os.path.getsize(path) / 2**20
                started = time.perf_counter()
                index = faiss.read_index(str(path))
                opened = time.perf_counter() - started
                if "IVF" in factory:
                    faiss.extract_index_ivf(index).nprobe = 16
                if "HNSW" in factory:
                    index.hnsw.efSearch = 64
                lat = []
                found = []
                for q in queries:
                    t = time.perf_counter()
                    _, ids = index.search(q[None, :], 10)
                    lat.append(time.perf_counter() - t)
                    found.append(ids[0])
                if truth is None:
                    truth = found
                recall = np.mean(
                    [len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]
                )
                p50, p99 = np.percentile(lat, [50, 99]) * 1e3
                print(
                    f"{n:>9} {name:16} {build:8.1f} {size:8.0f} {opened:7.2f} {p50:7.2f} {p99:7.2f} {recall:9.3f}"
                )
                del index
        print(f"  (peak RSS so far {rss_mb():.0f} MB; `part` from the brute force: {len(part)})")


if __name__ == "__main__":
    main()
