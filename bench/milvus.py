"""The local store beside Milvus Lite, in one run on the same vectors.

Per size (stand-in corpora of bench/scale.py: real Arabic sentences recombined,
clustered 384-dim vectors from its stand-in encoder):
- build time of each store (``--index-type auto``: exact FLAT below 20,000
  passages, HNSW above on Milvus, IVF,SQ8 locally);
- query latency p50/p99 per mode (hybrid, dense, lexical) of a whole search,
  the 46 questions of tests/data/seeds_eval.tsv asked in turn;
- recall@10 of each store's vector stage (``Index.nearest(approximate=True)``)
  against exact search over its own stored vectors.

Then the real XQuAD corpus (``../shared/xquad/corpus/ar``, the bundled models;
the Milvus build reuses the local build's embedding cache): MRR@10 per mode of
the English and Arabic questions, the same latencies, and Milvus's own rankers
(hybrid_search, RRF and weighted) beside semsearch's fusion run client-side.

Milvus Lite 3 is a pure-Python engine serving gRPC in this process: its
latencies are those of Milvus Lite on 2 cores, not of a Milvus cluster.

Usage: python bench/milvus.py [--sizes 10000 100000] [--no-xquad] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import ClusteredEncoder, _corpus

from semsearch import Index
from semsearch.index import update

REPO = Path(__file__).resolve().parent.parent
XQUAD = REPO.parent / "shared" / "xquad"
QUESTIONS = [
    line.split("\t")[0]
    for line in (REPO / "tests" / "data" / "seeds_eval.tsv").read_text().splitlines()[1:]
    if line.strip()
]
MODES = ("hybrid", "dense", "lexical")


def _timed(make):  # -> (result, seconds)
    started = time.perf_counter()
    out = make()
    return out, time.perf_counter() - started


def _latencies(idx: Index, mode: str) -> tuple[float, float]:
    idx.search(QUESTIONS[0], k=10, mode=mode)  # warm
    times = []
    for question in QUESTIONS:
        started = time.perf_counter()
        idx.search(question, k=10, mode=mode)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3, float(np.percentile(times, 99)) * 1e3


def _all_vectors(idx: Index) -> tuple[np.ndarray, np.ndarray]:
    snapshot = idx._snapshot()
    ids = snapshot.passage_ids()
    found, matrix = snapshot.vectors(ids)
    return np.asarray(found, dtype=np.int64), matrix


def _recall(idx: Index, queries: np.ndarray) -> float:
    ids, matrix = _all_vectors(idx)
    exact = ids[np.argsort(-(queries @ matrix.T), axis=1)[:, :10]]
    _, found = idx.nearest(queries, 10, approximate=True)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)]))


def _stores(work: Path, corpus: Path, encoder) -> dict[str, tuple[Index, float]]:
    """The same corpus built locally and in Milvus Lite (the second from the first's cache)."""
    local, local_s = _timed(lambda: Index.create([corpus], work / "local", encoder=encoder))
    (work / "milvus").mkdir()
    shutil.copy(work / "local" / "embeddings.sqlite", work / "milvus")
    store = f"milvus-lite:{work / 'milvus.db'}"
    (milvus, _), milvus_s = _timed(
        lambda: update([corpus], work / "milvus", encoder=encoder, store=store)
    )
    return {"local": (local, local_s), "milvus-lite": (milvus, milvus_s)}


def _table(stores: dict[str, tuple[Index, float]], queries: np.ndarray | None) -> None:
    print(f"  {'store':12s}{'build s':>9s}" + "".join(f"{m + ' p50/p99 ms':>24s}" for m in MODES)
          + ("   recall@10" if queries is not None else ""))  # fmt: skip
    base = None
    for name, (idx, build_s) in stores.items():
        cells = "".join(f"{'{:.1f} / {:.1f}'.format(*_latencies(idx, m)):>24s}" for m in MODES)
        recall = f"{_recall(idx, queries):12.3f}" if queries is not None else ""
        ratio = "" if base is None else f"  (build {build_s / base:.1f}x local)"
        base = base or build_s
        print(f"  {name:12s}{build_s:9.1f}{cells}{recall}{ratio}   [{idx.manifest.ann}]")


def stand_in(n: int, work: Path) -> None:
    corpus = work / "corpus"
    _corpus(corpus, n)
    encoder = ClusteredEncoder()
    stores = _stores(work, corpus, encoder)
    print(f"\n{n:,} stand-in passages ({stores['local'][0].manifest.passages:,} stored)")
    _table(stores, encoder.encode_queries(QUESTIONS))
    for idx, _ in stores.values():
        idx.close()


def xquad(work: Path) -> None:
    from semsearch.reports.evaluation import evaluate, read_qrels

    stores = _stores(work, XQUAD / "corpus" / "ar", None)
    print(f"\nXQuAD corpus/ar ({stores['local'][0].manifest.passages:,} passages, bundled models)")
    _table(stores, None)
    qrels = read_qrels([XQUAD / "qrels" / "en.jsonl", XQUAD / "qrels" / "ar.jsonl"], "ar")
    print(
        f"  MRR@10{'':6s}"
        + "".join(f"{lang + ' ' + m:>14s}" for lang in ("en", "ar") for m in MODES)
    )
    for name, (idx, _) in stores.items():
        result = evaluate(idx, qrels, by="lang")
        mrr = {(lang, s.mode): s.mrr for lang, g in result.groups.items() for s in g.modes}
        print(
            f"  {name:12s}"
            + "".join(f"{mrr[lang, m]:14.3f}" for lang in ("en", "ar") for m in MODES)
        )
    rankers(stores["milvus-lite"][0], qrels)
    for idx, _ in stores.values():
        idx.close()


def rankers(idx: Index, qrels: list) -> None:
    """Milvus's own fusion (hybrid_search of the dense and BM25 fields with its
    RRF or weighted ranker) beside semsearch's client-side one, MRR@10 per language."""
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    from semsearch.reports.evaluation import relevant_passages
    from semsearch.text.lexical import terms

    c = idx._snapshot().collections
    relevant = relevant_passages(idx.passages(), qrels)
    questions = [q.question for q in qrels]

    def mrr(rows: list[int], ranked: list[list[int]]) -> float:
        firsts = [
            next((1 / n for n, p in enumerate(r[:10], 1) if p in relevant[i]), 0.0)
            for i, r in zip(rows, ranked, strict=True)
        ]
        return sum(firsts) / len(firsts)

    print("  MRR@10 hybrid, Milvus Lite      en        ar")
    ours = [[h.passage_id for h in hits] for hits in idx.search_many(questions, k=10)]
    vectors = idx._questions.embed(questions)
    for name, ranker in [
        ("semsearch (client-side)", None),
        ("RRFRanker(60)", RRFRanker(60)),
        ("WeightedRanker(0.9, 0.1)", WeightedRanker(0.9, 0.1)),
        ("WeightedRanker(0.7, 0.3)", WeightedRanker(0.7, 0.3)),
    ]:
        ranked = ours if ranker is None else []
        for i in range(0, len(questions) if ranker else 0, 64):
            words = [" ".join(terms(q)) or "-" for q in questions[i : i + 64]]
            requests = [
                AnnSearchRequest(
                    vectors[i : i + 64].tolist(), "vector", {"metric_type": "IP"}, 100
                ),
                AnnSearchRequest(words, "sparse", {"metric_type": "BM25"}, 100),
            ]
            found = c.client.hybrid_search(c.names.passages, requests, ranker, limit=10)
            ranked += [[hit["id"] for hit in hits] for hits in found]
        by_lang = [
            mrr(rows, [ranked[i] for i in rows])
            for lang in ("en", "ar")
            for rows in [[i for i, q in enumerate(qrels) if q.fields["lang"] == lang]]
        ]
        print(f"  {name:28s}" + "".join(f"{v:10.3f}" for v in by_lang))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--no-xquad", action="store_true")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="semsearch-milvus-"))
    for n in args.sizes:
        stand_in(n, root / f"n{n}")
    if not args.no_xquad and XQUAD.is_dir():
        xquad(root / "xquad")


if __name__ == "__main__":
    main()
