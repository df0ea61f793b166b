"""How to install an optional extra, said the way that works for this install.

``pip install "semsearch[serve]"`` only works where semsearch comes from a
package index; from a clone, pip needs the checkout's path instead. Every
"needs the extra" message and help text takes its command from here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["install_command"]


@cache
def _checkout() -> str | None:
    """The folder semsearch was installed from with ``pip install [-e] PATH``
    (or runs from), or ``None`` for an install from a package index. Its imports
    wait until a message needs them: ``semsearch ask`` never does."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    source = Path(__file__).resolve().parent.parent
    if (source / "pyproject.toml").is_file() and (source / "semsearch").is_dir():
        return str(source)
    try:
        raw = metadata.distribution("semsearch").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not raw:
        return None
    url = urlparse(json.loads(raw).get("url", ""))
    return unquote(url.path) if url.scheme == "file" else None


def install_command(extra: str) -> str:
    """The pip command that installs ``extra`` into this environment."""
    folder = _checkout()
    if folder is None:
        return f'pip install "semsearch[{extra}]"'
    return f'pip install -e "{folder}[{extra}]"'
