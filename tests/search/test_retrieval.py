"""Cross-lingual retrieval quality on the seeds, with the real bundled model.

tests/data/seeds_eval.tsv holds questions (English and Arabic) with a
substring of the passage that answers each one.
"""

import csv

import pytest

from semsearch import Index

from ..conftest import QAIM, REPO, SEEDS

EVAL = REPO / "tests" / "data" / "seeds_eval.tsv"


def _load() -> list[tuple[str, str]]:
    with EVAL.open(encoding="utf-8") as fh:
        return [(r["question"], r["expected"]) for r in csv.DictReader(fh, delimiter="\t")]


def _is_arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def test_the_evaluation_set_is_big_enough_and_answerable() -> None:
    rows = _load()
    english = [q for q, _ in rows if not _is_arabic(q)]
    arabic = [q for q, _ in rows if _is_arabic(q)]
    assert len(english) >= 15 and len(arabic) >= 5
    corpus = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in SEEDS.glob("*.txt"))
    assert all(expected in corpus for _, expected in rows)


def _recall_at(seeds_index: Index, rows: list[tuple[str, str]], k: int) -> float:
    results = seeds_index.search_many([q for q, _ in rows], k=k)
    found = [
        any(exp in " ".join(h.text.split()) for h in hits)
        for (_, exp), hits in zip(rows, results, strict=True)
    ]
    return sum(found) / len(found)


@pytest.mark.parametrize("lang", ["english", "arabic"])
def test_recall_at_5_is_at_least_0_8(seeds_index: Index, lang: str) -> None:
    rows = [(q, e) for q, e in _load() if _is_arabic(q) == (lang == "arabic")]
    assert _recall_at(seeds_index, rows, 5) >= 0.8


def test_the_qaim_question_finds_the_qaim_paragraph_first(seeds_index: Index) -> None:
    top = seeds_index.search("when did the Qaim base handover happen", k=1)[0]
    assert QAIM in top.text
