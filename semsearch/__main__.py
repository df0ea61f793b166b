"""``python -m semsearch`` runs the CLI."""

from .entry import main

main()
