import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch import Index
from semsearch.cli import app
from semsearch.errors import InputError
from semsearch.evaluate import evaluate, read_qrels

from .conftest import write

QRELS = (
    "question\texpected\n"
    "when did the Qaim base handover happen\tقاعدة القائم\n"
    "how many soldiers in Syria\t900 جندي|900 soldiers\n"
    "# a comment line\n"
    "a question nothing answers well\tوفي 10 من الشهر ذاته\n"
)


def test_read_qrels_takes_alternatives_and_skips_header_and_comments(tmp_path: Path) -> None:
    qrels = read_qrels(write(tmp_path / "q.tsv", QRELS))
    assert [q.question for q in qrels][:2] == [
        "when did the Qaim base handover happen",
        "how many soldiers in Syria",
    ]
    assert qrels[1].expected == ("900 جندي", "900 soldiers")


@pytest.mark.parametrize(
    ("content", "message"),
    [("one column only\n", "line 1"), ("question\texpected\n", "no questions")],
)
def test_bad_qrels_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_qrels(write(tmp_path / "q.tsv", content))


def test_metrics_on_a_tiny_qrels_file(seeds_index: Index, tmp_path: Path) -> None:
    result = evaluate(seeds_index, read_qrels(write(tmp_path / "q.tsv", QRELS)))
    hybrid = next(m for m in result.modes if m.mode == "hybrid")
    assert result.questions == 3 and [m.mode for m in result.modes] == [
        "hybrid",
        "dense",
        "lexical",
    ]
    assert hybrid.ranks[:2] == (1, 1)
    r = hybrid.ranks[2]
    assert hybrid.mrr == pytest.approx((2 + (1 / r if r else 0)) / 3)
    assert hybrid.recall[10] == pytest.approx((2 + (r is not None)) / 3)
    assert 0 < hybrid.ndcg10 <= 1 and hybrid.recall[1] <= hybrid.recall[3] <= hybrid.recall[5]


def test_an_answer_missing_from_the_index_is_refused(seeds_index: Index, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no passage of the index contains"):
        evaluate(seeds_index, read_qrels(write(tmp_path / "q.tsv", "q\tnot in the seeds at all\n")))


def test_the_eval_command(seeds_index: Index, tmp_path: Path) -> None:
    qrels = write(tmp_path / "q.tsv", QRELS)
    runner = CliRunner()
    table = runner.invoke(app, ["eval", str(qrels), "--index", str(seeds_index.directory)])
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[1].split() == [
        "mode",
        "R@1",
        "R@3",
        "R@5",
        "R@10",
        "MRR",
        "nDCG@10",
    ]
    data = json.loads(
        runner.invoke(
            app,
            [
                "eval",
                str(qrels),
                "--index",
                str(seeds_index.directory),
                "--mode",
                "dense",
                "--json",
            ],
        ).stdout
    )
    assert list(data["modes"]) == ["dense"] and data["questions"] == 3
    assert set(data["modes"]["dense"]) >= {"recall@1", "recall@5", "mrr", "ndcg@10"}
