import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from semsearch import Index, Retrieval
from semsearch.errors import (
    EncoderMismatchError,
    IndexCorruptError,
    IndexNotFoundError,
    InputError,
    NotAnIndexError,
    QueryError,
)
from semsearch.index import update
from semsearch.readers import read_text
from semsearch.search import ranking
from semsearch.storage.check import check_index
from semsearch.text.chunking import ChunkingConfig
from semsearch.text.lexical import terms as lexical_terms
from semsearch.text.names import name_scores, query_terms

from .conftest import QAIM, FakeEncoder, write

QUESTIONS = [
    "when did the Qaim base handover happen",
    "how many American soldiers are in Syria",
    "Who is the US ambassador in Baghdad?",
    "متى وقعت اتفاقية الإطار الاستراتيجي؟",
    "what did the Wall Street Journal report",
    "covid cooperation",
    "Brett McGurk",
    "Islamic Resistance in Iraq attacks",
]


# -- the real model on the seeds ---------------------------------------------


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
    db = sqlite3.connect(_database(seeds_index.directory))  # the vectors, read without semsearch
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


# -- persistence and bad input, with a fake encoder for speed -----------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root / "a.txt", "The first document talks about apples and orchards in the valley.\n")
    write(root / "b.txt", "The second document talks about boats and harbours on the coast.\n")
    return root


def _build(corpus: Path, tmp_path: Path, enc: FakeEncoder) -> Index:
    return Index.create([corpus], tmp_path / "index", encoder=enc)


def test_bad_files_are_skipped_with_a_reason_and_the_rest_indexed(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    (corpus / "bin.txt").write_bytes(b"\x00\x01binary")
    (corpus / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (corpus / "empty.txt").write_bytes(b"")
    skipped = []
    idx = Index.create([corpus], tmp_path / "index", encoder=fake_encoder, on_skip=skipped.append)
    assert idx.manifest.documents == 2
    reasons = {s.path.name: s.reason for s in skipped}
    assert set(reasons) == {"bin.txt", "latin1.txt", "empty.txt"}
    assert "UTF-8" in reasons["latin1.txt"] and "binary" in reasons["bin.txt"]


def test_a_skipped_file_does_not_make_the_index_stale_until_it_changes(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    bad = corpus / "bin.txt"
    bad.write_bytes(b"\x00\x01binary")
    idx = Index.create([corpus], tmp_path / "index", encoder=fake_encoder)
    generation = idx.manifest.generation
    assert not idx.is_stale()  # else every question would refresh and warn again
    skipped = []
    changes = idx.add([corpus], prune=True, on_skip=skipped.append)
    assert idx.manifest.generation == generation and changes.unchanged == 2
    assert [s.path.name for s in skipped] == ["bin.txt"]  # still said, not read again
    skipped.clear()
    write(bad, "Now a readable paragraph about pears, plums and the valley's orchards.\n")
    assert idx.is_stale()
    changes = idx.sync(on_skip=skipped.append)
    assert [Path(p).name for p in changes.added] == ["bin.txt"] and skipped == []
    bad.write_bytes(b"\x00binary again")
    idx.sync(on_skip=skipped.append)
    assert [s.path.name for s in skipped] == ["bin.txt"] and not idx.is_stale()
    bad.unlink()
    assert idx.is_stale()
    idx.sync()
    assert not idx.is_stale() and idx.manifest.documents == 2


def test_searches_go_on_while_another_index_writes(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    """Readers in threads never fail or see a half-written state while a writer
    adds and removes a document again and again."""
    reader = _build(corpus, tmp_path, fake_encoder)
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

    _build(corpus, tmp_path, fake_encoder).close()
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


def test_an_index_on_a_read_only_filesystem_is_searched_and_checked(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    """An index shipped read-only (a container image): no WAL shared-memory file
    can be created there, so the database is opened as immutable."""
    idx = _build(corpus, tmp_path, fake_encoder)
    expected = idx.search("apples", k=2)
    idx.close()
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "tmpfs", str(mount)], capture_output=True
    ).returncode:
        pytest.skip("mounting a read-only filesystem needs root")
    try:
        shutil.copytree(idx.directory, mount / "index")
        assert not list((mount / "index").rglob("*-shm"))  # closed cleanly: no WAL files
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        shipped = Index.open(mount / "index", encoder=fake_encoder)
        assert [h.text for h in shipped.search("apples", k=2)] == [h.text for h in expected]
        assert check_index(mount / "index").problems == ()
        shipped.close()
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_failed_rebuild_leaves_the_previous_index_usable(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    before = idx.search("apples", k=2)
    only_bad = tmp_path / "bad"
    (only_bad / "x.txt").parent.mkdir()
    (only_bad / "x.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="nothing to index"):
        Index.create([only_bad], idx.directory, encoder=fake_encoder)
    with pytest.raises(InputError, match="no such file"):
        Index.create([tmp_path / "missing"], idx.directory, encoder=fake_encoder)
    assert Index.open(idx.directory, encoder=fake_encoder).search("apples", k=2) == before
    assert not list(idx.directory.glob(".gen-*"))  # staging cleaned up


def test_a_crash_before_commit_leaves_the_previous_index(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    monkeypatch.setenv("SEMSEARCH_FAULT", "commit")  # finder staged, nothing committed
    write(corpus / "c.txt", "A third document about carrots and cabbages in the garden.\n")
    with pytest.raises(KeyboardInterrupt):
        idx.add([corpus])
    with pytest.raises(KeyboardInterrupt):
        Index.create(  # another chunking: a build from scratch
            [corpus], idx.directory, encoder=fake_encoder, chunking=ChunkingConfig(min_chars=10)
        )
    monkeypatch.undo()
    reopened = Index.open(idx.directory, encoder=fake_encoder)
    assert reopened.manifest.documents == 2 and idx.manifest.documents == 2
    assert len(reopened.search("carrots", k=5)) == 2
    assert check_index(idx.directory).problems == ()
    assert not list(idx.directory.glob(".gen-*")) and len(list(idx.directory.glob("gen-*"))) == 1


def test_a_crash_after_the_database_commits_leaves_the_new_index(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, monkeypatch
) -> None:
    """An in-place write takes effect at its database commit; manifest.json only follows."""
    idx = _build(corpus, tmp_path, fake_encoder)
    monkeypatch.setenv("SEMSEARCH_FAULT", "manifest")  # committed, manifest.json not rewritten
    write(corpus / "c.txt", "A third document about carrots and cabbages in the garden.\n")
    with pytest.raises(KeyboardInterrupt):
        idx.add([corpus])
    monkeypatch.undo()
    reopened = Index.open(idx.directory, encoder=fake_encoder)
    assert reopened.manifest.documents == 3 and idx.manifest.documents == 3
    assert "carrots" in reopened.search("carrots", k=1)[0].text
    assert check_index(idx.directory).problems == ()
    reopened.remove([corpus / "c.txt"])  # later writes go on from there
    assert json.loads((idx.directory / "manifest.json").read_text())["documents"] == 2


def test_a_write_is_seen_by_an_index_open_elsewhere(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, seeds_index: Index
) -> None:
    """Another process's write reaches a long-lived reader at its next search."""
    reader = _build(corpus, tmp_path, fake_encoder)
    writer = Index.open(reader.directory, encoder=fake_encoder)
    write(corpus / "c.txt", "A third document about carrots and cabbages in the garden.\n")
    writer.add([corpus])
    assert "carrots" in reader.search("carrots cabbages", k=1)[0].text
    assert reader.manifest.documents == 3
    writer.remove([corpus / "c.txt"])
    assert all("carrots" not in h.text for h in reader.search("carrots cabbages", k=5))
    rebuilt = Index.create(  # a new database: the reader moves to it too
        [corpus], reader.directory, encoder=fake_encoder, chunking=ChunkingConfig(min_chars=10)
    )
    assert reader.manifest.chunking["min_chars"] == 10
    assert reader.search("apples", k=1) == rebuilt.search("apples", k=1)
    Index.create([corpus], reader.directory, encoder=seeds_index.encoder)  # another model
    with pytest.raises(EncoderMismatchError, match="fake-bow"):
        reader.search("apples", k=1)


def test_add_embeds_only_new_text_and_remove_drops_vectors(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    assert sum(fake_encoder.passage_calls) == 2
    write(corpus / "c.txt", "A third document about carrots and cabbages in the garden.\n")
    changes = idx.add([corpus])
    assert [Path(p).name for p in changes.added] == ["c.txt"] and changes.unchanged == 2
    assert sum(fake_encoder.passage_calls) == 3
    assert idx.manifest.passages == 3
    idx.remove([corpus / "a.txt"])
    assert idx.manifest.documents == 2 and idx.manifest.passages == 2
    assert check_index(idx.directory).problems == ()  # no row of a.txt's passage left behind
    assert all("apples" not in h.text for h in idx.search("apples orchards", k=5))
    with pytest.raises(InputError, match="no indexed documents"):
        idx.remove([corpus / "a.txt"])


def test_adding_unchanged_files_writes_nothing_and_reads_no_file(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    generation = idx.manifest.generation
    a = corpus / "a.txt"
    stat = a.stat()  # new words, same size and time: a file that is read shows them
    a.write_text(read_text(a).replace("apples", "melons"), encoding="utf-8")
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changes = idx.add([corpus], prune=True)
    assert changes.unchanged == 2 and not (changes.added or changes.updated or changes.removed)
    assert idx.manifest.generation == generation
    write(corpus / "c.txt", "A third document about carrots and cabbages in the garden.\n")
    changes = idx.add([corpus])
    assert [Path(p).name for p in changes.added] == ["c.txt"] and changes.unchanged == 2
    assert idx.manifest.generation != generation
    assert all("melons" not in h.text for h in idx.search("melons", k=3))  # a.txt was not read


def test_refresh_follows_changes_and_deletions(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    assert not idx.is_stale()
    write(corpus / "b.txt", "The second document now talks about trains and stations instead.\n")
    os.utime(corpus / "b.txt", ns=(1, 1))
    (corpus / "a.txt").unlink()
    assert idx.is_stale()
    changes = idx.sync()
    assert [Path(p).name for p in changes.updated] == ["b.txt"]
    assert [Path(p).name for p in changes.removed] == ["a.txt"]
    assert not idx.is_stale()
    assert "trains" in idx.search("trains", k=1)[0].text


def test_a_missing_index_says_how_to_create_one(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="semsearch index PATH --index"):
        Index.open(tmp_path / "none")
    assert not (tmp_path / "none").exists()  # opening creates nothing


def test_a_folder_of_other_files_is_neither_read_nor_overwritten(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    precious = write(tmp_path / "mine" / "thesis.txt", "do not lose me")
    with pytest.raises(NotAnIndexError, match="not a semsearch index"):
        Index.open(precious.parent)
    with pytest.raises(NotAnIndexError, match="other files"):
        Index.create([corpus], precious.parent, encoder=fake_encoder)
    assert precious.read_text() == "do not lose me"
    left = tmp_path / "interrupted"  # a first build stopped before its manifest
    for name in ("gen-000001", "store-000001"):
        (left / name).mkdir(parents=True)
    assert Index.create([corpus], left, encoder=fake_encoder).manifest.documents == 2
    assert sorted(p.name for p in left.iterdir() if p.is_dir()) == ["gen-000002", "store-000002"]


def test_an_index_is_refused_by_another_encoder(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, seeds_index: Index
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    with pytest.raises(EncoderMismatchError, match="fake-bow"):
        Index.open(idx.directory, encoder=seeds_index.encoder)
    with pytest.raises(EncoderMismatchError, match="e5-small-q4"):
        Index.open(seeds_index.directory, encoder=fake_encoder)


def _live(directory: Path) -> Path:
    return directory / json.loads((directory / "manifest.json").read_text())["generation"]


def _database(directory: Path) -> Path:
    return directory / json.loads((directory / "manifest.json").read_text())["database"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _database(d).write_bytes(b"garbage" * 100), "unreadable"),
        (lambda d: _database(d).unlink(), "missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "unreadable"),
        (
            lambda d: (d / "manifest.json").write_text('{"tool": "semsearch", "format": 99}'),
            "format 99",
        ),
    ],
)
def test_corrupt_index_files_give_a_clear_error(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, damage, message: str
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    damage(idx.directory)
    with pytest.raises(IndexCorruptError, match=message):
        Index.open(idx.directory, encoder=fake_encoder)


def test_a_database_damaged_while_open_gives_a_clear_error(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    assert idx.search("apples", k=1)
    _database(idx.directory).write_bytes(b"garbage" * 2000)
    with pytest.raises(IndexCorruptError, match=r"passages.sqlite is unreadable .*rebuild with"):
        idx.search("apples", k=1)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.write_bytes(b"garbage"), "not a readable FAISS file"),
        (lambda f: f.unlink(), "missing its files"),
    ],
)
def test_a_damaged_approximate_finder_gives_a_clear_error(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, damage, message: str
) -> None:
    for n in range(40):
        write(corpus / f"extra{n:02d}.txt", f"Extra document number {n} about topic {n % 7}.\n")
    idx = Index.create([corpus], tmp_path / "index", encoder=fake_encoder, index_type="ivf")
    idx.close()
    damage(_live(idx.directory) / "ann.faiss")
    with pytest.raises(IndexCorruptError, match=message):
        Index.open(idx.directory, encoder=fake_encoder)


def test_an_exact_index_keeps_no_faiss_file_and_questions_never_import_faiss(
    corpus: Path, tmp_path: Path
) -> None:
    """Its vectors are the database's: nothing to load, keep in step, or damage."""
    Index.create([corpus], tmp_path / "index").close()
    assert not [p for p in (tmp_path / "index").rglob("*.faiss")]
    code = (
        "import sys; from semsearch import Index; "
        f"idx = Index.open({str(tmp_path / 'index')!r}); "
        "assert idx.search('apples', k=1); assert 'faiss' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_check_reports_an_unreadable_database(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    idx.close()
    _database(idx.directory).write_bytes(b"garbage" * 100)
    (problem,) = check_index(idx.directory).problems
    assert problem.endswith("passages.sqlite is unreadable (file is not a database)")


def test_desynchronised_vectors_and_passages_are_detected(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    db = sqlite3.connect(_database(idx.directory))
    db.execute("DELETE FROM passages WHERE id = (SELECT max(id) FROM passages)")
    db.commit()
    db.close()
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        Index.open(idx.directory, encoder=fake_encoder)


def test_a_rebuild_with_a_corrupt_index_replaces_it(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    idx.close()
    _database(idx.directory).write_bytes(b"garbage" * 1000)
    rebuilt = Index.create([corpus], idx.directory, encoder=fake_encoder)
    assert rebuilt.manifest.documents == 2
    assert len(list(idx.directory.glob("gen-*"))) == 1


def test_the_embedding_cache_means_no_text_is_embedded_twice(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    assert sum(fake_encoder.passage_calls) == 2
    saved = (corpus / "a.txt").read_text()
    idx.remove([corpus / "a.txt"])
    idx.add([corpus])  # the same text back: its vector comes from the cache
    assert sum(fake_encoder.passage_calls) == 2 and idx.manifest.passages == 2
    more = "A further paragraph, long enough to stand alone, on the pears and plums of the valley."
    write(corpus / "a.txt", f"{saved}Advertisement\n{more}\n")
    idx.add([corpus])
    assert sum(fake_encoder.passage_calls) == 3  # only the new paragraph
    Index.create(
        [corpus], idx.directory, encoder=fake_encoder, chunking=ChunkingConfig(min_chars=10)
    )
    assert sum(fake_encoder.passage_calls) == 3  # a rebuild with the same passages embeds nothing
    assert (idx.directory / "embeddings.sqlite").is_file()


def test_update_adds_or_creates_as_needed(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    directory = tmp_path / "index"
    idx, changes = update([corpus], directory, encoder=fake_encoder)
    assert len(changes.added) == 2
    write(
        tmp_path / "other" / "c.txt", "A third document about carrots and cabbages in the garden.\n"
    )
    idx, changes = update([tmp_path / "other"], directory, encoder=fake_encoder)
    assert len(changes.added) == 1 and idx.manifest.documents == 3
    idx, changes = update([], directory, encoder=fake_encoder, chunk_sizes={"min_chars": 20})
    assert (
        idx.manifest.chunking["min_chars"] == 20 and idx.manifest.documents == 3
    )  # rebuilt from its sources
    idx, changes = update([corpus], directory, encoder=fake_encoder, rebuild=True)
    assert idx.manifest.documents == 2 and len(changes.removed) == 1


def test_an_index_of_an_older_format_is_rebuilt_from_its_own_sources(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    manifest = idx.directory / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 3}))
    with pytest.raises(IndexCorruptError, match="format 3, this version reads 4"):
        Index.open(idx.directory, encoder=fake_encoder)
    other = write(tmp_path / "demo" / "d.txt", "A demo document nobody asked for, about ducks.\n")
    rebuilt, changes = update(
        [], idx.directory, encoder=fake_encoder, default_sources=[other.parent]
    )
    assert len(changes.added) == 2 and rebuilt.manifest.sources == [str(corpus.resolve())]


def test_check_index_finds_orphan_vectors(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = _build(corpus, tmp_path, fake_encoder)
    assert check_index(idx.directory).problems == ()
    db = sqlite3.connect(_database(idx.directory))
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("DELETE FROM documents WHERE path LIKE '%a.txt'")
    db.commit()
    db.close()
    problems = check_index(idx.directory).problems
    assert "1 passages with no occurrence" in problems
    assert any("manifest says 2 documents" in p for p in problems)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_an_approximate_index_type_is_built_searched_and_updated(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder, kind: str
) -> None:
    for n in range(60):
        write(
            corpus / f"extra{n:02d}.txt",
            f"Extra document number {n} about topic {n % 7} and item {n}.\n",
        )
    flat = Index.create([corpus], tmp_path / "flat", encoder=fake_encoder, index_type="flat")
    idx = Index.create([corpus], tmp_path / kind, encoder=fake_encoder, index_type=kind)
    assert (
        idx.manifest.ann == kind
        and (idx.directory / idx.manifest.generation / "ann.faiss").is_file()
    )
    question = "Extra document about topic 3"
    assert {h.passage_id for h in idx.search(question, k=5, mode="dense")} & {
        h.passage_id for h in flat.search(question, k=5, mode="dense")
    }
    probe = idx.vectors([h.passage_id for h in flat.search(question, k=5, mode="dense")])
    _, exact_ids = idx.nearest(probe, 5)
    scores, ids = idx.nearest(probe, 5, approximate=True)
    assert (ids[:, 0] == exact_ids[:, 0]).all() and np.allclose(scores[:, 0], 1, atol=1e-4)
    assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, exact_ids, strict=True)]) >= 0.8
    idx.remove([corpus / "extra00.txt"])
    assert idx.manifest.documents == 61 and idx.manifest.ann == kind
    assert check_index(idx.directory).problems == ()
    with pytest.raises(InputError, match="unknown index type 'annoy'"):
        Index.create([corpus], tmp_path / "x", encoder=fake_encoder, index_type="annoy")


def test_an_ivf_index_is_updated_in_place_until_the_collection_doubles(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    def extra(n: int) -> None:
        write(corpus / f"extra{n:03d}.txt", f"Extra document number {n} about topic {n % 7}.\n")

    for n in range(60):
        extra(n)
    idx = Index.create([corpus], tmp_path / "ivf", encoder=fake_encoder, index_type="ivf")
    trained = idx.manifest.ann_trained
    assert trained == idx.manifest.passages
    gone = idx.document(corpus / "extra000.txt")[0][0]
    (corpus / "extra000.txt").unlink()
    extra(100), extra(99)
    idx.add([corpus], prune=True)
    assert idx.manifest.passages == trained + 1
    assert idx.manifest.ann_trained == trained  # updated, not retrained
    new = idx.document(corpus / "extra100.txt")[0][0]
    scores, ids = idx.nearest(idx.vectors([new]), 3, approximate=True)
    assert new in ids[0] and scores[0][0] == pytest.approx(1.0) and gone not in ids
    assert check_index(idx.directory).problems == ()
    for n in range(101, 102 + trained):
        extra(n)
    idx.add([corpus])
    assert idx.manifest.ann_trained == idx.manifest.passages > 2 * trained  # retrained
    ann = idx.directory / idx.manifest.generation / "ann.faiss"
    broken = faiss.read_index(str(ann))
    broken.remove_ids(np.array([new], dtype=np.int64))
    faiss.write_index(broken, str(ann))
    assert (
        f"1 passages are not in the finder (e.g. id {new})" in check_index(idx.directory).problems
    )


def test_an_ivf_write_adds_a_delta_and_folds_it_in_when_it_grows(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    """A small change leaves the large main file as it is (no rewrite); past
    DELTA_SHARE of it the changes go into a new main file."""

    def extra(n: int) -> Path:
        text = f"Extra document number {n} about subject {n * 7919} and more.\n"
        return write(corpus / f"extra{n:03d}.txt", text)

    for n in range(60):
        extra(n)
    idx = Index.create([corpus], tmp_path / "ivf", encoder=fake_encoder, index_type="ivf")
    first = idx.manifest.generation
    gone = idx.document(corpus / "extra000.txt")[0][0]
    (corpus / "extra000.txt").unlink()
    extra(100)
    idx.add([corpus], prune=True)
    m = idx.manifest
    assert (m.ann_base, m.ann_delta, m.ann_stale) == (first, 1, 1)
    assert sorted(p.name for p in (idx.directory / m.generation).iterdir()) == ["delta.faiss"]
    new = idx.document(corpus / "extra100.txt")[0][0]
    _, ids = idx.nearest(idx.vectors([new]), 5, approximate=True)
    assert ids[0][0] == new and gone not in ids
    assert check_index(idx.directory).problems == ()
    assert all(
        h.passage_id != gone for h in idx.search("Extra document number 0 about subject 0", k=5)
    )
    extra(101), extra(102)  # 3 in the delta + 1 stale > 5% of 62
    idx.add([corpus])
    m = idx.manifest
    assert (m.ann_base, m.ann_delta, m.ann_stale) == ("", 0, 0)
    assert (idx.directory / m.generation / "ann.faiss").is_file()
    assert sorted(p.name for p in idx.directory.glob("gen-*")) == [m.generation]
    for n in (100, 101, 102):
        pid = idx.document(corpus / f"extra{n}.txt")[0][0]
        assert idx.nearest(idx.vectors([pid]), 1, approximate=True)[1][0][0] == pid
    assert check_index(idx.directory).problems == ()
    assert len(Index.open(idx.directory, encoder=fake_encoder)) == 64


def test_incremental_updates_give_the_same_results_as_a_fresh_build(tmp_path: Path) -> None:
    """Add, change and delete files on a live index; then compare with a build from scratch."""
    lines = [
        line
        for path in sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(line) > 120
    ]
    corpus = tmp_path / "corpus"
    for n in range(8):
        write(corpus / f"{n}.txt", "\n".join(lines[n * 3 : n * 3 + 3]) + "\n")
    live = Index.create([corpus / f"{n}.txt" for n in range(5)], tmp_path / "live")
    live.add([corpus], prune=True)  # three new files
    write(corpus / "2.txt", "\n".join(lines[30:33]) + "\n")  # one changed
    (corpus / "6.txt").unlink()  # one deleted
    live.add([corpus], prune=True)
    fresh = Index.create([corpus], tmp_path / "fresh")
    assert (live.manifest.documents, live.manifest.passages) == (
        fresh.manifest.documents,
        fresh.manifest.passages,
    )
    for question in QUESTIONS:
        a = [(h.text, round(h.score, 5), h.highlight) for h in live.search(question, k=5)]
        b = [(h.text, round(h.score, 5), h.highlight) for h in fresh.search(question, k=5)]
        assert a == b


def test_an_emptied_source_folder_is_stale_and_refresh_empties_it(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    only = write(
        tmp_path / "only" / "c.txt", "A document about carrots and cabbages in the garden.\n"
    )
    idx = Index.create([only.parent], tmp_path / "index", encoder=fake_encoder)
    only.unlink()
    assert idx.is_stale()
    assert [Path(p).name for p in idx.sync().removed] == ["c.txt"]
    assert idx.manifest.documents == 0 and not idx.is_stale()
    assert idx.search("carrots", k=3) == []


def test_vector_blobs_are_stored_inline(seeds_index: Index) -> None:
    """896 float32s fit in a 16 KB page; smaller pages spill each to an overflow page."""
    for path in (_database(seeds_index.directory), seeds_index.directory / "embeddings.sqlite"):
        db = sqlite3.connect(path)
        pages, overflow = db.execute(
            "SELECT count(*), sum(pagetype = 'overflow') FROM dbstat"
        ).fetchone()
        db.close()
        assert pages > 10 and overflow == 0, path
