"""``python -m kundresa`` runs the command line, like the ``kundresa`` script."""

from kundresa._command import run

run()
