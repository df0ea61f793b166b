"""Writing an index: skipped files, incremental adds and removes, crash points, refresh, the embedding cache."""

import json
import os
from pathlib import Path

import pytest

from semsearch import Index
from semsearch.errors import (
    EncoderMismatchError,
    InputError,
)
from semsearch.index import update
from semsearch.readers import read_text
from semsearch.storage.check import check_index
from semsearch.text.chunking import ChunkingConfig

from ..conftest import SEEDS, FakeEncoder, write
from .conftest import QUESTIONS, build


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


def test_a_failed_rebuild_leaves_the_previous_index_usable(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
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
    reader = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
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
    idx = build(corpus, tmp_path, fake_encoder)
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


def test_the_embedding_cache_means_no_text_is_embedded_twice(
    corpus: Path, tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    idx = build(corpus, tmp_path, fake_encoder)
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


@pytest.mark.slow
def test_incremental_updates_give_the_same_results_as_a_fresh_build(tmp_path: Path) -> None:
    """Add, change and delete files on a live index; then compare with a build from scratch."""
    lines = [
        line
        for path in sorted(SEEDS.glob("*.txt"))
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
