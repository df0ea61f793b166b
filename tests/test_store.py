"""The SQLite side: bounded word and name lookups on a real database."""

from pathlib import Path

from semsearch.lexical import terms
from semsearch.skeletons import passage_terms
from semsearch.store import Store


def _store(tmp_path: Path, texts: list[str]) -> Store:
    store = Store(tmp_path / "passages.sqlite", readonly=False)
    for n, text in enumerate(texts):
        store.add_passage(f"{n:064d}", text)
    store.commit()
    return store


def test_bm25_reads_the_rarest_words_first_within_its_budget(tmp_path: Path) -> None:
    texts = [f"coalition forces number {n}" for n in range(30)] + ["coalition handover at Qaim"]
    store = _store(tmp_path, texts)
    words = terms("coalition handover")
    everything = store.bm25(words, limit=100)
    assert len(everything) == 31  # "coalition" is in every passage
    bounded = store.bm25(words, limit=100, budget=10)
    assert list(bounded) == [31]  # only the rare word fits: the common one is skipped
    assert store.bm25(terms("coalition"), limit=100, budget=10) == {}
    # the budget is for all words together: 1 + 31 passages
    assert list(store.bm25(words, limit=100, budget=31)) == [31]
    assert len(store.bm25(words, limit=100, budget=32)) == 31


def test_postings_read_the_rarest_names_first_within_their_budget(tmp_path: Path) -> None:
    texts = [f"Baghdad said on day {n}" for n in range(30)] + ["Baghdad and Kadhimi"]
    store = _store(tmp_path, texts)
    skeletons = [s for s, _ in passage_terms("Baghdad Kadhimi")]
    rows = store.postings(skeletons)
    assert {pid for *_, pid in rows} == set(range(1, 32))
    bounded = store.postings(skeletons, budget=10)
    assert bounded and {pid for *_, pid in bounded} == {31}
