"""Report files: CSV and JSON parse back; the HTML page renders in a real headless Chromium."""

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from semsearch import Index
from semsearch.errors import InputError
from semsearch.reports import compare, near_duplicates, search_many
from semsearch.reports.render import to_html, write

from ..conftest import CHROMIUM_FLAGS, QAIM

QUESTIONS = [
    "when did the Qaim base handover happen",
    "how many soldiers in Syria",
    "من هو السفير الأمريكي لدى بغداد؟",
]


def test_csv_has_one_row_per_question_and_hit(seeds_index: Index, tmp_path: Path) -> None:
    path = write(search_many(seeds_index, QUESTIONS, k=4), tmp_path / "r.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) == 12
    assert list(rows[0]) == [
        "question",
        "rank",
        "score",
        "source",
        "passage_id",
        "start",
        "end",
        "text",
    ]
    assert (
        rows[0]["question"] == QUESTIONS[0] and rows[0]["rank"] == "1" and QAIM in rows[0]["text"]
    )


def test_json_parses_back(seeds_index: Index, tmp_path: Path) -> None:
    data = json.loads(
        write(search_many(seeds_index, QUESTIONS, k=2), tmp_path / "r.json").read_text()
    )
    assert [r["question"] for r in data["results"]] == QUESTIONS
    dup = json.loads(write(near_duplicates(seeds_index), tmp_path / "d.json").read_text())
    assert len(dup["similarity"]) == 5 and dup["clusters"]
    assert all(str(pid) in dup["passages"] for c in dup["clusters"] for pid in c["passages"])


def test_duplicates_and_compare_have_csv_forms(seeds_index: Index, tmp_path: Path) -> None:
    rows = list(csv.DictReader(write(near_duplicates(seeds_index), tmp_path / "d.csv").open()))
    assert rows and {r["cluster"] for r in rows} >= {"1"}
    seed = Path(seeds_index.manifest.sources[0]) / "004_bf77667ad34e270b.txt"
    rows = list(csv.DictReader(write(compare(seeds_index, seed, seed), tmp_path / "c.csv").open()))
    assert rows and all(float(r["score"]) > 0.99 for r in rows if r["a_text"] and r["b_text"])


def test_an_unknown_extension_is_refused(seeds_index: Index, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.csv, \.json, \.html"):
        write(search_many(seeds_index, QUESTIONS[:1]), tmp_path / "r.pdf")


def test_html_escapes_text_and_marks_direction(tmp_path: Path, seeds_index: Index) -> None:
    page = to_html(search_many(seeds_index, ["<script>alert(1)</script>"], k=1))
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'dir="auto"' in page


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    return path


def _render(chromium: str, page: Path, tmp_path: Path) -> tuple[str, bytes]:
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [chromium, "--headless", *CHROMIUM_FLAGS, *profile, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    shot = tmp_path / "page.png"
    subprocess.run(
        [chromium, "--headless", *CHROMIUM_FLAGS, *profile, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    return dom, shot.read_bytes()


def test_the_duplicates_page_renders_with_heatmap_and_rtl_text(
    chromium: str, seeds_index: Index, tmp_path: Path
) -> None:
    page = write(near_duplicates(seeds_index), tmp_path / "duplicates.html")
    dom, png = _render(chromium, page, tmp_path)
    assert "Repeated passages in 5 documents" in dom
    assert '<svg id="heatmap"' in dom and dom.count("<rect") == 25
    assert 'dir="auto"' in dom and QAIM in dom
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1200
    assert len(png) > 30_000  # a blank page compresses to a few kilobytes


def test_the_queries_page_renders(chromium: str, seeds_index: Index, tmp_path: Path) -> None:
    page = write(search_many(seeds_index, QUESTIONS, k=3), tmp_path / "queries.html")
    dom, png = _render(chromium, page, tmp_path)
    assert dom.count('class="hit"') == 9 and QAIM in dom
    assert len(png) > 30_000
