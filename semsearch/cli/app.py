"""The ``semsearch`` command: a thin layer over the library.

Each command parses options, calls one library function and prints. Errors
from the library become one line on stderr and exit status 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ..errors import SemsearchError
from ..extras import install_command
from ..storage.manifest import INDEX_TYPES
from . import ask as ask_command
from . import console, options
from .report import report_app
from .serve import mcp, serve
from .typer_options import IndexDir, Json, Mode, Quiet

if TYPE_CHECKING:
    from ..reports.evaluation import Evaluation


app = typer.Typer(
    name="semsearch",
    help=(
        "Multilingual semantic search over a folder of documents.\n\n"
        "Ask in English or Arabic, get the passages that answer, whatever their language:\n\n"
        '  semsearch ask "when did the Qaim base handover happen"\n\n'
        "The first question builds index/ from seeds/ if there is no index yet."
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"semsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = None,
) -> None:
    """Multilingual semantic search over a folder of documents."""


@app.command(help=options.ASK)
def ask(
    question: Annotated[str, typer.Argument(help=options.QUESTION)],
    k: Annotated[
        int, typer.Option(*options.TOP.flags, help=options.TOP.help)
    ] = options.TOP.default,
    index: IndexDir = None,
    as_json: Json = False,
    refresh: Annotated[
        bool, typer.Option(*options.REFRESH.flags, help=options.REFRESH.help)
    ] = options.REFRESH.default,
    mode: Mode = options.MODE.default,
    quiet: Quiet = False,
) -> None:
    ask_command.ask(question, k, index, as_json, refresh, mode, quiet)


@app.command("index")
def index_cmd(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files and folders to index (.txt, .md). Default: the index's own sources, else seeds/.",
            show_default=False,
        ),
    ] = None,
    index: IndexDir = None,
    max_chars: Annotated[
        int | None,
        typer.Option(help="Longest passage; longer paragraphs split (1000).", show_default=False),
    ] = None,
    min_chars: Annotated[
        int | None,
        typer.Option(help="Shorter fragments join a neighbour (80).", show_default=False),
    ] = None,
    overlap: Annotated[
        int | None,
        typer.Option(help="Characters shared by split passages (200).", show_default=False),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Encoder: e5-small-q4+use-m3 (both bundled models, fused: the default for "
            "a new index), e5-small-q4 or use-m3 alone, or st:PATH / st:HUB/NAME for a "
            "sentence-transformers model; join several with +. Default: the index's own.",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="For st: models: auto, cpu, cuda or mps.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="For st: models: texts per forward pass.")] = 32,
    max_seq_length: Annotated[
        int | None,
        typer.Option(
            help="For st: models: truncate inputs to this many tokens.", show_default=False
        ),
    ] = None,
    index_type: Annotated[
        str | None,
        typer.Option(
            "--index-type",
            metavar="|".join(INDEX_TYPES),
            help="Vector index: auto (exact below 20,000 passages, IVF above), flat (exact), "
            "hnsw or ivf (approximate, 8-bit). Default: the index's own, else auto.",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Keep the passages in Milvus: milvus-lite:PATH.db (embedded, one process) or "
            "milvus://HOST:PORT/COLLECTION (a server or cluster; token from "
            "$SEMSEARCH_MILVUS_TOKEN). Recorded in the index folder, so later commands need "
            f"only --index. Needs: {escape(install_command('milvus'))}. Default: the index's own, "
            "else the folder itself (FAISS + SQLite).",
            show_default=False,
        ),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also remove indexed files under PATHS that are gone.")
    ] = False,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help="Make the index hold exactly PATHS (others dropped), as if new."
        ),
    ] = False,
    follow_links: Annotated[
        bool, typer.Option(*options.FOLLOW_LINKS.flags, help=options.FOLLOW_LINKS.help)
    ] = options.FOLLOW_LINKS.default,
    hidden: Annotated[
        bool, typer.Option(*options.HIDDEN.flags, help=options.HIDDEN.help)
    ] = options.HIDDEN.default,
    max_file_size: Annotated[
        str, typer.Option(*options.MAX_FILE_SIZE.flags, help=options.MAX_FILE_SIZE.help)
    ] = options.MAX_FILE_SIZE.default,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Add new and changed files under PATHS to the index (unchanged ones cost nothing).

    A new index, another --model or other chunking sizes build the index afresh
    from PATHS; vectors already computed are reused from the cache.

    Examples:

      semsearch index seeds/

      semsearch index archive/ --index archive-index --model st:intfloat/multilingual-e5-base

      semsearch index archive/ --index archive-index --store milvus://10.0.0.5:19530/news
    """
    from ..encoders import EncoderOptions
    from ..index import update
    from ..storage.folder import index_dir
    from ..text.sources import Rules, parse_size

    directory = index_dir(index)
    started = time.perf_counter()
    with console.errors():
        rules = Rules(
            follow_links=follow_links, hidden=hidden, max_file_size=parse_size(max_file_size)
        )
        sizes = {"max_chars": max_chars, "min_chars": min_chars, "overlap_chars": overlap}
        options = EncoderOptions(device, batch_size, max_seq_length)
        with console.reporter(quiet) as (progress, on_skip):
            idx, changes = update(
                paths or [],
                directory,
                encoder=model,
                options=options,
                chunk_sizes={k: v for k, v in sizes.items() if v is not None},
                index_type=index_type,
                prune=prune,
                rebuild=rebuild,
                store=store,
                default_sources=[ask_command.DEMO_SOURCES],
                progress=progress,
                on_skip=on_skip,
                rules=rules,
            )
    info = {**console.info_data(idx), "changes": console.changes_data(changes)}
    if as_json:
        console.print_json(info)
    elif not quiet:
        m = idx.manifest
        typer.echo(
            f"{console.summary(changes)}; the index holds {m.documents} documents, {m.passages} passages "
            f"({m.occurrences} places) in {directory} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Indexed files, or folders holding them.")],
    index: IndexDir = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Remove documents (and their vectors) from the index; the files are not touched."""
    with console.errors():
        idx = console.open_index(index)
        changes = idx.remove(paths)
    if as_json:
        console.print_json({**console.info_data(idx), "changes": console.changes_data(changes)})
    elif not quiet:
        typer.echo(f"{console.summary(changes)}; {idx.manifest.documents} documents left", err=True)


@app.command()
def check(index: IndexDir = None, as_json: Json = False) -> None:
    """Verify the index: vectors and passages in step, database sound, sources unchanged."""
    from ..storage.check import check_index

    with console.errors():
        report = check_index(index)
    if as_json:
        console.print_json(vars(report) | {"ok": not report.problems})
    else:
        for problem in report.problems:
            typer.echo(f"problem: {console.safe(problem)}")
        for path in report.stale:
            shown = console.safe(path)
            typer.echo(f"changed on disk since indexing: {shown} (semsearch index to update)")
        if not report.problems:
            typer.echo(
                f"ok: {report.documents} documents, {report.passages} passages, "
                f"{report.vectors} vectors in step"
            )
    if report.problems:
        raise typer.Exit(1)


@app.command()
def info(index: IndexDir = None, as_json: Json = False) -> None:
    """Show what an index holds and which encoder built it."""
    from ..index import Index

    with console.errors():
        idx = Index.open(index)
    data = console.info_data(idx)
    if as_json:
        console.print_json(data)
        return
    for key, value in data.items():
        typer.echo(f"{key:>12}: {value}")


@app.command("eval")
def eval_cmd(
    qrels: Annotated[
        list[Path],
        typer.Argument(
            help="Qrels file(s): TSV of question<TAB>expected (a substring of the answering "
            "passage, '|' between alternatives), or JSONL judged by offsets "
            '({"question", "file", "answer_start"}; see --side).',
            show_default=False,
        ),
    ],
    index: IndexDir = None,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            help="Mode(s) to measure, repeatable (default: all three).",
            metavar=options.MODE.metavar,
            show_default=False,
        ),
    ] = None,
    side: Annotated[
        str | None,
        typer.Option(
            "--side",
            "--corpus-side",
            help="JSONL: the key holding each line's judgment, for files that judge "
            "several corpora (XQuAD: ar or en).",
            show_default=False,
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="JSONL: also score each value of this field (e.g. lang).",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Measure recall@1/3/5/10, MRR and nDCG@10 of each search mode on QRELS.

    Examples: semsearch eval tests/data/seeds_eval.tsv;
    semsearch eval ../shared/xquad/qrels/*.jsonl --side ar --by lang --index xquad-ar
    """
    from ..reports.evaluation import evaluate, read_qrels, table
    from ..search.ranking import MODES, check_mode

    with console.errors():
        modes = tuple(mode or MODES)
        for m in modes:
            check_mode(m)
        result = evaluate(console.open_index(index), read_qrels(qrels, side), modes, by)
    if as_json:
        console.print_json(_evaluation_json(result))
    else:
        typer.echo(table(result, by), nl=False)


def _evaluation_json(result: Evaluation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "questions": result.questions,
        "modes": {
            m.mode: {
                **{f"recall@{c}": v for c, v in m.recall.items()},
                "mrr": m.mrr,
                "ndcg@10": m.ndcg10,
                "ranks": list(m.ranks),
            }
            for m in result.modes
        },
    }
    if result.groups:
        out["groups"] = {value: _evaluation_json(e) for value, e in result.groups.items()}
    return out


@app.command()
def models(index: IndexDir = None, as_json: Json = False) -> None:
    """List the encoders available here, and which one built the index."""
    from ..encoders import available_encoders
    from ..storage.folder import index_dir
    from ..storage.manifest import read_manifest

    directory = index_dir(index)
    try:
        built_with: dict[str, Any] | None = read_manifest(directory).encoder
    except SemsearchError:
        built_with = None
    encoders = available_encoders()
    if as_json:
        console.print_json(
            {
                "index": str(directory),
                "built_with": built_with,
                "available": [vars(e) for e in encoders],
            }
        )
        return
    if built_with:
        typer.echo(f"{directory} was built with {built_with['name']} ({built_with['dim']} dims)")
        for member, weight in zip(
            built_with.get("members", []), built_with.get("weights", []), strict=True
        ):
            typer.echo(f"  {member['name']}: weight {weight:.3f}, {member['fingerprint']}")
    else:
        typer.echo(f"no index at {directory}")
    typer.echo("encoders available here:")
    for e in encoders:
        mark = "" if e.ready else "  [not installed]"
        typer.echo(f"  {e.name}\n      {e.description}{mark}")


app.add_typer(report_app, name="report")
app.command("serve")(serve)
app.command("mcp")(mcp)
