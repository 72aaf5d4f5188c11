"""The ``kundresa`` command line.

Commands are loaded when they run (:class:`LazyGroup`: a command name → ``"module:attr"``),
so ``kundresa --version``, ``--help`` and ``validate`` start without loading the query engines
or the web app. Journey-file commands are in :mod:`kundresa.cli.journey`, data commands in
:mod:`kundresa.cli.data`; the analysis commands (:mod:`kundresa.cli.analyses`) are built from
the analysis registry's declarations (:mod:`kundresa.analyses`) and run through
:meth:`Project.run <kundresa.project.Project.run>`. Problems the user can fix (a missing file,
a bad journey, a wrong column name) print one clear line with exit code 1; usage errors exit
with 2 (:func:`kundresa.cli._common.raise_for` maps every error in one place).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from importlib import import_module
from typing import Any, NoReturn

import click

from kundresa._interrupts import watching
from kundresa.analyses._catalog import MODEL_CHOICES
from kundresa.cli._common import err, raise_for

__all__ = ["COMMANDS", "MODELS", "LazyGroup", "main"]

#: The attribution models, in the order ``--model all`` shows them.
MODELS = MODEL_CHOICES

_J, _D, _A = "kundresa.cli.journey", "kundresa.cli.data", "kundresa.cli.analyses"

#: Every command: where it is, and (for those heavy to load) its one-line help.
COMMANDS: dict[str, tuple[str, str | None]] = {
    "templates": (f"{_J}:templates", None),
    "init": (f"{_J}:init", None),
    "validate": (f"{_J}:validate", None),
    "history": (f"{_J}:history", None),
    "restore": (f"{_J}:restore", None),
    "review": (f"{_J}:review", None),
    "ingest": (f"{_D}:ingest", None),
    "quarantine": (f"{_D}:quarantine", None),
    "info": (f"{_D}:info", None),
    "reorganise": (f"{_D}:reorganise", None),
    "identities": ("kundresa.cli.identity:identities", None),
    "forget": ("kundresa.cli.identity:forget", None),
    "stages": (f"{_A}:stages", None),
    "funnel": (f"{_A}:funnel", None),
    "transitions": (f"{_A}:transitions", None),
    "touchpoints": (f"{_A}:touchpoints", None),
    "journeys": (f"{_A}:journeys", None),
    "customer": (f"{_A}:customer", None),
    "paths": (f"{_A}:paths", None),
    "retention": (f"{_A}:retention", None),
    "bottlenecks": (f"{_A}:bottlenecks", None),
    "compare": (f"{_A}:compare", None),
    "correlation": (f"{_A}:correlation", None),
    "attribution": (f"{_A}:attribution", None),
    "export": ("kundresa.cli.export:export", None),
    "predict": (
        "kundresa.cli.predict:predict",
        "Train the next-stage model and evaluate it against the baseline.",
    ),
    "next": (
        "kundresa.cli.predict:next_step",
        "A customer's stage, chance to move on, and what to offer them.",
    ),
    "demo": ("kundresa.cli.demo:demo", None),
    "serve": (
        "kundresa.web.cli:serve",
        "Serve the project's web app (journey map, analyses, API).",
    ),
}


#: Commands that read and print only (the analyses): the process may end without tearing
#: the interpreter down (:meth:`LazyGroup.__call__`).
QUICK_EXIT = frozenset(name for name, (where, _) in COMMANDS.items() if where.startswith(_A + ":"))


def _quick_exit(code: object) -> None:
    """End the process now with ``code`` (an int or None), as a forked worker of Python's
    own :mod:`multiprocessing` does: exit handlers run, standard streams flushed, then
    ``os._exit``, skipping the teardown of every module and object (~0.4 s of CPU after an
    analysis has loaded Ibis, pandas and numba). Returns without exiting when that is not
    safe: another thread that Python would wait for, a code that is not a number, a stream
    that cannot be flushed."""
    import atexit
    import threading

    if code is not None and not isinstance(code, int):
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code or 0)


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented pattern)."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str | None]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = lazy
        self.ran: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The process's entry (the ``kundresa`` script, ``python -m kundresa``; tests call
        :meth:`main`): the command, then, after an analysis command, a quick exit
        (:func:`_quick_exit`). Before numpy loads, its transparent huge pages are turned off
        for this process unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise: a command writes
        its large arrays once, and a huge page's first write waits for the kernel to zero it
        and often to compact memory (10M-event funnel: 0.4 s less system time; bench/NOTES.md).
        On Linux, Arrow allocates from its jemalloc pool unless ``ARROW_DEFAULT_MEMORY_POOL``
        says otherwise: its default, mimalloc, gives freed memory back to the kernel and
        takes it again within a read, and each time the kernel zeroes the pages anew (a
        10M-event file's read: 1.3 s of system time, 0.3-0.9 s with jemalloc; the whole
        funnel 2.8-3.7 s against 2.3-2.5 s; bench/NOTES.md). PyPI's and conda-forge's Linux
        builds of pyarrow have jemalloc. OpenBLAS's threads (numpy's, made when numpy loads)
        sleep at once when idle unless ``OPENBLAS_THREAD_TIMEOUT`` says otherwise: by default
        each spins for ~2^28 cycles first, ~0.1 s of a core taken from the command at every
        start (``python -c "import numpy"``: 0.26 s of CPU against 0.16 s). For an analysis
        command, Python's cyclic garbage collector runs its youngest generation every 10,000
        allocations instead of 700 (unless the thresholds were set already): its imports
        allocate millions of objects, few of them in cycles, and the collections that found
        next to nothing were ~2% of a 10M-event funnel's CPU (bench/NOTES.md). A server
        (``serve``) keeps Python's thresholds (see :func:`kundresa.web.cli.warm_up`)."""
        _ENTRY[0] = True
        os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
        if sys.platform == "linux":
            os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
        try:
            return self.main(*args, **kwargs)
        except SystemExit as done:
            if self.ran in QUICK_EXIT:
                _quick_exit(done.code)
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        self.ran = name
        if _ENTRY[0] and name in QUICK_EXIT and gc.get_threshold() == _PYTHON_GC_THRESHOLDS:
            gc.set_threshold(10_000, 10, 10)
        return name, command, rest

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name][0].partition(":")
            command = getattr(import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name][0]} is not a command")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        width = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        for name in self.list_commands(ctx):
            short = self.lazy.get(name, ("", None))[1]
            if short is None:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                short = cmd.get_short_help_str(width)
            rows.append((name, short))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        # Ctrl-C is watched through the whole command: one that a library swallowed (and the
        # command ran on, to its end or to another error) still ends it as interrupted.
        with watching() as interrupts:
            try:
                done = super().invoke(ctx)
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                if interrupts.seen:
                    _interrupted(None, interrupts.wrote, self.ran in _SERVING)
                raise
            except KeyboardInterrupt as exc:
                _interrupted(exc, interrupts.wrote, self.ran in _SERVING)
            except Exception as exc:
                if _is_interrupt(exc) or interrupts.seen:
                    _interrupted(exc, interrupts.wrote, self.ran in _SERVING)
                raise_for(exc)
            if interrupts.seen:
                _interrupted(None, interrupts.wrote, self.ran in _SERVING)
            return done


def _is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C arriving inside a DuckDB query: DuckDB's Python client
    raises ``RuntimeError: Query interrupted`` from the ``KeyboardInterrupt``."""
    return isinstance(exc, RuntimeError) and isinstance(exc.__cause__, KeyboardInterrupt)


_SERVING = frozenset({"serve", "demo"})
"""Commands that run until Ctrl-C stops them (a server): it is their way to end."""


def _interrupted(exc: BaseException | None, wrote: bool = False, serving: bool = False) -> NoReturn:
    """Ctrl-C: exit 130 with one line. A write that was interrupted changed nothing (every
    write is one transaction, and none commits after a Ctrl-C: see kundresa._interrupts,
    which also notices one that a library swallowed, ``exc`` None). When a write committed
    before the Ctrl-C (``wrote``), the line says that its changes stand; an ingest
    interrupted after its commit says that the events are stored and how to finish
    (:class:`kundresa.project.StoredButInterrupted`); a server says it stopped. A second
    Ctrl-C from here on is ignored: it cut the line short, and click then said "Aborted!"
    with exit code 1 (even after an ingest had stored its events)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    message = getattr(exc, "message", None)
    if not message:
        if serving:
            message = "stopped"
        elif wrote:
            message = (
                "interrupted after changes were stored: they stand (each write is all or "
                "nothing); `kundresa reorganise` finishes what was left undone"
            )
        else:
            message = "interrupted; nothing was changed"
    err.print(message, markup=False)
    if previous is not None and not _ENTRY[0]:
        signal.signal(signal.SIGINT, previous)  # a caller in this process (tests) goes on
    sys.exit(130)


_PYTHON_GC_THRESHOLDS = (700, 10, 10)
"""CPython's default thresholds of the cyclic garbage collector (3.11, 3.12)."""

_ENTRY = [False]
"""Whether the command line is the process's entry (:meth:`LazyGroup.__call__`), which ends
with the command."""


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="kundresa")
def main() -> None:
    """Kundresa: the customer journey as code, with live numbers from your own events."""
