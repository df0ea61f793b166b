import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch import Index
from semsearch.cli.app import app
from semsearch.errors import InputError
from semsearch.reports.evaluation import evaluate, read_qrels

from ..conftest import QAIM, write

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
    with pytest.raises(InputError, match="no passage of the index holds the answer"):
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


def _judged_lines(seeds: Path) -> list[dict]:
    """Questions judged by offsets into the seeds, in XQuAD's shape (one judgment per
    corpus side) and in the plain one, with a ``lang`` to group by."""
    name = "000_13cb502306774242.txt"
    offset = (seeds / name).read_text(encoding="utf-8").index(QAIM)
    judged = {"file": f"seeds/{name}", "answer_start": offset + 10}
    return [
        {"question": "when did the Qaim base handover happen", "lang": "en", "ar": judged},
        {"question": "متى تم تسليم قاعدة القائم", "lang": "ar", "ar": [judged, judged]},
        {"question": "Wann wurde der Stützpunkt al-Qaim übergeben?", "lang": "de", "ar": judged},
    ]


def test_jsonl_qrels_are_judged_by_offsets_and_grouped(
    seeds_index: Index, seeds_copy: Path, tmp_path: Path
) -> None:
    lines = _judged_lines(seeds_copy)
    qrels = write(tmp_path / "q.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    result = evaluate(seeds_index, read_qrels(qrels, side="ar"), ("hybrid",), by="lang")
    assert result.questions == 3 and list(result.groups) == ["ar", "de", "en"]
    assert result.groups["en"].modes[0].ranks == (1,)
    assert result.modes[0].ranks[:2] == (1, 1)
    # the plain shape: the judgment on the line itself
    plain = write(tmp_path / "p.jsonl", json.dumps({"question": "q", **lines[0]["ar"]}) + "\n")
    assert evaluate(seeds_index, read_qrels(plain), ("dense",)).questions == 1
    # a judgment pointing outside every passage is refused, naming the place
    wrong = {"question": "q", "file": lines[0]["ar"]["file"], "answer_start": 10**7}
    with pytest.raises(InputError, match=r"000_13cb502306774242\.txt:10000000"):
        evaluate(seeds_index, read_qrels(write(tmp_path / "w.jsonl", json.dumps(wrong))))


@pytest.mark.parametrize(
    ("line", "side", "message"),
    [
        ('{"question": "q", "ar": {"file": "a", "answer_start": 1}}', None, 'needs "file"'),
        (
            '{"question": "q", "ar": {"file": "a", "answer_start": 1}}',
            "en",
            "choose --side among: ar",
        ),
        ('{"question": "q", "file": "a", "answer_start": "x"}', None, "character offset"),
        ("[1, 2]", None, 'object with a "question"'),
        ("{not json", None, "line 1: not JSON"),
    ],
)
def test_bad_jsonl_qrels_say_what_to_fix(
    tmp_path: Path, line: str, side: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        read_qrels(write(tmp_path / "q.jsonl", line + "\n"), side=side)


def test_the_eval_command_on_jsonl_by_language(
    seeds_index: Index, seeds_copy: Path, tmp_path: Path
) -> None:
    lines = _judged_lines(seeds_copy)
    first = write(tmp_path / "a.jsonl", json.dumps(lines[0]) + "\n")
    rest = write(tmp_path / "b.jsonl", "".join(json.dumps(x) + "\n" for x in lines[1:]))
    args = ["eval", str(first), str(rest), "--corpus-side", "ar", "--by", "lang"]
    args += ["--index", str(seeds_index.directory), "--mode", "hybrid"]
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["questions"] == 3 and sorted(data["groups"]) == ["ar", "de", "en"]
    assert data["groups"]["en"]["modes"]["hybrid"]["ranks"] == [1]
    text = CliRunner().invoke(app, args).stdout
    assert "lang = de: 1 questions" in text and "all: 3 questions" in text
    missing = CliRunner().invoke(app, [*args[:5], "--by", "topic", *args[7:]])
    assert missing.exit_code == 1 and "no field 'topic' to group by" in missing.output
