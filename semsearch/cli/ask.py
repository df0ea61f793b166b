"""``semsearch ask``, the command users run most: shared by the quick path
(:mod:`.entry`, no typer) and the typer CLI (:mod:`.app`)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import IndexNotFoundError, QueryError
from . import console, options

DEMO_SOURCES = Path("seeds")


def ask(
    question: str,
    k: int = options.TOP.default,
    index: Path | None = None,
    as_json: bool = False,
    refresh: bool = options.REFRESH.default,
    mode: str = options.MODE.default,
    quiet: bool = False,
) -> None:
    """``semsearch ask``: open the index (building it from seeds/ on a first
    question, refreshing it when its sources changed), search, print."""
    from ..index import Index
    from ..search.pipeline import check_query
    from ..search.ranking import check_mode

    with console.errors():
        _require_text(question)
        check_query([question], k)
        check_mode(mode)
        with console.reporter(quiet) as (progress, on_skip):
            try:
                idx = Index.open(index)
            except IndexNotFoundError:
                if not (refresh and DEMO_SOURCES.is_dir()):
                    raise
                idx = Index.create([DEMO_SOURCES], index, progress=progress, on_skip=on_skip)
            else:
                if refresh:
                    idx.sync(progress=progress, on_skip=on_skip)
        hits = idx.search(question, k=k, mode=mode)
    if as_json:
        console.print_json({"query": question, "hits": [h.to_dict(Path.cwd()) for h in hits]})
    else:
        console.print_hits(hits)


def _require_text(question: str) -> None:
    """Refuse a question whose bytes were not UTF-8: the shell passes them as lone
    surrogates, which no model (nor stdout) can encode."""
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(question)
        raise QueryError(
            f"the question {raw!r} is not UTF-8 text; type it again in a UTF-8 terminal "
            "(a locale such as C.UTF-8)"
        ) from None
