"""What sentence vectors buy, and what they cost: XQuAD dev (corpus/ar, English and
Arabic questions) and the seeds, dense and hybrid MRR@10, three ways of scoring
passages side by side from one index:

- today: passage vector, blended with its best sentence's (sentence vectors
  embedded beside every passage of several sentences: ~2x the model's work);
- none: the passage vector alone (sentence weight 0);
- mean: no passage embedding for passages of several sentences: their vector is
  the normalised mean of their sentence vectors (~1x the model's work).

Also the build's passages/s against the raw encoder on the same passage texts.

Usage: python bench/sentence_vectors.py [--xquad ../shared/xquad]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from semsearch import Index, Retrieval
from semsearch.reports.evaluation import evaluate, read_qrels
from semsearch.search.ranking import Weights
from semsearch.text.chunking import collapse_spaces

REPO = Path(__file__).resolve().parent.parent


def judged(idx: Index, qrels: Path, side: str) -> tuple[list[str], list[set[int]]]:
    """Questions and the ids of the passages holding each one's answer offset."""
    questions, relevant = [], []
    places: dict[str, list[tuple[int, int, int]]] = {}
    for p in idx.passages():
        for o in p.occurrences:
            places.setdefault(Path(o.source).name, []).append((o.start, o.end, p.passage_id))
    for line in qrels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold = row[side]
        ids = {pid for s, e, pid in places[gold["file"]] if s <= gold["answer_start"] < e}
        questions.append(row["question"])
        relevant.append(ids)
    return questions, relevant


def mrr(rankings: list[list[int]], relevant: list[set[int]]) -> float:
    total = 0.0
    for ranked, rel in zip(rankings, relevant, strict=True):
        for rank, pid in enumerate(ranked[:10], 1):
            if pid in rel:
                total += 1 / rank
                break
    return total / len(relevant)


def dense_numpy(idx: Index, questions: list[str], variant: str) -> list[list[int]]:
    """Dense ranking over every passage in numpy, passage vectors per ``variant``."""
    db = sqlite3.connect(idx.directory / idx.manifest.database)
    rows = db.execute("SELECT id, vector FROM passages ORDER BY id").fetchall()
    sentence_rows = db.execute("SELECT passage_id, vector FROM sentences").fetchall()
    db.close()
    ids = np.array([pid for pid, _ in rows])
    passages = np.vstack([np.frombuffer(b, np.float32) for _, b in rows])
    by_passage: dict[int, list[np.ndarray]] = {}
    for pid, blob in sentence_rows:
        by_passage.setdefault(pid, []).append(np.frombuffer(blob, np.float32))
    if variant == "mean":
        for n, pid in enumerate(ids):
            if pid in by_passage:
                mean = np.mean(by_passage[pid], axis=0)
                passages[n] = mean / np.linalg.norm(mean)
    queries = idx.encoder.encode_queries(questions)
    scores = queries @ passages.T
    if variant != "none":
        weight = Weights().sentence
        for n, pid in enumerate(ids):
            if pid in by_passage:
                best = (np.vstack(by_passage[pid]) @ queries.T).max(axis=0)
                scores[:, n] = (1 - weight) * scores[:, n] + weight * np.maximum(scores[:, n], best)
    return [ids[np.argsort(-row, kind="stable")[:10]].tolist() for row in scores]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", type=Path, default=REPO.parent / "shared" / "xquad")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "ar"
        shutil.copytree(args.xquad / "corpus" / "ar", corpus)
        started = time.perf_counter()
        idx = Index.create([corpus], Path(tmp) / "index")
        build = time.perf_counter() - started
        texts = [collapse_spaces(p.text) for p in idx.passages()]
        started = time.perf_counter()
        idx.encoder.encode_passages(texts)
        raw = time.perf_counter() - started
        db = sqlite3.connect(idx.directory / idx.manifest.database)
        (sentences,) = db.execute("SELECT count(*) FROM sentences").fetchone()
        db.close()
        print(
            f"corpus/ar: {len(texts)} passages, {sentences} sentence vectors; build "
            f"{len(texts) / build:.1f} passages/s, raw encoder on the passages "
            f"{len(texts) / raw:.1f} passages/s ({build / raw:.2f}x)"
        )
        for lang in ("en", "ar"):
            questions, relevant = judged(idx, args.xquad / "qrels" / f"{lang}.jsonl", "ar")
            for variant in ("today", "none", "mean"):
                dense = mrr(dense_numpy(idx, questions, variant), relevant)
                line = f"{lang}->ar {variant:6s} dense(numpy) MRR@10 {dense:.3f}"
                if variant != "mean":
                    sentence = Weights().sentence if variant == "today" else 0.0
                    idx.retrieval = Retrieval(weights=Weights(sentence=sentence))
                    hybrid = idx.search_many(questions, k=10)
                    ranked = [[h.passage_id for h in hits] for hits in hybrid]
                    line += f"  hybrid MRR@10 {mrr(ranked, relevant):.3f}"
                print(line)
        idx.retrieval = Retrieval()
    seeds = read_qrels(REPO / "tests" / "data" / "seeds_eval.tsv")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "seeds", Path(tmp) / "seeds")
        idx = Index.create([Path(tmp) / "seeds"], Path(tmp) / "index")
        for sentence in (Weights().sentence, 0.0):
            idx.retrieval = Retrieval(weights=Weights(sentence=sentence))
            m = evaluate(idx, seeds, ("hybrid", "dense"))
            print(
                f"seeds sentence weight {sentence}: "
                + ", ".join(f"{s.mode} MRR {s.mrr:.3f} R@5 {s.recall[5]:.3f}" for s in m.modes)
            )


if __name__ == "__main__":
    main()
