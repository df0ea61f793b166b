"""Every option the CLI shares, defined once: flags, help, default.

The typer CLI (:mod:`semsearch.cli.app`) builds its options from these, and so does the
quick path that answers ``semsearch ask`` without loading typer (:mod:`.entry`).
Plain data: importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..search.ranking import MODES


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    default: Any = None
    envvar: str | None = None
    metavar: str | None = None
    """How ``--help`` shows the value: the choices, where there are a few."""


INDEX = Option(
    ("--index",), "Index folder (default: index/, or $SEMSEARCH_INDEX).", None, "SEMSEARCH_INDEX"
)
JSON = Option(("--json",), "Print one JSON object on stdout.", False)
QUIET = Option(("--quiet", "-q"), "No progress or warnings on stderr.", False)
MODE = Option(
    ("--mode",),
    "hybrid (meaning, words and names), dense (meaning only) or lexical (words and names).",
    "hybrid",
    metavar="|".join(MODES),
)
TOP = Option(("-k", "--top"), "How many passages to show.", 5)
REFRESH = Option(
    ("--refresh/--no-refresh",),
    "Re-index changed source files first (and build from seeds/ if there is no index).",
    True,
)
QUESTION = "What you want to know, in any language."
ASK = "Find the passages that answer QUESTION; the sentence that best answers it is emphasised."
FOLLOW_LINKS = Option(
    ("--follow-links",),
    "Also index linked files whose target lies outside PATHS (by default such links are "
    "skipped with a warning).",
    False,
)
HIDDEN = Option(
    ("--hidden",),
    "Index hidden files and folders named in PATHS (.env, .git/config); a folder walk "
    "always leaves hidden ones out.",
    False,
)
MAX_FILE_SIZE = Option(
    ("--max-file-size",),
    "Larger files are skipped with a warning: bytes, or with a unit: 500k, 20MB, 1G.",
    "20MB",
)
