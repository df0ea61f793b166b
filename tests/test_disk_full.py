"""A disk that refuses writes is not damage: the write stops with one line and the
embedding cache and the index stay exactly as they were.

The disk is made full for real, without root: the CLI runs under a file size
limit (RLIMIT_FSIZE) no larger than its cache, so the cache cannot grow.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .commands import clean_env, one_line, run_cli, semsearch_command
from .conftest import SEEDS


def _on_a_full_disk(limit: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI run where no file may grow past ``limit`` bytes."""

    def full_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [*semsearch_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        preexec_fn=full_disk,
    )


@pytest.mark.slow
def test_a_full_disk_keeps_the_cache_and_the_index(tmp_path: Path) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    for name, files in (("docs", seeds[:2]), ("more", seeds[2:])):
        (tmp_path / name).mkdir()
        for f in files:
            shutil.copy(f, tmp_path / name / f.name)
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path).returncode == 0
    index = tmp_path / "idx"
    before = {p.name: p.read_bytes() for p in index.rglob("*") if p.is_file()}
    limit = os.path.getsize(index / "embeddings.sqlite")

    result = _on_a_full_disk(limit, "index", "more", "--index", "idx", "-q", cwd=tmp_path)
    line = one_line(result)
    assert "writing idx/embeddings.sqlite; the index is as it was" in line, line
    after = {p.name: p.read_bytes() for p in index.rglob("*") if p.is_file()}
    assert after == before  # no set-aside, no leftover, the cache byte for byte


@pytest.mark.slow
def test_a_disk_full_while_the_passages_are_written_says_so_and_leaves_no_generation(
    tmp_path: Path,
) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    for name, files in (("docs", seeds[:2]), ("more", seeds[2:])):
        (tmp_path / name).mkdir()
        for f in files:
            shutil.copy(f, tmp_path / name / f.name)
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path).returncode == 0
    shutil.copytree(tmp_path / "idx", tmp_path / "trial")
    assert run_cli("index", "more", "--index", "trial", "-q", cwd=tmp_path).returncode == 0
    # the cache may grow to its full size; the database's log may not
    limit = os.path.getsize(tmp_path / "trial" / "embeddings.sqlite") + 8192

    result = _on_a_full_disk(limit, "index", "more", "--index", "idx", "-q", cwd=tmp_path)
    line = one_line(result)
    assert "passages.sqlite; the index is as it was" in line, line
    assert sorted(
        p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith(("gen", "."))
    ) == [
        ".lock",
        "gen-000001",
    ]
    check = run_cli("check", "--index", "idx", cwd=tmp_path)
    assert check.returncode == 0 and "2 documents" in check.stdout, check.stdout + check.stderr


def test_a_folder_holding_only_set_aside_caches_can_become_an_index(tmp_path: Path) -> None:
    """Caches set aside during a first build that never finished are semsearch's own:
    the folder is not refused as someone else's."""
    index = tmp_path / "idx"
    index.mkdir()
    for name in ("embeddings.sqlite.damaged", "embeddings.sqlite.damaged-2"):
        (index / name).write_bytes(b"garbage")
    (tmp_path / "docs").mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], tmp_path / "docs")
    result = run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (index / "embeddings.sqlite.damaged-2").read_bytes() == b"garbage"


def test_a_first_build_on_a_full_disk_says_so_and_leaves_no_database(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], tmp_path / "docs")
    result = _on_a_full_disk(50_000, "index", "docs", "--index", "idx", "-q", cwd=tmp_path)
    assert "(is the disk full?) writing idx/store-000001" in one_line(result)
    assert not list((tmp_path / "idx").glob("store-*"))
    again = run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_reading_with_no_room_for_the_shared_memory_file_is_not_called_damage(
    tmp_path: Path,
) -> None:
    (tmp_path / "docs").mkdir()
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], tmp_path / "docs")
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path).returncode == 0
    for shared in (tmp_path / "idx").rglob("*-shm"):  # as in a copy of the index
        shared.unlink()
    for command in (["ask", "Qaim base", "--no-refresh"], ["info"], ["check"]):
        line = one_line(_on_a_full_disk(4096, *command, "--index", "idx", cwd=tmp_path))
        assert "needs room for its small -shm file" in line and "rebuild" not in line, line
    assert run_cli("ask", "Qaim base", "--index", "idx", cwd=tmp_path).returncode == 0


@pytest.mark.slow
def test_a_full_disk_at_the_manifest_is_told_as_what_it_is(tmp_path: Path) -> None:
    """A build afresh has not taken effect (its files go); an in-place write has:
    it is said to be stored, and it is."""
    seeds = sorted(SEEDS.glob("*.txt"))
    for name, files in (("docs", seeds[:2]), ("more", seeds[2:3])):
        (tmp_path / name).mkdir()
        for f in files:
            shutil.copy(f, tmp_path / name / f.name)
    full = {"SEMSEARCH_FAULT": "manifest:full"}
    first = run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path, **full)
    assert "no space left on device writing idx/manifest.json; the index is as it was" in (
        one_line(first)
    )
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == [".lock", "embeddings.sqlite"]
    assert run_cli("index", "docs", "--index", "idx", "-q", cwd=tmp_path).returncode == 0
    added = run_cli("index", "more", "--index", "idx", "-q", cwd=tmp_path, **full)
    assert "the change itself is stored and searched" in one_line(added)
    check = run_cli("check", "--index", "idx", cwd=tmp_path)
    assert check.returncode == 0 and "3 documents" in check.stdout, check.stdout + check.stderr
    assert not list((tmp_path / "idx").glob(".*.tmp"))


def test_a_vector_file_on_a_full_disk_fails_as_a_full_disk(tmp_path: Path) -> None:
    """FAISS's own writer says only "RuntimeError"; ours says ENOSPC (EFBIG here)."""
    script = (
        "import resource, numpy as np, faiss\n"
        "from pathlib import Path\n"
        "from semsearch.storage.local.vectors import save_vectors\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))\n"
        "index = faiss.IndexFlatIP(8); index.add(np.ones((1000, 8), dtype=np.float32))\n"
        "try:\n"
        f"    save_vectors(index, Path({str(tmp_path / 'ann.faiss')!r}))\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == str(errno.EFBIG), result.stdout + result.stderr
