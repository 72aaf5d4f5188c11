"""The ``kundresa`` script's entry point: the command line, loaded inside a Ctrl-C guard.

Loading :mod:`kundresa.cli` takes a tenth of a second or two before the command line's own
handling of Ctrl-C exists (:func:`kundresa.cli.main`); a Ctrl-C then printed Python's
traceback of the import. Nothing has been read or written that early.
"""

from __future__ import annotations

import sys

__all__ = ["run"]


def run() -> None:
    """Load the command line and run it (``sys.argv``); Ctrl-C while it loads exits 130 with
    one line, as a command interrupted later does."""
    try:
        from kundresa.cli import main
    except KeyboardInterrupt:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one would cut the line short
        sys.stderr.write("interrupted; nothing was changed\n")
        sys.exit(130)
    main(prog_name="kundresa")
