"""Which fusion and weights rank best: every variant evaluated on the same qrels in one run.

Builds the seeds index once, then re-runs `evaluate` with the ranking weights
changed in turn (the defaults live in semsearch/ranking.py).

Usage: python bench/fusion.py [--qrels tests/data/seeds_eval.tsv]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from semsearch import Index, ranking
from semsearch.evaluate import evaluate, read_qrels

REPO = Path(__file__).resolve().parent.parent
VARIANTS = {
    "dense, passage vector only": dict(SENTENCE_WEIGHT=0.0, LEXICAL_WEIGHT=0.0, NAME_WEIGHT=0.0),
    "dense, + best sentence 0.5": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.0, NAME_WEIGHT=0.0),
    "dense, + best sentence 1.0": dict(SENTENCE_WEIGHT=1.0, LEXICAL_WEIGHT=0.0, NAME_WEIGHT=0.0),
    "+ names 0.03": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.0, NAME_WEIGHT=0.03),
    "+ bm25 0.02": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.02, NAME_WEIGHT=0.0),
    "+ names 0.03 + bm25 0.01": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.01, NAME_WEIGHT=0.03),
    "+ names 0.03 + bm25 0.02": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.02, NAME_WEIGHT=0.03),
    "+ names 0.03 + bm25 0.04": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.04, NAME_WEIGHT=0.03),
    "+ names 0.05 + bm25 0.02": dict(SENTENCE_WEIGHT=0.5, LEXICAL_WEIGHT=0.02, NAME_WEIGHT=0.05),
    "no sentences, names + bm25": dict(SENTENCE_WEIGHT=0.0, LEXICAL_WEIGHT=0.02, NAME_WEIGHT=0.03),
    "sentences 1.0, names + bm25": dict(SENTENCE_WEIGHT=1.0, LEXICAL_WEIGHT=0.02, NAME_WEIGHT=0.03),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qrels", default=str(REPO / "tests" / "data" / "seeds_eval.tsv"))
    args = parser.parse_args()
    qrels = read_qrels(args.qrels)
    defaults = {
        name: getattr(ranking, name)
        for name in ("SENTENCE_WEIGHT", "LEXICAL_WEIGHT", "NAME_WEIGHT")
    }
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "seeds", Path(tmp) / "seeds")
        idx = Index.build([Path(tmp) / "seeds"], Path(tmp) / "index")
        print(f"{len(qrels)} questions; defaults {defaults}")
        print(f"{'variant':34s}{'R@1':>7s}{'R@5':>7s}{'R@10':>7s}{'MRR':>7s}{'nDCG@10':>9s}")
        for name, weights in VARIANTS.items():
            for key, value in weights.items():
                setattr(ranking, key, value)
            m = evaluate(idx, qrels, modes=("hybrid",)).modes[0]
            print(
                f"{name:34s}{m.recall[1]:7.3f}{m.recall[5]:7.3f}{m.recall[10]:7.3f}{m.mrr:7.3f}{m.ndcg10:9.3f}"
            )
        for key, value in defaults.items():
            setattr(ranking, key, value)
        original = ranking.fuse
        ranking_fuse = ranking.fuse
        import semsearch.index as index_module

        index_module.fuse = lambda candidates, mode: ranking_fuse(candidates, mode, method="rrf")
        m = evaluate(idx, qrels, modes=("hybrid",)).modes[0]
        print(
            f"{'RRF (k=60) of dense, bm25, names':34s}{m.recall[1]:7.3f}{m.recall[5]:7.3f}{m.recall[10]:7.3f}{m.mrr:7.3f}{m.ndcg10:9.3f}"
        )
        index_module.fuse = original
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
