"""The docs: a site that builds without a warning, and a README a newcomer reads in minutes."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists() and not shutil.which("mkdocs"):
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    assert len(readme.encode("utf-8")) <= 15_000
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links and all((REPO / link).is_file() for link in links if "://" not in link)


def test_no_section_is_named_for_an_issue() -> None:
    for page in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        headings = [line for line in page.read_text("utf-8").splitlines() if line.startswith("#")]
        assert not [h for h in headings if re.search(r"issue\s*#?\d", h, re.I)], page
