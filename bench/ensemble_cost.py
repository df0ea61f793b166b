"""What the encoder set costs against e5 alone, side by side in one run: indexing
throughput (passages/s) and warm query latency (p50/p99, the question's
embedding included, a new question each time), on the seeds and on XQuAD's
Arabic corpus, with the same questions for both.

Usage: python bench/ensemble_cost.py [--xquad ../shared/xquad] [--questions 200] [--seeds-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from semsearch import Index
from semsearch.encoders import DEFAULT_ENCODER, E5_ENCODER, load_encoder

REPO = Path(__file__).resolve().parent.parent
ENCODERS = (E5_ENCODER, DEFAULT_ENCODER)


def build(corpus: Path, folder: Path, name: str) -> tuple[Index, float]:
    started = time.perf_counter()
    idx = Index.create([corpus], folder, encoder=name)
    return idx, len(idx) / (time.perf_counter() - started)


def latencies(idx: Index, questions: list[str]) -> tuple[float, float, float]:
    """p50 and p99 of a search, and p50 of the embedding alone (ms)."""
    idx.search("warm up the model and the caches", k=5)
    searches, embeddings = [], []
    for q in questions:
        started = time.perf_counter()
        idx.encoder.encode_queries([q + " "])  # not the cached text: the model's own time
        embeddings.append(time.perf_counter() - started)
        started = time.perf_counter()
        idx.search(q, k=5)
        searches.append(time.perf_counter() - started)
    cut = statistics.quantiles(searches, n=100)
    return cut[49] * 1000, cut[98] * 1000, statistics.median(embeddings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", type=Path, default=REPO.parent / "shared" / "xquad")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--seeds-only", action="store_true")
    args = parser.parse_args()
    rows = (args.xquad / "qrels" / "en.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(r)["question"] for r in rows][: args.questions]
    for name in ENCODERS:
        load_encoder(name).encode_passages(["load the model before timing"])
    corpora = [("seeds", REPO / "seeds")]
    if not args.seeds_only:
        corpora.append(("xquad corpus/ar", args.xquad / "corpus" / "ar"))
    print("corpus | encoder | passages | build passages/s | search p50 / p99 ms | embed p50 ms")
    for label, source in corpora:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            shutil.copytree(source, corpus)
            for name in ENCODERS:
                idx, rate = build(corpus, Path(tmp) / name, name)
                p50, p99, embed = latencies(idx, questions)
                print(
                    f"{label} | {name} | {len(idx)} | {rate:.2f} | {p50:.1f} / {p99:.1f} | {embed:.1f}",
                    flush=True,
                )
                idx.close()


if __name__ == "__main__":
    main()
