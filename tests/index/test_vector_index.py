"""The vector index types: exact without FAISS, HNSW and IVF built, searched and updated in place."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from semsearch import Index
from semsearch.errors import (
    InputError,
)
from semsearch.storage.check import check_index

from ..conftest import FakeEncoder, write
from .conftest import database


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


def test_vector_blobs_are_stored_inline(seeds_index: Index) -> None:
    """896 float32s fit in a 16 KB page; smaller pages spill each to an overflow page."""
    for path in (database(seeds_index.directory), seeds_index.directory / "embeddings.sqlite"):
        db = sqlite3.connect(path)
        pages, overflow = db.execute(
            "SELECT count(*), sum(pagetype = 'overflow') FROM dbstat"
        ).fetchone()
        db.close()
        assert pages > 10 and overflow == 0, path
