"""Faults a user can cause, through the CLI as a subprocess: kill -9 mid-write, two
writers at once, damaged index files, hostile input, Ctrl-C.

Each ends in one clear line (never a traceback), and the index is either as it was
before or as the write left it, never a mix. ``SEMSEARCH_FAULT_TRIALS`` (default 10)
sets the kill -9 trials per kind of write; ``SEMSEARCH_FAULT_SEED`` their seed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from semsearch import Index
from semsearch.errors import IndexNotFoundError
from semsearch.storage.check import check_index

from .commands import clean_env, one_line, run_cli, semsearch_command
from .conftest import QAIM, SEEDS

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("SEMSEARCH_FAULT_TRIALS", "10"))
SEED = int(os.environ.get("SEMSEARCH_FAULT_SEED", "12"))
SEED_FILES = sorted(SEEDS.glob("*.txt"))
QUESTION = "when did the Qaim base handover happen"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """docs/ holds seeds 000-002; more/ holds 003-004."""
    for name, files in (("docs", SEED_FILES[:3]), ("more", SEED_FILES[3:])):
        (tmp_path / name).mkdir()
        for f in files:
            shutil.copy(f, tmp_path / name / f.name)
    return tmp_path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of docs/ built once, whose embedding cache holds more/ too, so that
    the trials that copy it spend their time writing, not embedding."""
    root = tmp_path_factory.mktemp("template")
    for name, files in (("docs", SEED_FILES[:3]), ("more", SEED_FILES[3:])):
        (root / name).mkdir()
        for f in files:
            shutil.copy(f, root / name / f.name)
    assert run_cli("index", "docs", "more", "--index", "warm", "-q", cwd=root).returncode == 0
    (root / "idx").mkdir()
    shutil.copy(root / "warm" / "embeddings.sqlite", root / "idx")
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=root).returncode == 0
    return root


def _documents(index: Path) -> set[str] | None:
    """The indexed file names, after checking the index is sound; None if there is none."""
    try:
        idx = Index.open(index)
    except IndexNotFoundError:
        return None
    with idx:
        assert check_index(index).problems == ()
        assert any(QAIM in h.text for h in idx.search(QUESTION, k=3))
        return {Path(p.occurrences[0].source).name for p in idx.passages()}


# -- the cases of the fault battery, one by one -----------------------------------


def test_two_writers_at_once_both_keep_their_folder(work: Path) -> None:
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=work).returncode == 0
    (work / "newA").mkdir()
    (work / "newB").mkdir()
    shutil.move(work / "more" / SEED_FILES[3].name, work / "newA")
    shutil.move(work / "more" / SEED_FILES[4].name, work / "newB")
    writers = [
        subprocess.Popen(
            [*semsearch_command(), "index", folder, "--index", "idx", "-q"],
            cwd=work,
            env=clean_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in ("newA", "newB")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    sources = json.loads((work / "idx" / "manifest.json").read_text())["sources"]
    assert sorted(Path(s).name for s in sources) == ["docs", "newA", "newB"]
    assert _documents(work / "idx") == {f.name for f in SEED_FILES}


def test_link_loops_and_broken_links_are_skipped_with_a_warning(work: Path) -> None:
    (work / "docs" / "loop.txt").symlink_to("loop.txt")
    (work / "docs" / "broken.md").symlink_to("nowhere.md")
    result = run_cli("index", "docs", "--index", "idx", cwd=work)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "warning: skipped docs/loop.txt: a link that leads nowhere" in result.stderr
    assert "warning: skipped docs/broken.md: a link that leads nowhere" in result.stderr
    assert _documents(work / "idx") == {f.name for f in SEED_FILES[:3]}


def test_an_overlong_question_is_refused_at_once(work: Path) -> None:
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=work).returncode == 0
    result = run_cli("ask", "Qaim " * 20_000, "--index", "idx", cwd=work, timeout=60)
    assert "100,000 characters, more than the 2,000" in one_line(result)


@pytest.mark.parametrize("command", ["ask", "info", "check", "index"])
def test_an_index_that_is_a_file_is_named_in_one_line(work: Path, command: str) -> None:
    (work / "notes.txt").write_text("not an index\n")
    args = {"ask": ["ask", QUESTION], "index": ["index", "docs"]}.get(command, [command])
    result = run_cli(*args, "--index", "notes.txt", cwd=work)
    assert "notes.txt is a file, not an index folder" in one_line(result)
    assert (work / "notes.txt").read_text() == "not an index\n"


def test_a_manifest_that_is_not_utf8_is_one_line_and_a_rebuild_recovers(work: Path) -> None:
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=work).returncode == 0
    (work / "idx" / "manifest.json").write_bytes(b"\xff\xfe\x00\x81garbage")
    for args in (["ask", QUESTION], ["check"], ["info"]):
        result = run_cli(*args, "--index", "idx", cwd=work)
        assert "manifest.json is unreadable" in one_line(result), args
    assert run_cli("index", "docs", "--index", "idx", "--rebuild", "-q", cwd=work).returncode == 0
    assert _documents(work / "idx") == {f.name for f in SEED_FILES[:3]}


def test_a_damaged_embedding_cache_is_set_aside_and_rebuilt(work: Path) -> None:
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=work).returncode == 0
    cache = work / "idx" / "embeddings.sqlite"
    cache.write_bytes(b"garbage" * 1000)
    result = run_cli("index", "docs", "--index", "idx", "--max-chars", "900", cwd=work)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "warning: the embedding cache" in result.stderr and "is damaged" in result.stderr
    assert (work / "idx" / "embeddings.sqlite.damaged").read_bytes() == b"garbage" * 1000
    assert _documents(work / "idx") == {f.name for f in SEED_FILES[:3]}
    again = run_cli("index", "docs", "--index", "idx", "--max-chars", "800", "-q", cwd=work)
    assert again.returncode == 0 and "damaged" not in again.stderr  # the new cache is sound


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_write_says_so_and_leaves_the_index_as_it_was(
    work: Path, signum: int
) -> None:
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=work).returncode == 0
    before = _documents(work / "idx")
    writer = subprocess.Popen(
        [*semsearch_command(), "index", "more", "--index", "idx"],
        cwd=work,
        env=clean_env(SEMSEARCH_FAULT="embed:wait"),  # mid-write, before the commit
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a runner in the background (CI, `cmd &`) ignores SIGINT,
        # and a child inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert writer.stderr is not None
    assert writer.stderr.readline().startswith("embedding ")
    assert writer.stderr.readline() == "fault point embed: waiting\n"
    writer.send_signal(signum)
    rest = writer.stderr.read()
    assert writer.wait(timeout=60) == 130
    assert rest == "interrupted; the index is as it was before\n"
    assert _documents(work / "idx") == before


# -- kill -9 at random moments ----------------------------------------------------


def _kill_trials(
    work: Path,
    template: Path,
    args: list[str],
    prepare: Callable[[Path], None],
    old: set[str] | None,
    new: set[str],
    seed: int,
) -> list[str]:
    """Run the write ``args`` again and again, killed with SIGKILL at a fault point
    or after a random delay; each time the index must be the old or the new state,
    and the same command run again must finish the job."""
    rng = random.Random(seed)
    prepare(work)
    started = time.perf_counter()
    assert run_cli(*args, cwd=work).returncode == 0
    duration = time.perf_counter() - started
    assert _documents(work / "idx") == new
    seen = []
    points = ["embed:kill", "commit:kill", "manifest:kill"]
    for trial in range(TRIALS):
        prepare(work)
        point = points[trial] if trial < len(points) else ""
        proc = subprocess.Popen(
            [*semsearch_command(), *args],
            cwd=work,
            env=clean_env(SEMSEARCH_FAULT=point) if point else clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not point:
            time.sleep(rng.uniform(0, duration))
            proc.kill()
        proc.wait(timeout=120)
        state = _documents(work / "idx")
        assert state in (old, new), (trial, point, state)
        seen.append("old" if state == old else "new")
        if state != new:
            assert run_cli(*args, cwd=work).returncode == 0  # the same command finishes the job
            assert _documents(work / "idx") == new
    print(f"{args[0]}: {len(seen)} kills, {seen.count('old')} old, {seen.count('new')} new")
    return seen


def test_kill_9_during_a_first_build(work: Path, template: Path) -> None:
    def prepare(w: Path) -> None:  # no index yet, only the embedding cache of an earlier try
        shutil.rmtree(w / "idx", ignore_errors=True)
        (w / "idx").mkdir()
        shutil.copy(template / "idx" / "embeddings.sqlite", w / "idx")

    new = {f.name for f in SEED_FILES[:3]}
    args = ["index", "docs", "--index", "idx", "-q"]
    seen = _kill_trials(work, template, args, prepare, None, new, SEED)
    assert "old" in seen  # the fault points before the commit leave no index


def test_kill_9_during_an_add(work: Path, template: Path) -> None:
    def prepare(w: Path) -> None:
        shutil.rmtree(w / "idx", ignore_errors=True)
        shutil.copytree(template / "idx", w / "idx")

    old = {f.name for f in SEED_FILES[:3]}
    args = ["index", str(template / "docs"), "more", "--index", "idx", "-q"]
    new = old | {f.name for f in SEED_FILES[3:]}
    seen = _kill_trials(work, template, args, prepare, old, new, SEED + 1)
    assert {"old", "new"} <= set(seen)  # a kill after the commit point keeps the write


def test_kill_9_during_a_remove(work: Path, template: Path) -> None:
    def prepare(w: Path) -> None:
        shutil.rmtree(w / "idx", ignore_errors=True)
        shutil.copytree(template / "idx", w / "idx")

    old = {f.name for f in SEED_FILES[:3]}
    gone = template / "docs" / SEED_FILES[1].name
    args = ["remove", str(gone), "--index", "idx", "-q"]
    seen = _kill_trials(work, template, args, prepare, old, old - {gone.name}, SEED + 2)
    assert {"old", "new"} <= set(seen)


# -- every index file damaged three ways ------------------------------------------

DAMAGES = {
    "truncated": lambda data: data[: len(data) // 2],
    "zeroed": lambda data: bytes(len(data)),
    "garbage": lambda data: random.Random(len(data)).randbytes(max(len(data), 64)),
}


@pytest.fixture(scope="module")
def template_ivf(template: Path) -> Path:
    """The same index with an approximate finder (a FAISS file) instead of an exact one."""
    args = ["index", "docs", "--index", "idx-ivf", "--index-type", "ivf", "-q"]
    shutil.copytree(template / "idx", template / "idx-ivf")
    assert run_cli(*args, "--rebuild", cwd=template).returncode == 0
    return template


def _index_file(index: Path, name: str) -> Path:
    manifest = json.loads((index / "manifest.json").read_text())
    return {
        "manifest.json": index / "manifest.json",
        "passages.sqlite": index / manifest["database"],
        "ann.faiss": index / manifest["generation"] / "ann.faiss",
        "embeddings.sqlite": index / "embeddings.sqlite",
    }[name]


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize(
    "name", ["manifest.json", "passages.sqlite", "ann.faiss", "embeddings.sqlite"]
)
def test_a_damaged_index_file_is_one_line_and_a_rebuild_recovers(
    work: Path, template_ivf: Path, name: str, damage: str
) -> None:
    template = template_ivf
    shutil.copytree(template / ("idx-ivf" if name == "ann.faiss" else "idx"), work / "idx")
    docs = str(template / "docs")
    path = _index_file(work / "idx", name)
    path.write_bytes(DAMAGES[damage](path.read_bytes()))
    for args in (["ask", QUESTION, "--no-refresh"], ["check"], ["info"]):
        result = run_cli(*args, "--index", "idx", cwd=work)
        assert "Traceback" not in result.stderr + result.stdout, (args, result.stderr)
        if name == "embeddings.sqlite":  # only a cache: questions never read it
            assert result.returncode == 0, (args, result.stderr)
        elif args == ["check"] and result.returncode == 1 and not result.stderr:
            assert result.stdout.startswith("problem: "), result.stdout  # what check found
        else:
            one_line(result)
    rebuilt = run_cli("index", docs, "--index", "idx", "--rebuild", "-q", cwd=work)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert _documents(work / "idx") == {f.name for f in SEED_FILES[:3]}
