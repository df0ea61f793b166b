"""The CLI as a user runs it: typer's runner in-process, and the real console script."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semsearch.cli.app import app

from ..commands import run_cli
from ..conftest import QAIM, SEEDS

QUESTION = "when did the Qaim base handover happen"
runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder laid out as a new user's checkout: seeds/ and the tracked index/ files."""
    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "index").mkdir()
    for name in ("README.md", ".gitignore"):
        shutil.copy(SEEDS.parent / "index" / name, tmp_path / "index" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEMSEARCH_INDEX", raising=False)
    return tmp_path


def test_first_ask_builds_the_index_from_seeds_then_answers(workdir: Path) -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == QUESTION
    top = data["hits"][0]
    assert QAIM in top["text"]
    assert set(top) >= {"rank", "score", "text", "source", "passage_id", "start", "end"}
    assert top["rank"] == 1 and top["source"] == "seeds/000_13cb502306774242.txt"
    assert (workdir / "seeds" / "000_13cb502306774242.txt").read_text()[
        top["start"] : top["end"]
    ] == top["text"]
    assert (workdir / "index" / "manifest.json").exists()
    assert "embedding" in result.stderr


@pytest.mark.slow
def test_the_console_script_answers_in_a_fresh_folder(workdir: Path) -> None:
    first = run_cli("ask", QUESTION, "-k", "3", cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("1. ")
    assert QAIM in first.stdout.split("\n2. ")[0]
    assert "seeds/000_13cb502306774242.txt:" in first.stdout
    again = run_cli("ask", QUESTION, "--json", "-k", "2", cwd=workdir)
    assert again.returncode == 0 and again.stderr == ""  # index reused: nothing rebuilt
    hits = json.loads(again.stdout)["hits"]
    assert len(hits) == 2 and QAIM in hits[0]["text"]


@pytest.mark.slow
def test_ask_refreshes_after_a_seed_changes(workdir: Path) -> None:
    assert runner.invoke(app, ["ask", QUESTION]).exit_code == 0
    new = workdir / "seeds" / "005_new.txt"
    new.write_text(
        "أعلنت وزارة الدفاع أن آخر جندي غادر قاعدة عين الأسد الجوية في محافظة الأنبار.\n"
    )
    result = runner.invoke(app, ["ask", "who left Ain al-Asad air base", "--json", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "embedding 1 passages" in result.stderr
    assert json.loads(result.stdout)["hits"][0]["source"] == "seeds/005_new.txt"


@pytest.mark.slow
def test_index_command_and_info(workdir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    result = runner.invoke(app, ["index", "seeds", "--index", str(target), "--json"])
    assert result.exit_code == 0, result.output
    built = json.loads(result.stdout)
    assert built["documents"] == 5 and built["encoder"] == "e5-small-q4+use-m3"
    info = runner.invoke(app, ["info", "--json"], env={"SEMSEARCH_INDEX": str(target)})
    assert json.loads(info.stdout)["passages"] == built["passages"]
    plain = runner.invoke(app, ["info", "--index", str(target)])
    assert "e5-small-q4+use-m3" in plain.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "empty question"),
        (["ask", "   "], "empty question"),
        (["ask", QUESTION, "-k", "0"], "k must be 1 or more, got 0"),
        (["ask", QUESTION, "--index", "nowhere", "--no-refresh"], "no index at nowhere"),
        (["index", "missing-folder"], "no such file or folder: missing-folder"),
        (["index", "seeds", "--max-chars", "5"], "max_chars must be at least 50, got 5"),
        (["info", "--index", "seeds"], "seeds is not a semsearch index"),
        (["index", "seeds", "--index", "seeds"], "seeds is not a semsearch index"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_1(
    workdir: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in (workdir / "seeds").iterdir()) == sorted(
        p.name for p in SEEDS.iterdir()
    )


def test_no_index_and_no_seeds_says_how_to_build_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEMSEARCH_INDEX", raising=False)
    result = runner.invoke(app, ["ask", QUESTION])
    assert result.exit_code == 1
    assert "semsearch index PATH" in result.stderr


@pytest.mark.slow
def test_a_corrupt_index_is_reported_and_kept(workdir: Path) -> None:
    assert runner.invoke(app, ["ask", QUESTION]).exit_code == 0
    manifest = workdir / "index" / "manifest.json"
    database = workdir / "index" / json.loads(manifest.read_text())["database"]
    database.write_bytes(b"not a database" * 100)
    result = runner.invoke(app, ["ask", QUESTION])
    assert result.exit_code == 1 and "rebuild" in result.stderr
    rebuilt = runner.invoke(app, ["index"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert runner.invoke(app, ["ask", QUESTION]).exit_code == 0


@pytest.mark.slow
def test_skipped_files_are_warned_about_and_the_rest_indexed(workdir: Path) -> None:
    (workdir / "seeds" / "broken.txt").write_bytes(b"\xff\xfe bad bytes")
    result = runner.invoke(app, ["index", "seeds"])
    assert result.exit_code == 0
    assert "warning: skipped" in result.stderr and "broken.txt" in result.stderr
    assert "5 added" in result.stderr and "the index holds 5 documents" in result.stderr
    assert "warning: skipped seeds/broken.txt: not valid UTF-8" in result.stderr


def test_help_teaches(workdir: Path) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "semsearch ask" in result.stdout and "index" in result.stdout


@pytest.mark.slow
def test_report_queries_writes_each_format_and_prints_json(workdir: Path) -> None:
    questions = workdir / "questions.txt"
    questions.write_text(f"{QUESTION}\nhow many soldiers in Syria\n", encoding="utf-8")
    assert runner.invoke(app, ["index", "seeds", "-q"]).exit_code == 0
    for suffix in ("csv", "json", "html"):
        result = runner.invoke(
            app, ["report", "queries", str(questions), "-k", "2", "--out", f"r.{suffix}"]
        )
        assert result.exit_code == 0, result.output
        assert f"wrote r.{suffix}" in result.stderr and (workdir / f"r.{suffix}").stat().st_size > 0
    printed = runner.invoke(app, ["report", "queries", str(questions), "--json", "-q"])
    data = json.loads(printed.stdout)
    assert QAIM in data["results"][0]["hits"][0]["text"]
    text = runner.invoke(app, ["report", "queries", str(questions), "-q"])
    assert text.stdout.startswith(f"? {QUESTION}\n  1. ")


@pytest.mark.slow
def test_report_duplicates_and_compare_from_the_cli(workdir: Path) -> None:
    assert runner.invoke(app, ["index", "seeds", "-q"]).exit_code == 0
    dup = runner.invoke(app, ["report", "duplicates", "--json", "-q"])
    assert dup.exit_code == 0, dup.output
    assert len(json.loads(dup.stdout)["documents"]) == 5
    seed = "seeds/000_13cb502306774242.txt"
    cmp = runner.invoke(app, ["report", "compare", seed, seed, "--out", "c.html"])
    assert cmp.exit_code == 0, cmp.output
    assert 'dir="auto"' in (workdir / "c.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "queries", "missing.txt"], "no such questions file: missing.txt"),
        (["report", "duplicates", "--threshold", "2"], "threshold must be in (0, 1], got 2.0"),
        (["report", "compare", "seeds", "nope.txt"], "no such file: seeds"),
        (["report", "duplicates", "--out", "x.pdf"], "use an --out ending in .csv, .json, .html"),
    ],
)
def test_report_errors_are_one_line(workdir: Path, args: list[str], message: str) -> None:
    assert runner.invoke(app, ["index", "seeds", "-q"]).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_index_adds_updates_prunes_and_removes_incrementally(workdir: Path) -> None:
    assert runner.invoke(app, ["index", "seeds", "-q"]).exit_code == 0
    extra = workdir / "more"
    extra.mkdir()
    (extra / "a.txt").write_text(
        "A new article about the talks in Baghdad on the future of the coalition.\n"
    )
    added = runner.invoke(app, ["index", "more", "--json"])
    changes = json.loads(added.stdout)["changes"]
    assert changes == {
        "added": 1,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "embedded": 1,
        "skipped": [],
    }
    assert json.loads(added.stdout)["documents"] == 6  # seeds kept: adding is incremental
    again_run = runner.invoke(app, ["index", "--json"])
    assert again_run.exit_code == 0, again_run.output
    again = json.loads(again_run.stdout)["changes"]
    assert again["unchanged"] == 6 and again["embedded"] == 0
    (extra / "a.txt").unlink()
    kept = json.loads(runner.invoke(app, ["index", "more", "--json"]).stdout)
    assert kept["documents"] == 6  # a deleted file stays until --prune
    pruned = json.loads(runner.invoke(app, ["index", "seeds", "more", "--prune", "--json"]).stdout)
    assert pruned["changes"]["removed"] == 1 and pruned["documents"] == 5
    removed = runner.invoke(app, ["remove", "seeds/000_13cb502306774242.txt"])
    assert (
        removed.exit_code == 0
        and "1 removed" in removed.stderr
        and "4 documents left" in removed.stderr
    )
    rebuilt = json.loads(runner.invoke(app, ["index", "seeds", "--rebuild", "--json"]).stdout)
    assert rebuilt["documents"] == 5 and rebuilt["changes"]["embedded"] > 0


@pytest.mark.slow
def test_check_reports_a_sound_index_then_a_desynchronised_one(workdir: Path) -> None:
    import faiss
    import numpy as np

    assert runner.invoke(app, ["index", "seeds", "--index-type", "ivf", "-q"]).exit_code == 0
    ok = runner.invoke(app, ["check"])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: 5 documents, 55 passages, 55 vectors")
    (workdir / "seeds" / "001_354d3392e6522b73.txt").write_text("changed\n" * 30)
    stale = runner.invoke(app, ["check", "--json"])
    assert json.loads(stale.stdout)["stale"][0].endswith("001_354d3392e6522b73.txt")
    gen = (
        workdir
        / "index"
        / json.loads((workdir / "index" / "manifest.json").read_text())["generation"]
    )
    vectors = faiss.read_index(str(gen / "ann.faiss"))
    vectors.remove_ids(np.array([3], dtype=np.int64))
    faiss.write_index(vectors, str(gen / "ann.faiss"))
    bad = runner.invoke(app, ["check"])
    assert bad.exit_code == 1
    assert "problem: 1 passages are not in the finder (e.g. id 3)" in bad.stdout
