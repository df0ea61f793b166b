"""The ``semsearch`` command: a thin layer over the library. :mod:`.entry` answers
``semsearch ask`` without importing typer (:mod:`.ask`), and hands everything
else to the typer app (:mod:`.app`, with :mod:`.serve` for ``serve`` and ``mcp``);
options are defined once (:mod:`.options`, their typer forms in
:mod:`.typer_options`), and :mod:`.console` prints hits, progress and one-line
errors."""
