"""Which fusion and weights rank best: every variant evaluated on the same qrels in one run.

Builds the seeds index once, then re-runs `evaluate` with the ranking weights
changed in turn (the defaults: semsearch.search.ranking.Weights).

Usage: python bench/fusion.py [--qrels tests/data/seeds_eval.tsv]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from semsearch import Index, Retrieval
from semsearch.reports.evaluation import evaluate, read_qrels
from semsearch.search.ranking import Weights

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {
    "dense, passage vector only": Weights(sentence=0.0, lexical=0.0, names=0.0),
    "dense, + best sentence 0.5": Weights(sentence=0.5, lexical=0.0, names=0.0),
    "dense, + best sentence 1.0": Weights(sentence=1.0, lexical=0.0, names=0.0),
    "+ names 0.03": Weights(sentence=0.5, lexical=0.0, names=0.03),
    "+ bm25 0.02": Weights(sentence=0.5, lexical=0.02, names=0.0),
    "+ names 0.03 + bm25 0.01": Weights(sentence=0.5, lexical=0.01, names=0.03),
    "+ names 0.03 + bm25 0.02": Weights(sentence=0.5, lexical=0.02, names=0.03),
    "+ names 0.03 + bm25 0.04": Weights(sentence=0.5, lexical=0.04, names=0.03),
    "+ names 0.05 + bm25 0.02": Weights(sentence=0.5, lexical=0.02, names=0.05),
    "no sentences, names + bm25": Weights(sentence=0.0, lexical=0.02, names=0.03),
    "sentences 1.0, names + bm25": Weights(sentence=1.0, lexical=0.02, names=0.03),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qrels", default=str(REPO / "tests" / "data" / "seeds_eval.tsv"))
    args = parser.parse_args()
    qrels = read_qrels(args.qrels)
    defaults = Weights()
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "seeds", Path(tmp) / "seeds")
        idx = Index.create([Path(tmp) / "seeds"], Path(tmp) / "index")
        print(f"{len(qrels)} questions; defaults {defaults}")
        print(f"{'variant':34s}{'R@1':>7s}{'R@5':>7s}{'R@10':>7s}{'MRR':>7s}{'nDCG@10':>9s}")
        for name, weights in VARIANTS.items():
            idx.retrieval = Retrieval(weights=weights)
            m = evaluate(idx, qrels, modes=("hybrid",)).modes[0]
            print(
                f"{name:34s}{m.recall[1]:7.3f}{m.recall[5]:7.3f}{m.recall[10]:7.3f}{m.mrr:7.3f}{m.ndcg10:9.3f}"
            )
        idx.retrieval = Retrieval(fusion="rrf")
        m = evaluate(idx, qrels, modes=("hybrid",)).modes[0]
        print(
            f"{'RRF (k=60) of dense, bm25, names':34s}{m.recall[1]:7.3f}{m.recall[5]:7.3f}{m.recall[10]:7.3f}{m.mrr:7.3f}{m.ndcg10:9.3f}"
        )
        idx.retrieval = Retrieval()
        questions = [q.question for q in qrels]
        for mode in ("dense", "hybrid"):
            idx.search_many(questions[:2], mode=mode)
            started = time.perf_counter()
            for q in questions:
                idx.search_many([q], k=5, mode=mode)
            print(
                f"latency {mode:7s} {1000 * (time.perf_counter() - started) / len(questions):6.1f} ms/question"
            )


if __name__ == "__main__":
    main()
