"""The package's shape: the public names, the layers, no import cycles, small modules."""

import ast
import subprocess
import sys
from pathlib import Path

import semsearch
from semsearch import errors

PACKAGE = Path(semsearch.__file__).parent
ROOT = PACKAGE.parent


def test_every_public_name_is_in_all_and_every_name_in_all_exists() -> None:
    public = {
        name
        for name in dir(semsearch)
        if not name.startswith("_") and not isinstance(getattr(semsearch, name), type(sys))
    }
    assert public <= set(semsearch.__all__)
    for name in semsearch.__all__:
        assert getattr(semsearch, name) is not None, name
    assert (
        semsearch.__all__ == sorted(semsearch.__all__, key=str.lower)
        or sorted(semsearch.__all__) == semsearch.__all__
    )


def test_every_error_a_caller_may_catch_is_exported() -> None:
    tree = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.SemsearchError)
    ]
    assert {cls.__name__ for cls in tree} <= set(semsearch.__all__)


def test_the_layers_hold() -> None:
    """cli over server over reports over index over indexing/search over storage
    over encoders/text over readers over errors/records (pyproject.toml)."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-3000:]


def _imports() -> dict[str, set[str]]:
    """Every module's imports of the package's own modules, those inside
    functions included."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        here = name.split(".") if package else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    prefix = here[: len(here) - node.level + 1]
                    base = ".".join([*prefix, *([node.module] if node.module else [])])
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in modules else base)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_module_imports_itself_through_others() -> None:
    graph = _imports()
    assert len(graph) > 40  # the walk found the package
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert not cycles, cycles[:5]


def test_modules_stay_small_and_the_top_level_shows_the_parts() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text("utf-8").splitlines())) > 500
    }
    assert not long
    top = [p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "__main__.py"}]
    assert len(top) <= 12, top
