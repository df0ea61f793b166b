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
Mode = Annotated[
    str, typer.Option(*options.MODE.flags, help=options.MODE.help, metavar=options.MODE.metavar)
]

TOKEN_ENV = "SEMSEARCH_TOKEN"
Token = Annotated[
    str | None,
    typer.Option(
        envvar=TOKEN_ENV,
        help=(
            "Require 'Authorization: Bearer TOKEN' on every route but /health and the page. "
            f"A command line shows in ps: prefer ${TOKEN_ENV} or --token-file."
        ),
        show_default=False,
    ),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        help="Read the token from this file (its first line), so that it does not show in ps.",
        show_default=False,
    ),
]
AllowHost = Annotated[
    list[str] | None,
    typer.Option(
        help=(
            "Another name this server answers to in the Host header (repeatable), e.g. a "
            "reverse proxy's; '*' answers to any. Others get 421 (DNS rebinding)."
        ),
        show_default=False,
    ),
]


def resolve_token(token: str | None, token_file: Path | None) -> str | None:
    """The token from ``--token``, ``$SEMSEARCH_TOKEN`` or ``--token-file``, or None.

    An empty one is refused: it would silently turn authentication off (click
    reads an empty environment variable as unset, so it is looked at here)."""
    import os

    from ..errors import InputError

    if token is None and os.environ.get(TOKEN_ENV) == "":
        raise InputError(f"${TOKEN_ENV} is empty; set it to a token or unset it")
    if token is not None and token_file is not None:
        raise InputError("give --token (or $SEMSEARCH_TOKEN) or --token-file, not both")
    if token_file is not None:
        try:
            lines = token_file.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(f"cannot read --token-file {token_file} ({reason})") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise InputError(
                f"--token-file {token_file} is empty; write the token on its first line"
            )
    elif token is not None and not token.strip():
        raise InputError(
            "--token is empty; give a token, or leave --token out for no authentication"
        )
    return token
