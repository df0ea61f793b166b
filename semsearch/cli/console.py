"""What the CLI shows: hits on a terminal or in a pipe, summaries, progress, JSON,
errors as one line.

Kept apart from the commands so that each command stays a few lines, and so
that other front ends (a server) can shape the same data the same way. It does
not import typer: ``semsearch ask`` prints through it on its quick path.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SemsearchError
from ..records import display_path

if TYPE_CHECKING:
    from ..index import Index
    from ..records import Changes, Hit, Skipped


def info_data(idx: Index) -> dict[str, object]:
    m = idx.manifest
    return {
        "index": str(idx.directory),
        "encoder": m.encoder["name"],
        "backend": m.encoder.get("backend"),
        "dim": m.dim,
        "index_type": f"{m.index_type} ({m.ann})" if m.index_type == "auto" else m.ann,
        "documents": m.documents,
        "passages": m.passages,
        "occurrences": m.occurrences,
        "sources": m.sources,
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.built_at)),
    }


def changes_data(changes: Changes) -> dict[str, object]:
    return {
        "added": len(changes.added),
        "updated": len(changes.updated),
        "unchanged": changes.unchanged,
        "removed": len(changes.removed),
        "embedded": changes.embedded,
        "skipped": [str(s.path) for s in changes.skipped],
    }


def summary(changes: Changes) -> str:
    return (
        f"{len(changes.added)} added, {len(changes.updated)} updated, {changes.unchanged} unchanged, "
        f"{len(changes.removed)} removed; {changes.embedded} new passages embedded"
    )


INTERRUPTED = 130
"""The exit status of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT)."""


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROLS_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str, *, layout: bool = False) -> str:
    """``text`` fit for a terminal: control characters (C0, DEL, C1) written as
    ``\\x1b``, so that a document or a file name cannot clear the screen, set the
    clipboard or fake a line; lone surrogates (undecodable bytes) as ``\\udcff``,
    which stdout could not encode. ``layout`` keeps tabs and newlines (text)."""
    return (_CONTROLS_BUT_LAYOUT if layout else _CONTROLS).sub(_escaped, text)


def echo(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout)


def _style(text: str, *codes: int) -> str:
    return f"\x1b[{';'.join(map(str, codes))}m{text}\x1b[0m"


@contextmanager
def errors() -> Iterator[None]:
    """Turn library errors into one line on stderr and exit status 1, and an
    interruption into one line and 130 (a write in progress is rolled back)."""
    try:
        yield
    except SemsearchError as exc:
        echo(f"error: {safe(str(exc))}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        echo("interrupted; the index is as it was before", err=True)
        raise SystemExit(INTERRUPTED) from None


def print_hits(hits: list[Hit]) -> None:
    cwd = Path.cwd()
    if not hits:
        echo("no passages match")
        return
    tty = sys.stdout.isatty()
    for hit in hits:
        d = hit.to_dict(cwd)
        head = f"{hit.rank}. {hit.score:.3f}  {safe(d['source'])}:{hit.start}-{hit.end}"
        echo(_style(head, 1) if tty else head)
        before, after = hit.text[: hit.highlight[0]], hit.text[hit.highlight[1] :]
        best = safe(" ".join(hit.highlighted.split()))
        if before.strip() or after.strip():  # a one-sentence passage needs no emphasis
            # bold and underlined on a terminal; marked where styles do not show
            best = _style(best, 1, 4) if tty else f"»{best}«"
        around = (safe(" ".join(part.split())) for part in (before, after))
        echo("   " + " ".join(p for p in (next(around), best, next(around)) if p))
        for extra in d["occurrences"][1:]:
            echo(f"   (also at {safe(extra['source'])}:{extra['start']}-{extra['end']})")
        echo()


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\ud800-\udfff]")


def print_json(data: object) -> None:
    """JSON as it is (the exact text), with C1 controls and lone surrogates written
    as ``\\u`` escapes: json leaves them raw, and a terminal would act on the first
    while stdout cannot encode the second."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


@contextmanager
def reporter(
    quiet: bool,
) -> Iterator[tuple[Callable[[int, int], None] | None, Callable[[Skipped], None] | None]]:
    """Progress bar (on a terminal) or a few status lines (in a pipe), on stderr;
    warnings the library logs shown as ``warning: ...`` lines (none with ``quiet``)."""
    with _warnings(quiet), _progress(quiet) as shown:
        yield shown


@contextmanager
def _warnings(quiet: bool) -> Iterator[None]:
    import logging

    logger = logging.getLogger("semsearch")
    handler = logging.NullHandler() if quiet else _echo_handler()
    logger.addHandler(handler)
    logger.propagate, before = False, logger.propagate
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = before


def _echo_handler() -> Any:
    import logging

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            echo(f"warning: {safe(record.getMessage())}", err=True)

    return Echo()


@contextmanager
def _progress(
    quiet: bool,
) -> Iterator[tuple[Callable[[int, int], None] | None, Callable[[Skipped], None] | None]]:
    if quiet:
        yield None, None
        return

    def on_skip(skipped: Skipped) -> None:
        shown = display_path(str(skipped.path), Path.cwd())
        echo(f"warning: skipped {safe(shown)}: {safe(skipped.reason)}", err=True)

    if not sys.stderr.isatty():

        def progress(done: int, total: int) -> None:
            if done == 0:
                echo(f"embedding {total} passages...", err=True)

        yield progress, on_skip
        return

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} passages/s" if task.speed else "")

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("embedding passages", total=None)
    with bar:
        yield (lambda done, total: bar.update(task, completed=done, total=total)), on_skip


def open_index(index: Path | None, out: Path | None = None) -> Index:
    """Open the index a command names; a report's unknown --out format is refused first."""
    from ..index import Index
    from ..reports.render import check_format

    if out is not None:
        check_format(out)
    return Index.open(index)
