"""``python -m semsearch`` runs the CLI."""

from .cli.entry import main

main()
