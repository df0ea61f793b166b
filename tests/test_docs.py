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


def _resolves(dotted: str) -> bool:
    """Whether ``semsearch.a.b.c`` names a module, or an attribute of one."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_module_path_and_name_the_docs_give_exists() -> None:
    pages = [REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")]
    missing = []
    for page in pages:
        text = page.read_text("utf-8")
        for path in re.findall(r"`((?:semsearch|tests|bench)/[\w/.-]*\w)`", text):
            if not (REPO / path).exists():
                missing.append(f"{page.name}: {path}")
        for dotted in re.findall(r"`(semsearch(?:\.\w+)+)", text):
            if not _resolves(dotted):
                missing.append(f"{page.name}: {dotted}")
    assert not missing, missing


def test_every_cross_reference_in_a_docstring_resolves() -> None:
    """``:mod:`.x```, ``:class:`~semsearch.x.Y``` and the like, relative ones from
    their own package: what a renamed or moved module leaves stale."""
    missing = []
    for path in sorted((REPO / "semsearch").rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        package = parts[:-1]
        refs = re.findall(r":(?:mod|func|class|data|meth):`~?([.\w]+)`", path.read_text("utf-8"))
        for ref in refs:
            if ref.startswith("."):
                dots = len(ref) - len(ref.lstrip("."))
                base = package[: len(package) - dots + 1]
                ref = ".".join([*base, ref.lstrip(".")])
            elif not ref.startswith("semsearch"):
                continue  # a name in the module itself
            if not _resolves(ref):
                missing.append(f"{path.relative_to(REPO)}: {ref}")
    assert not missing, missing
