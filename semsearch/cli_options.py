"""The typer forms of the options several commands share (their flags and help
are defined once, in :mod:`.options`, which the quick ``ask`` path reads too)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import options

IndexDir = Annotated[
    Path | None,
    typer.Option(
        *options.INDEX.flags,
        envvar=options.INDEX.envvar,
        help=options.INDEX.help,
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option(*options.JSON.flags, help=options.JSON.help)]
Quiet = Annotated[bool, typer.Option(*options.QUIET.flags, help=options.QUIET.help)]
Mode = Annotated[str, typer.Option(*options.MODE.flags, help=options.MODE.help)]
