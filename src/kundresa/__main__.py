"""``python -m kundresa`` runs the command line, like the ``kundresa`` script."""

from kundresa.cli import main

main(prog_name="kundresa")
