import shutil
from pathlib import Path

import numpy as np
import pytest

from semsearch import Index
from semsearch.errors import InputError, QueryError
from semsearch.reports import (
    compare,
    near_duplicates,
    read_questions,
    search_many,
    thresholds,
)

from ..conftest import QAIM, SEEDS, write

SEED_000 = "000_13cb502306774242.txt"
SEED_004 = "004_bf77667ad34e270b.txt"


class CountingEncoder:
    """The real encoder, counting its calls."""

    def __init__(self, real) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self.query_calls = 0

    def encode_queries(self, texts):
        self.query_calls += 1
        return self.real.encode_queries(texts)

    def encode_passages(self, texts):
        return self.real.encode_passages(texts)

    def spec(self):
        return self.real.spec()


@pytest.mark.slow
def test_a_batch_of_200_questions_is_one_encoder_call_and_one_vector_search(
    seeds_index: Index, monkeypatch
) -> None:
    encoder = CountingEncoder(seeds_index.encoder)
    idx = Index.open(seeds_index.directory, encoder=encoder)
    finder = idx.backend.snapshot().finder
    faiss_calls = []
    real_search = finder.search
    monkeypatch.setattr(
        finder,
        "search",
        lambda queries, k: faiss_calls.append(queries.shape) or real_search(queries, k),
    )
    questions = [f"question number {i} about the coalition withdrawal" for i in range(199)]
    report = search_many(idx, [*questions, "when did the Qaim base handover happen"], k=3)
    assert encoder.query_calls == 1
    assert faiss_calls == [(200, seeds_index.encoder.dim)]
    assert len(report.results) == 200 and all(len(r.hits) == 3 for r in report.results)
    assert QAIM in report.results[-1].hits[0].text


def test_a_batch_refuses_an_empty_question(seeds_index: Index) -> None:
    with pytest.raises(QueryError, match="question 2"):
        search_many(seeds_index, ["fine", " "], k=3)


def test_exact_repeats_in_seeds_000_and_004_are_found(seeds_index: Index) -> None:
    report = near_duplicates(seeds_index)
    names = [Path(d).name for d in report.documents]
    repeated_in = {Path(d).name for c in report.clusters if c.places >= 2 for d in c.documents}
    assert {SEED_000, SEED_004} <= repeated_in
    in_000 = [c for c in report.clusters if [Path(d).name for d in c.documents] == [SEED_000]]
    assert len(in_000) >= 6  # the repeated block: six paragraphs and a heading
    texts = {seeds_index.passages([pid])[0].text for c in in_000 for pid in c.passages}
    assert any(QAIM in t for t in texts)
    coverage = np.array(report.coverage)
    assert coverage[names.index(SEED_000), names.index(SEED_000)] > 0.8
    assert coverage[names.index(SEED_004), names.index(SEED_004)] > 0.8
    assert coverage[names.index("002_b7d5ac79bd800930.txt")].sum() == 0


def test_the_similarity_matrix_is_symmetric_with_a_unit_diagonal(seeds_index: Index) -> None:
    similarity = np.array(near_duplicates(seeds_index).similarity)
    assert similarity.shape == (5, 5)
    assert np.allclose(similarity, similarity.T)
    assert np.allclose(np.diag(similarity), 1.0)
    assert ((similarity > 0.5) & (similarity <= 1.0)).all()


@pytest.mark.slow
def test_an_edited_copy_across_documents_is_a_near_duplicate_pair(tmp_path: Path) -> None:
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    original = next(line for line in (corpus / SEED_000).read_text().splitlines() if QAIM in line)
    edited = original.replace("، غربي البلاد،", "،").replace("كافة", "")
    write(corpus / "005_copy.txt", "خبر منقول\n" + edited + "\n")
    idx = Index.create([corpus], tmp_path / "index")
    report = near_duplicates(idx)
    copy = str((corpus / "005_copy.txt").resolve())
    pairs = [
        p
        for p in report.pairs
        if any(o.source == copy for o in idx.passages([p.a, p.b])[1].occurrences)
    ]
    assert pairs and pairs[0].score >= thresholds(idx).duplicate
    names = [Path(d).name for d in report.documents]
    assert report.coverage[names.index("005_copy.txt")][names.index(SEED_000)] == 1.0
    cluster = next(c for c in report.clusters if copy in c.documents)
    assert cluster.places == 3  # twice in 000, once in the copy


def test_a_threshold_out_of_range_is_refused(seeds_index: Index) -> None:
    with pytest.raises(InputError, match="threshold must be in"):
        near_duplicates(seeds_index, 1.5)


def test_compare_aligns_a_document_with_an_edited_copy(seeds_index: Index, tmp_path: Path) -> None:
    seed = seeds_index.document(Path(seeds_index.manifest.sources[0]) / SEED_004)
    assert seed, "seed 004 is indexed"
    source = Path(seed[0][1].source)
    lines = source.read_text().splitlines()
    copy = write(tmp_path / "copy.txt", "\n".join(lines[:3] + lines[5:8]) + "\n")
    result = compare(seeds_index, source, copy)
    aligned = [row for row in result.aligned if row.b is not None]
    assert len(aligned) == 6
    assert all(
        row.score > 0.99 and " ".join(row.a.text.split()) == " ".join(row.b.text.split())
        for row in aligned
    )
    assert result.unmatched_b == ()
    assert [row.a.place.start for row in result.aligned] == sorted(
        row.a.place.start for row in result.aligned
    )
    text = copy.read_text()
    assert all(text[row.b.place.start : row.b.place.end] == row.b.text for row in aligned)


def test_compare_of_unrelated_documents_aligns_little(seeds_index: Index, tmp_path: Path) -> None:
    other = write(
        tmp_path / "bread.txt",
        "To bake bread, mix flour, water, salt and yeast, then knead it well.\n",
    )
    source = Path(seeds_index.manifest.sources[0]) / SEED_004
    result = compare(seeds_index, source, other)
    assert all(row.b is None for row in result.aligned)
    assert len(result.unmatched_b) == 1


def test_compare_names_a_missing_file(seeds_index: Index, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        compare(seeds_index, tmp_path / "a.txt", tmp_path / "b.txt")


def test_compare_refuses_an_unreadable_file_in_one_line(seeds_index: Index, tmp_path: Path) -> None:
    binary = tmp_path / "a.txt"
    binary.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match=r"cannot read file .*a\.txt: binary file"):
        compare(seeds_index, binary, tmp_path / "a.txt")


def test_read_questions_takes_lines_csv_and_tsv(tmp_path: Path) -> None:
    lines = write(tmp_path / "q.txt", "first question\n\n# a comment\n  second question  \n")
    assert read_questions(lines) == ["first question", "second question"]
    table = write(tmp_path / "q.csv", 'id,question\n1,"who, exactly?"\n2,متى؟\n')
    assert read_questions(table) == ["who, exactly?", "متى؟"]
    tabbed = write(tmp_path / "q.tsv", "question\tnote\nwhere\tx\n")
    assert read_questions(tabbed) == ["where"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("q.csv", "id,text\n1,hello\n", "no 'question' column"),
        ("q.txt", "# only a comment\n\n  \nx", None),
        ("empty.txt", "\n\n", "empty file"),
    ],
)
def test_read_questions_errors(
    tmp_path: Path, name: str, content: str, message: str | None
) -> None:
    path = write(tmp_path / name, content)
    if message is None:
        assert read_questions(path) == ["x"]
        return
    with pytest.raises(InputError, match=message):
        read_questions(path)
    with pytest.raises(InputError, match="no such questions file"):
        read_questions(tmp_path / "missing.txt")


def test_compare_pairs_repeated_paragraphs_in_order(seeds_index: Index) -> None:
    seed = Path(seeds_index.manifest.sources[0]) / SEED_000
    result = compare(seeds_index, seed, seed)
    assert all(
        row.b is not None and row.b.place.start == row.a.place.start for row in result.aligned
    )
    assert result.unmatched_b == ()
