"""``python -m cli ...`` runs the ``byline`` command line."""

from cli import main

main()
