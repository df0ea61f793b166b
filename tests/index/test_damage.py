"""A missing, foreign, damaged or outdated index: clear errors, check, and rebuilds that recover."""

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from semsearch import Index
from semsearch.errors import (
    EncoderMismatchError,
    IndexCorruptError,
    IndexNotFoundError,
    NotAnIndexError,
)
from semsearch.index import update
from semsearch.storage.check import check_index

from ..conftest import FakeEncoder, write
from .conftest import build, database, live_generation


def test_an_index_on_a_read_only_filesystem_is_searched_and_checked(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    """An index shipped read-only (a container image): no WAL shared-memory file
    can be created there, so the database is opened as immutable."""
    idx = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
    with pytest.raises(EncoderMismatchError, match="fake-bow"):
        Index.open(idx.directory, encoder=seeds_index.encoder)
    with pytest.raises(EncoderMismatchError, match="e5-small-q4"):
        Index.open(seeds_index.directory, encoder=fake_encoder)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: database(d).write_bytes(b"garbage" * 100), "unreadable"),
        (lambda d: database(d).unlink(), "missing"),
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
    idx = build(corpus, tmp_path, fake_encoder)
    damage(idx.directory)
    with pytest.raises(IndexCorruptError, match=message):
        Index.open(idx.directory, encoder=fake_encoder)


def test_a_database_damaged_while_open_gives_a_clear_error(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
    assert idx.search("apples", k=1)
    database(idx.directory).write_bytes(b"garbage" * 2000)
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
    damage(live_generation(idx.directory) / "ann.faiss")
    with pytest.raises(IndexCorruptError, match=message):
        Index.open(idx.directory, encoder=fake_encoder)


def test_check_reports_an_unreadable_database(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
    idx.close()
    database(idx.directory).write_bytes(b"garbage" * 100)
    (problem,) = check_index(idx.directory).problems
    assert problem.endswith("passages.sqlite is unreadable (file is not a database)")


def test_desynchronised_vectors_and_passages_are_detected(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
    db = sqlite3.connect(database(idx.directory))
    db.execute("DELETE FROM passages WHERE id = (SELECT max(id) FROM passages)")
    db.commit()
    db.close()
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        Index.open(idx.directory, encoder=fake_encoder)


def test_a_rebuild_with_a_corrupt_index_replaces_it(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
    idx.close()
    database(idx.directory).write_bytes(b"garbage" * 1000)
    rebuilt = Index.create([corpus], idx.directory, encoder=fake_encoder)
    assert rebuilt.manifest.documents == 2
    assert len(list(idx.directory.glob("gen-*"))) == 1


def test_an_index_of_an_older_format_is_rebuilt_from_its_own_sources(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
    assert check_index(idx.directory).problems == ()
    db = sqlite3.connect(database(idx.directory))
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("DELETE FROM documents WHERE path LIKE '%a.txt'")
    db.commit()
    db.close()
    problems = check_index(idx.directory).problems
    assert "1 passages with no occurrence" in problems
    assert any("manifest says 2 documents" in p for p in problems)
