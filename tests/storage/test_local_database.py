"""The SQLite side: bounded word and name lookups, vectors, transactions, on a real database."""

import sqlite3
from pathlib import Path

import numpy as np

from semsearch.indexing.signals import new_passage
from semsearch.storage.local.database import Database
from semsearch.text.lexical import terms
from semsearch.text.names import passage_terms


def _store(tmp_path: Path, texts: list[str]) -> Database:
    store = Database(tmp_path / "passages.sqlite", readonly=False)
    for n, text in enumerate(texts):
        store.add_passage(new_passage(f"{n:064d}", text, _vector(n), []))
    store.commit()
    return store


def _vector(n: int) -> np.ndarray:
    return np.full(4, n, dtype=np.float32)


def test_vectors_are_stored_with_their_passages(tmp_path: Path) -> None:
    store = _store(tmp_path, ["first passage", "second passage", "third passage"])
    found, matrix = store.vectors([3, 1, 99], 4)
    assert found == [3, 1] and matrix[:, 0].tolist() == [2.0, 0.0]
    ids, matrix = store.all_vectors(4)
    assert ids.tolist() == [1, 2, 3] and matrix[:, 0].tolist() == [0.0, 1.0, 2.0]


def test_a_write_is_one_transaction_that_readers_see_once_committed(tmp_path: Path) -> None:
    first = _store(tmp_path, ["first passage"])
    first.use_wal()  # as a committed index is
    first.close()
    path = tmp_path / "passages.sqlite"
    reader = Database(path, readonly=True)
    version = reader.data_version()
    writer = Database(path, readonly=False)
    writer.add_passage(new_passage("f" * 64, "second passage", _vector(1), []))
    assert reader.snapshot()[2] == 1 and reader.data_version() == version  # not yet
    writer.close()  # without commit: rolled back
    assert reader.snapshot()[2] == 1
    writer = Database(path, readonly=False)
    writer.add_passage(new_passage("f" * 64, "second passage", _vector(1), []))
    writer.put_manifest("{}")
    writer.commit()
    assert reader.snapshot() == ("{}", 0, 2, 0) and reader.data_version() != version


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


def test_reads_of_many_passages_stay_within_sqlite_s_parameter_limit(tmp_path: Path) -> None:
    """SQLite bounds the parameters of one statement (999 before 3.32, 32,766 since);
    reading every passage of a large index (reports, eval) must not hit it."""
    store = _store(tmp_path, [f"passage number {n}" for n in range(1200)])
    store.add_sentences((pid, 0, 7, _vector(pid)) for pid in range(1, 1201))
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # an older build's limit
    ids = list(range(1, 1201))
    passages = store.fetch(ids)
    assert sorted(passages) == ids and passages[1200].text == "passage number 1199"
    assert len(store.sentences(ids)) == 1200
    assert len(store.vectors(ids, 4)[0]) == 1200
