"""One suite every storage backend passes: the local folder and Milvus Lite run the
same cases through the protocols of :mod:`semsearch.storage.base`. A new backend
adds itself to ``BACKENDS`` below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from semsearch import Index, update
from semsearch.indexing.signals import new_passage
from semsearch.storage import open_backend
from semsearch.storage.base import Backend
from semsearch.text.lexical import terms
from semsearch.text.names import passage_terms

from ..conftest import FakeEncoder, write


def _paragraph(first: str, topic: str) -> str:
    """About 650 characters: each paragraph is a passage of its own."""
    return " ".join(
        [first, *(f"Witnesses described part {n} of the {topic} at length." for n in range(13))]
    )


SHARED = _paragraph("The council met in Baghdad on Tuesday to discuss the harbour.", "council")


def _local(root: Path) -> str | None:
    return None


def _milvus_lite(root: Path) -> str | None:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    return f"milvus-lite:{root / 'passages.db'}"


BACKENDS = [
    pytest.param(_local, id="local"),
    pytest.param(_milvus_lite, id="milvus-lite", marks=pytest.mark.slow),
]


def _built(make_address, root: Path) -> Iterator[tuple[Index, Backend, Path]]:
    """Three documents, one paragraph in two of them, indexed with a fake encoder."""
    docs = root / "docs"
    apples = _paragraph("Apples grow in the orchards of the northern valley.", "orchard")
    nets = _paragraph("Fishermen mend their nets before the winter storms.", "fishing")
    bridge = _paragraph("Engineers repaired the old bridge over the river in spring.", "bridge")
    write(docs / "a.txt", f"{apples}\n\n{SHARED}\n")
    write(docs / "b.txt", f"{SHARED}\n\n{nets}\n")
    write(docs / "c.txt", f"{bridge}\n")
    (docs / "d.txt").write_bytes(b"\x00\x01 not text")
    idx, _ = update([docs], root / "index", encoder=FakeEncoder(), store=make_address(root))
    backend = open_backend(root / "index")
    yield idx, backend, docs
    backend.close()
    idx.close()


@pytest.fixture(scope="module", params=BACKENDS)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Index, Backend, Path]]:
    """One index per backend for the cases that only read it (or write nothing)."""
    yield from _built(request.param, tmp_path_factory.mktemp("built"))


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Index, Backend, Path]]:
    """An index of its own, for a case that changes it."""
    yield from _built(request.param, tmp_path)


def test_a_repeated_paragraph_is_one_passage_with_every_place(built) -> None:
    _, backend, docs = built
    snap = backend.snapshot()
    ids = snap.passage_ids()
    assert len(ids) == 4 and ids == sorted(ids)
    stored = snap.passages(ids)
    (shared,) = [p for p in stored.values() if p.text.strip() == SHARED]
    assert {Path(o.source).name for o in shared.occurrences} == {"a.txt", "b.txt"}
    for path in sorted(docs.glob("[abc].txt")):
        text = path.read_text("utf-8")
        places = snap.document(str(path.resolve()))
        assert places and [loc.start for _, loc in places] == sorted(loc.start for _, loc in places)
        for pid, loc in places:
            assert text[loc.start : loc.end].strip() == stored[pid].text.strip()


def test_nearest_is_exact_and_within_finds_every_passage_above_the_threshold(built) -> None:
    _, backend, _ = built
    snap = backend.snapshot()
    ids = snap.passage_ids()
    found, matrix = snap.vectors([*reversed(ids), 10**9])
    assert found == list(reversed(ids))  # in the order asked, unknown ids left out
    queries = FakeEncoder().encode_queries(["boats in the harbour", "bridge over the river"])
    scores, nearest = snap.nearest(queries, 2)
    exact = queries @ matrix.T
    for row in range(len(queries)):
        best = np.argsort(-exact[row], kind="stable")[:2]
        assert nearest[row].tolist() == [found[i] for i in best]
        assert np.allclose(scores[row], exact[row][best], atol=1e-5)
    threshold = float(np.sort(exact[0])[-2]) - 1e-4
    lims, _, within = snap.within(queries[:1], threshold)
    expected = {found[i] for i in np.nonzero(exact[0] >= threshold)[0]}
    assert set(within[lims[0] : lims[1]].tolist()) == expected and len(expected) == 2


def test_words_and_names_find_the_passages_that_hold_them(built) -> None:
    _, backend, _ = built
    snap = backend.snapshot()
    texts = {pid: p.text for pid, p in snap.passages(snap.passage_ids()).items()}
    (hits,) = snap.bm25([terms("fishermen nets")], limit=10, budget=1000)
    assert [texts[pid] for pid in hits] == [t for t in texts.values() if "Fishermen" in t]
    skeletons = {skeleton for skeleton, _ in passage_terms("Baghdad")}
    rows = snap.postings(skeletons, budget=1000)
    assert {texts[pid].strip() for _, _, pid in rows} == {SHARED}


def test_sentence_vectors_are_spans_of_their_passage(built) -> None:
    _, backend, _ = built
    snap = backend.snapshot()
    ids = snap.passage_ids()
    texts = {pid: p.text for pid, p in snap.passages(ids).items()}
    for pid, start, end, vector in snap.sentences(ids):
        assert 0 <= start < end <= len(texts[pid]) and vector.shape == (FakeEncoder.dim,)


def test_what_a_file_was_is_remembered_read_or_skipped(built) -> None:
    _, backend, _ = built
    snap = backend.snapshot()
    states = snap.file_states()
    assert {Path(p).name for p in states} == {"a.txt", "b.txt", "c.txt", "d.txt"}
    (skipped,) = snap.skipped().items()
    assert Path(skipped[0]).name == "d.txt" and "binary" in skipped[1][2]


def test_removing_a_document_drops_only_what_no_other_holds(fresh) -> None:
    idx, backend, docs = fresh
    idx.remove([docs / "b.txt"])
    snap = backend.snapshot()
    texts = [p.text.strip() for p in snap.passages(snap.passage_ids()).values()]
    assert SHARED in texts and not any("Fishermen" in t for t in texts) and len(texts) == 3
    assert not snap.document(str((docs / "b.txt").resolve()))
    assert backend.audit().problems == ()


def test_a_write_left_without_commit_changes_nothing_readers_see(built) -> None:
    idx, backend, _ = built
    before = backend.snapshot().passage_ids()
    vector = FakeEncoder().encode_passages(["never placed"])[0]
    with pytest.raises(RuntimeError), backend.write(FakeEncoder().spec(), None, None) as txn:
        txn.add_passage(new_passage("e" * 64, "never placed", vector, []))
        raise RuntimeError("the writer dies before commit")
    assert backend.snapshot().passage_ids() == before
    assert idx.search("never placed", k=10)[0].text != "never placed"


def test_a_sound_index_audits_clean(built) -> None:
    _, backend, _ = built
    audit = backend.audit()
    assert audit.problems == () and audit.passages == audit.vectors == 4


@pytest.mark.parametrize("address", ["", "mongodb://x", "file:idx"])
def test_an_address_no_backend_takes_names_the_forms(address: str, tmp_path: Path) -> None:
    from semsearch.errors import InputError
    from semsearch.storage import FORMS, canonical

    with pytest.raises(InputError, match=FORMS.replace(".", r"\.")):
        canonical(address)
    write(tmp_path / "docs" / "a.txt", _paragraph("A first document.", "orchard"))
    update([tmp_path / "docs"], tmp_path / "index", encoder=FakeEncoder())
    with pytest.raises(InputError, match="is not a store"):
        update([tmp_path / "docs"], tmp_path / "index", encoder=FakeEncoder(), store=address)
