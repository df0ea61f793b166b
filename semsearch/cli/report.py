"""``semsearch report``: many questions at once, repeated passages, two documents
side by side, each printed, as JSON, or written to a CSV, JSON or HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import console
from .typer_options import IndexDir, Json, Quiet

if TYPE_CHECKING:
    pass


def _defaults(cutoff: str) -> str:
    """The default of a report's cutoff per encoder, as --help says it."""
    from ..encoders import DEFAULT_ENCODER
    from ..reports.cutoffs import THRESHOLDS

    return ", ".join(
        f"{getattr(t, cutoff)} for {'the bundled set' if name == DEFAULT_ENCODER else name}"
        for name, t in sorted(THRESHOLDS.items(), key=lambda item: item[0] != DEFAULT_ENCODER)
    )


report_app = typer.Typer(
    help="Batch reports: many questions at once, repeated passages, two documents side by side.",
    no_args_is_help=True,
)
Out = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Write the report to this file; .csv, .json or .html (a self-contained page).",
        show_default=False,
    ),
]


@report_app.command("queries")
def report_queries(
    questions_file: Annotated[
        Path, typer.Argument(help="One question a line, or a CSV/TSV with a 'question' column.")
    ],
    k: Annotated[int, typer.Option("-k", "--top", help="Passages per question.")] = 5,
    index: IndexDir = None,
    out: Out = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Answer every question in a file with one batched search."""
    from .. import reports

    with console.errors():
        questions = reports.read_questions(questions_file)
        idx = console.open_index(index, out)
        _stage(quiet, f"searching {len(questions)} questions")
        result = reports.search_many(idx, questions, k)
        _emit(result, out, as_json, quiet)


@report_app.command("duplicates")
def report_duplicates(
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Cosine at or above which passages are near-duplicates (default: "
            + _defaults("duplicate")
            + "; see docs/cli.md).",
            show_default=False,
        ),
    ] = None,
    index: IndexDir = None,
    out: Out = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Find passages repeated within and across documents, and how similar documents are."""
    from .. import reports

    with console.errors():
        idx = console.open_index(index, out)
        result = reports.near_duplicates(idx, threshold, stage=lambda s: _stage(quiet, s))
        _emit(result, out, as_json, quiet)


@report_app.command("compare")
def report_compare(
    file_a: Annotated[Path, typer.Argument(help="First document.")],
    file_b: Annotated[Path, typer.Argument(help="Second document.")],
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Cosine at or above which passages align (default: " + _defaults("align") + ").",
            show_default=False,
        ),
    ] = None,
    index: IndexDir = None,
    out: Out = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Align the passages of two documents: which paragraph of A says what paragraph of B says."""
    from .. import reports

    with console.errors():
        result = reports.compare(console.open_index(index, out), file_a, file_b, threshold)
        _emit(result, out, as_json, quiet)


def _stage(quiet: bool, what: str) -> None:
    if not quiet:
        typer.echo(f"{what}...", err=True)


def _emit(result: object, out: Path | None, as_json: bool, quiet: bool) -> None:
    """Write the report file, print JSON, or print a short text summary."""
    from ..reports import render

    if out is not None:
        written = render.write(result, out)  # type: ignore[arg-type]
        if not quiet:
            typer.echo(f"wrote {written}", err=True)
    if as_json:
        console.print_json(render.to_data(result))  # type: ignore[arg-type]
    elif out is None:
        typer.echo(console.safe(render.to_text(result), layout=True), nl=False)  # type: ignore[arg-type]
