"""The ``semsearch`` command's entry point.

``semsearch ask`` is what users run most, each time in a new process, so it
takes a quick path: its options (defined once, in :mod:`.options`) are parsed
with argparse, and typer, click and pydantic are never imported (about 90 ms
of a cold question). Everything else, ``--help`` and any argument the quick
parser does not take, goes through the typer CLI (:mod:`.app`). The process
ends with ``os._exit`` once its output is flushed: freeing the model, numpy and
SQLite objects one by one at exit takes longer than the question did.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from . import console, options
from .ask import ask


class _NotQuick(Exception):
    """The quick parser cannot take these arguments: typer will, or will say why."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotQuick(message)


def _ask_parser() -> _Parser:
    parser = _Parser(prog="semsearch ask", add_help=False)
    parser.add_argument("question")
    parser.add_argument(*options.TOP.flags, dest="k", type=int, default=options.TOP.default)
    parser.add_argument(*options.INDEX.flags, dest="index", type=Path)
    parser.add_argument(*options.JSON.flags, dest="as_json", action="store_true")
    on, off = options.REFRESH.flags[0].split("/")
    parser.add_argument(on, dest="refresh", action="store_true", default=options.REFRESH.default)
    parser.add_argument(off, dest="refresh", action="store_false")
    parser.add_argument(*options.MODE.flags, dest="mode", default=options.MODE.default)
    parser.add_argument(*options.QUIET.flags, dest="quiet", action="store_true")
    return parser


def _quick(argv: list[str]) -> bool:
    """Answer ``semsearch ask`` without typer; False if these arguments need it."""
    if argv[:1] != ["ask"] or {"-h", "--help"} & set(argv):
        return False
    try:
        args = _ask_parser().parse_args(argv[1:])
    except _NotQuick:
        return False
    ask(**vars(args))
    return True


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends a command as Ctrl-C does: cleanly


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    code = 0
    try:
        if not _quick(sys.argv[1:]):
            from .app import app

            app(prog_name="semsearch")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except KeyboardInterrupt:
        console.echo("interrupted; the index is as it was before", err=True)
        code = console.INTERRUPTED
    except BrokenPipeError:  # the reader went away (semsearch ask ... | head): say nothing
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        code = code or 1
    os._exit(code)
