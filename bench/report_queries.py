"""Questions per second: one batched report vs a loop of single searches.

Both answer the same 1,000 questions (paraphrase templates over the seeds'
topics) against the seeds index, side by side in one run.

Usage: python bench/report_queries.py [--questions 1000] [-k 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from semsearch import Index
from semsearch.reports import search_many

REPO = Path(__file__).resolve().parent.parent
TOPICS = [
    "the Qaim base handover", "US troops in Syria", "the strategic dialogue", "Kadhimi's visit",
    "the coalition withdrawal", "the Islamic Resistance in Iraq", "the Pentagon talks",
    "the parliament resolution", "the framework agreement", "Brett McGurk",
]  # fmt: skip
FORMS = [
    "what happened with {}",
    "when was {}",
    "who was involved in {}",
    "tell me about {}",
    "{} news",
]


def _questions(n: int) -> list[str]:
    base = [form.format(topic) for topic in TOPICS for form in FORMS]
    return [f"{base[i % len(base)]} ({i})" for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    questions = _questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(REPO / "seeds", Path(tmp) / "seeds")
        idx = Index.create([Path(tmp) / "seeds"], Path(tmp) / "index")
        idx.search("warm up", k=args.k)
        started = time.perf_counter()
        batched = search_many(idx, questions, args.k)
        batch_s = time.perf_counter() - started
        started = time.perf_counter()
        looped = [idx.search(q, args.k) for q in questions]
        loop_s = time.perf_counter() - started
    same = sum(
        [h.passage_id for h in r.hits] == [h.passage_id for h in hits]
        for r, hits in zip(batched.results, looped, strict=True)
    )
    print(f"{len(questions)} questions, k={args.k}, seeds index ({len(idx)} passages)")
    print(f"batched report:        {batch_s:7.2f} s  {len(questions) / batch_s:8.1f} questions/s")
    print(f"loop of single search: {loop_s:7.2f} s  {len(questions) / loop_s:8.1f} questions/s")
    print(
        f"speed-up batched / loop: {loop_s / batch_s:.2f}x; identical answers: {same}/{len(questions)}"
    )


if __name__ == "__main__":
    main()
