"""Searching an index: the real model on the seeds (ranks, modes, highlights, threads, the question cache)."""

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from semsearch import Index, Retrieval
from semsearch.errors import (
    QueryError,
)
from semsearch.readers import read_text
from semsearch.search import ranking
from semsearch.storage.check import check_index
from semsearch.text.lexical import terms as lexical_terms
from semsearch.text.names import name_scores, query_terms

from ..conftest import QAIM, FakeEncoder, write
from .conftest import QUESTIONS, build, database


def test_repeated_paragraphs_are_embedded_once_and_every_place_is_kept(seeds_index: Index) -> None:
    m = seeds_index.manifest
    assert m.documents == 5
    assert m.passages < m.occurrences  # seeds 000 and 004 repeat whole blocks
    hit = next(h for h in seeds_index.search(QAIM, k=3) if QAIM in h.text)
    assert [Path(o.source).name for o in hit.occurrences] == ["000_13cb502306774242.txt"] * 2
    assert hit.occurrences[0].start != hit.occurrences[1].start


def test_every_hit_maps_back_to_the_exact_text_in_its_file(seeds_index: Index) -> None:
    for hits in seeds_index.search_many(QUESTIONS, k=10):
        for hit in hits:
            for place in hit.occurrences:
                text = read_text(Path(place.source))
                assert " ".join(text[place.start : place.end].split()) == " ".join(hit.text.split())
            assert (hit.source, hit.start, hit.end) == tuple(vars(hit.occurrences[0]).values())


def _brute_force(seeds_index: Index, question: str) -> list[tuple[int, float]]:
    """Every passage scored in numpy, as ranking.py defines the hybrid score."""
    db = sqlite3.connect(database(seeds_index.directory))  # the vectors, read without semsearch
    rows = db.execute("SELECT id, vector FROM passages ORDER BY id").fetchall()
    sentence_rows = db.execute("SELECT passage_id, vector FROM sentences").fetchall()
    db.close()
    ids = [pid for pid, _ in rows]
    query = seeds_index.encoder.encode_queries([question])[0]
    passage = np.vstack([np.frombuffer(blob, np.float32) for _, blob in rows]) @ query
    sentence: dict[int, float] = {}
    for pid, blob in sentence_rows:
        sentence[pid] = max(sentence.get(pid, -1.0), float(np.frombuffer(blob, np.float32) @ query))
    snapshot = seeds_index.backend.snapshot()
    terms = query_terms(question)
    postings = snapshot.postings((s for t in terms for s in t.skeletons), 10**9)
    names = name_scores(terms, postings, len(ids))
    bm25 = snapshot.bm25([lexical_terms(question)], 10_000, 10**9)[0]
    top_names, top_bm25 = max(names.values(), default=1.0), max(bm25.values(), default=1.0)
    weights = ranking.Weights()
    scored = []
    for n, pid in enumerate(ids):
        dense = float(passage[n])
        if pid in sentence:
            dense = (1 - weights.sentence) * dense + weights.sentence * max(dense, sentence[pid])
        score = dense + weights.lexical * bm25.get(pid, 0) / top_bm25
        scored.append((pid, score + weights.names * names.get(pid, 0) / top_names))
    return sorted(scored, key=lambda t: (-t[1], t[0]))


def _same_text(index: Index, a: int, b: int) -> bool:
    ta, tb = (" ".join(p.text.split()) for p in index.passages([a, b]))
    return ta in tb or tb in ta or float(index.vectors([a])[0] @ index.vectors([b])[0]) >= 0.97


def test_search_agrees_with_numpy_brute_force(seeds_index: Index) -> None:
    """With every passage a candidate, search is the brute-force ranking, less the
    passages that repeat a better-ranked one (search hides those)."""
    every = Index.open(seeds_index.directory, retrieval=Retrieval(dense_candidates=10_000))
    for question, hits in zip(QUESTIONS, every.search_many(QUESTIONS, k=5), strict=True):
        expected = _brute_force(seeds_index, question)
        shown = [h.passage_id for h in hits]
        scores = dict(expected)
        assert shown[0] == expected[0][0]
        assert np.allclose([h.score for h in hits], [scores[p] for p in shown], atol=1e-5)
        last = [pid for pid, _ in expected].index(shown[-1])
        above = [pid for pid, _ in expected[: last + 1]]
        assert [p for p in above if p in shown] == shown  # same order
        for pid in above:
            if pid not in shown:
                assert any(_same_text(seeds_index, pid, s) for s in shown)


def test_hybrid_reorders_what_dense_alone_ranks(seeds_index: Index) -> None:
    dense = [
        [h.passage_id for h in hs] for hs in seeds_index.search_many(QUESTIONS, k=5, mode="dense")
    ]
    hybrid = [[h.passage_id for h in hs] for hs in seeds_index.search_many(QUESTIONS, k=5)]
    assert dense != hybrid


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("when did the Qaim base handover happen", QAIM),
        ("Who is the White House Middle East coordinator that Kadhimi met?", "بريت ماجورك"),
    ],
)
def test_hybrid_puts_a_name_question_first_where_dense_does_not(
    seeds_index: Index, question: str, answer: str
) -> None:
    assert answer not in seeds_index.search(question, k=1, mode="dense")[0].text
    assert answer in seeds_index.search(question, k=1)[0].text


def test_lexical_mode_finds_same_language_words_only(seeds_index: Index) -> None:
    hits = seeds_index.search("قاعدة القائم في الأنبار", k=3, mode="lexical")
    assert QAIM in hits[0].text
    assert seeds_index.search("recipe for banana bread", k=3, mode="lexical") == []


def test_an_unknown_mode_is_refused(seeds_index: Index) -> None:
    with pytest.raises(QueryError, match="hybrid, dense, lexical"):
        seeds_index.search("question", mode="fuzzy")


def test_the_highlight_is_the_sentence_that_answers(seeds_index: Index) -> None:
    hit = seeds_index.search("Who is Brett McGurk?", k=1)[0]
    start, end = hit.highlight
    assert 0 <= start < end <= len(hit.text) and (start, end) != (0, len(hit.text))
    assert "بريت ماجورك" in hit.highlighted and hit.highlighted == hit.text[start:end]
    assert "كما ناقش الجانبان" not in hit.highlighted  # the passage's other sentence
    one_sentence = seeds_index.search("when did the Qaim base handover happen", k=1)[0]
    assert one_sentence.highlight == (0, len(one_sentence.text))


def test_near_identical_passages_are_not_both_shown(seeds_index: Index) -> None:
    title = "الكاظمي إلى واشنطن.. محادثات تبحث الوجود العسكري"
    hits = seeds_index.search(title, k=5)
    assert sum(title in h.text for h in hits) == 1  # the title alone, and with its paragraph
    texts = [" ".join(h.text.split()) for h in hits]
    assert not any(a in b for i, a in enumerate(texts) for j, b in enumerate(texts) if i != j)


def test_search_is_search_many_of_one(seeds_index: Index) -> None:
    assert seeds_index.search(QUESTIONS[0], k=4) == seeds_index.search_many([QUESTIONS[0]], k=4)[0]


def test_hits_are_ranked_and_complete(seeds_index: Index) -> None:
    hits = seeds_index.search("Kadhimi meets the US ambassador", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(h.text and h.source.endswith(".txt") and h.end > h.start for h in hits)
    # every passage but one: seed 003's title stands alone and again atop its paragraph
    assert len(seeds_index.search("anything", k=1000)) == len(seeds_index) - 1


def test_eight_threads_get_the_same_answers_as_one(seeds_index: Index) -> None:
    expected = [seeds_index.search(q, k=5) for q in QUESTIONS]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            results[n] = [seeds_index.search(q, k=5) for q in QUESTIONS[n:] + QUESTIONS[:n]]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for n in range(8):
        rotated = expected[n:] + expected[:n]
        assert [[h.passage_id for h in hs] for hs in results[n]] == [
            [h.passage_id for h in hs] for hs in rotated
        ]


@pytest.mark.parametrize(("query", "k"), [("", 5), ("   ", 5), ("question", 0), ("question", -3)])
def test_bad_questions_are_refused(seeds_index: Index, query: str, k: int) -> None:
    with pytest.raises(QueryError):
        seeds_index.search(query, k=k)


class _QueriesOnly:
    """The index's own model, refusing to embed passages."""

    def __init__(self, encoder) -> None:
        self.encoder, self.name, self.dim = encoder, encoder.name, encoder.dim
        self.questions: list[str] = []

    def encode_queries(self, texts):
        self.questions += texts
        return self.encoder.encode_queries(texts)

    def encode_passages(self, texts):
        raise AssertionError("opening must not embed passages")

    def spec(self) -> dict:
        return self.encoder.spec()


def test_opening_reads_the_manifest_and_embeds_nothing(seeds_index: Index) -> None:
    again = Index.open(seeds_index.directory, encoder=_QueriesOnly(seeds_index.encoder))
    assert again.search(QAIM, k=1)[0].passage_id == seeds_index.search(QAIM, k=1)[0].passage_id
    assert again.sync().embedded == 0 and len(again) == len(seeds_index)


def test_a_repeated_question_costs_no_model_call_and_gets_the_same_answer(
    seeds_index: Index,
) -> None:
    counting = _QueriesOnly(seeds_index.encoder)
    idx = Index.open(seeds_index.directory, encoder=counting)
    first = idx.search_many(QUESTIONS[:3], k=5)
    assert counting.questions == QUESTIONS[:3]  # one call for the batch
    again = idx.search_many([QUESTIONS[1], f"  {QUESTIONS[0]}\n"], k=5, mode="dense")
    assert counting.questions == QUESTIONS[:3]  # both from the cache
    assert idx.search(QUESTIONS[2], k=5) == first[2]
    fresh = Index.open(seeds_index.directory)  # a miss gives exactly what a hit gives
    assert fresh.search_many([QUESTIONS[1], QUESTIONS[0]], k=5, mode="dense") == again


def test_searches_go_on_while_another_index_writes(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    """Readers in threads never fail or see a half-written state while a writer
    adds and removes a document again and again."""
    reader = build(corpus, tmp_path, fake_encoder)
    writer = Index.open(reader.directory, encoder=fake_encoder)
    extra = write(
        tmp_path / "extra" / "c.txt", "A third document about carrots and cabbages in the garden.\n"
    )
    errors: list[BaseException] = []
    seen: set[int] = set()
    done = threading.Event()

    def search() -> None:
        try:
            while not done.is_set():
                hits = reader.search("carrots apples", k=3)
                assert hits and len({h.passage_id for h in hits}) == len(hits)
                seen.add(len(hits))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(8):
        writer.add([extra.parent])
        writer.remove([extra.parent])
    done.set()
    for t in threads:
        t.join()
    assert errors == [] and seen
    assert reader.manifest.documents == 2 and check_index(reader.directory).problems == ()


def test_new_questions_asked_at_once_share_model_calls(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    """Threads whose questions arrive while the model works wait, and are embedded
    together in its next call; each gets what it would have got alone."""

    class Slow(FakeEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.query_calls: list[int] = []

        def encode_queries(self, texts):
            self.query_calls.append(len(texts))
            time.sleep(0.2)
            return super().encode_queries(texts)

    build(corpus, tmp_path, fake_encoder).close()
    slow = Slow()
    reader = Index.open(tmp_path / "index", encoder=slow)
    questions = [f"apples and boats {n}" for n in range(6)]
    results: dict[str, list] = {}
    threads = [
        threading.Thread(target=lambda q=q: results.__setitem__(q, reader.search(q, k=2)))
        for q in questions
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(slow.query_calls) == 6 and len(slow.query_calls) < 6
    alone = Index.open(tmp_path / "index", encoder=FakeEncoder())
    assert all(results[q] == alone.search(q, k=2) for q in questions)
