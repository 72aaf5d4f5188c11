"""Ctrl-C that a library swallowed, noticed again before a write commits.

Python turns SIGINT into a ``KeyboardInterrupt`` raised in whatever Python code the main
thread runs next. When that code runs under C code that catches every exception, the
interrupt is lost: DuckDB's client imports ``pandas`` and ``pyarrow.dataset`` on first use
and takes any failed import for "not installed", so a Ctrl-C landing inside that import let
an ingest run on and commit. :func:`watching` notes each SIGINT before handing it to the
handler that was installed; :meth:`Watch.check` raises it again. The command line watches
each command, so that one that ran on after a lost Ctrl-C still ends as interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["Watch", "chained", "committed", "transaction", "watching"]

_commits = [0]
_RAISES = "_kundresa_raises_keyboard_interrupt"


def committed() -> None:
    """Count a write committed (:meth:`kundresa.store.warehouse.Warehouse.writing_events`
    calls it), so that a watch tells whether its body changed stored data
    (:attr:`Watch.wrote`)."""
    _commits[0] += 1


class Watch:
    """Whether a SIGINT arrived while :func:`watching` ran (``seen``), and whether a write
    committed meanwhile (``wrote``)."""

    def __init__(self) -> None:
        self.seen = False
        self._commits = _commits[0]
        self._holding = False
        self._deferred = False
        self._abandoned = False

    @property
    def wrote(self) -> bool:
        """Whether a write committed since the watch began (:func:`committed`)."""
        return _commits[0] != self._commits

    @contextmanager
    def held(self) -> Iterator[None]:
        """A SIGINT while the body runs is noted, not passed on (a write's COMMIT: an interrupt
        raised inside it would leave it unknown whether it committed); :meth:`release` raises
        it afterwards."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def release(self) -> None:
        """Raise ``KeyboardInterrupt`` for a SIGINT held by :meth:`held`.

        Raises
        ------
        KeyboardInterrupt
            A SIGINT arrived while :meth:`held` ran.
        """
        if self._deferred:
            self._deferred = False
            raise KeyboardInterrupt

    def abandon(self) -> None:
        """End the :func:`transaction` this watch belongs to with ``ROLLBACK`` instead of
        ``COMMIT`` (its body found nothing to write); a SIGINT seen meanwhile is still
        raised."""
        self._abandoned = True

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a SIGINT arrived, whether or not the
        ``KeyboardInterrupt`` it caused went through.

        Raises
        ------
        KeyboardInterrupt
            A SIGINT arrived since :func:`watching` began.
        """
        if self.seen:
            raise KeyboardInterrupt


@contextmanager
def watching() -> Iterator[Watch]:
    """Note every SIGINT while the body runs, then hand it to the handler installed before
    (Python's own raises ``KeyboardInterrupt``); the handler is put back afterwards.

    Only the main thread can install a handler, and only Python's own (which raises
    ``KeyboardInterrupt``) is watched: elsewhere, when SIGINT is ignored or left to the
    system, or when another handler gives it another meaning (a web server's graceful
    shutdown), the watch sees nothing. Watches nest (each notes the signal, the innermost
    first).

    Examples
    --------
    >>> import contextlib
    >>> with watching() as watch, contextlib.suppress(KeyboardInterrupt):
    ...     signal.raise_signal(signal.SIGINT)  # and swallowed, as some C code does
    >>> watch.seen
    True
    """
    watch = Watch()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return
    before = signal.getsignal(signal.SIGINT)
    raises = before is signal.default_int_handler or getattr(before, _RAISES, False)
    if not callable(before) or not raises:
        yield watch
        return
    chained: Callable[[int, FrameType | None], Any] = before

    def noted(signum: int, frame: FrameType | None) -> Any:
        watch.seen = True
        if watch._holding:
            watch._deferred = True
            return None
        return chained(signum, frame)

    setattr(noted, _RAISES, True)  # a watch inside this one chains to Python's handler
    signal.signal(signal.SIGINT, noted)
    try:
        yield watch
    finally:
        # Another handler installed meanwhile (by the body) is left alone.
        if signal.getsignal(signal.SIGINT) is noted:
            signal.signal(signal.SIGINT, before)


def chained(
    handler: Callable[[int, FrameType | None], Any], first: Callable[[], object]
) -> Callable[[int, FrameType | None], Any]:
    """A SIGINT handler that starts ``first()`` in a thread of its own (its errors ignored),
    then calls ``handler``: for a library that puts in a handler of its own to clean up
    (PySpark cancels its jobs) where a watch (:func:`watching`) must still see Ctrl-C. Raises
    as ``handler`` does. In its own thread, because the main thread may be inside the same
    library's call when the signal arrives (PySpark's cancel, run there, reused the
    interrupted call's py4j connection and failed)."""

    def run_first() -> None:
        with contextlib.suppress(Exception):
            first()

    def cleaning(signum: int, frame: FrameType | None) -> Any:
        threading.Thread(target=run_first, name="kundresa-sigint-cleanup", daemon=True).start()
        return handler(signum, frame)

    if handler is signal.default_int_handler or getattr(handler, _RAISES, False):
        setattr(cleaning, _RAISES, True)
    return cleaning


@contextmanager
def transaction(con: Any, *, stored: bool = True) -> Iterator[Watch]:
    """One transaction on the DuckDB connection ``con``: ``BEGIN``, the body, ``COMMIT``;
    ``ROLLBACK`` when the body raises, or when a SIGINT arrived meanwhile (:func:`watching`,
    whose watch the body gets), even one a library swallowed. A SIGINT while ``COMMIT`` runs
    is held until it returns (:meth:`Watch.held`), then raised: the write stands and is
    counted (:func:`committed`). Raised inside it, the write could have committed and then
    been reported as rolled back (a ``ROLLBACK`` then fails: no transaction is active). A
    body that finds nothing to write calls :meth:`Watch.abandon`: ``ROLLBACK``, no commit.
    ``stored=False`` for a database in memory: its commit is not counted as stored data (a
    ``--events`` command interrupted said its changes were stored).

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C: before the commit, nothing was written; after it, the write stands.
    """
    con.execute("BEGIN TRANSACTION")
    with watching() as interrupts:
        try:
            yield interrupts
            interrupts.check()
        except BaseException:
            # A ROLLBACK that fails (the connection closed already, as when a second Ctrl-C
            # closed the generator late) must not hide what ended the body.
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise
        if interrupts._abandoned:
            con.execute("ROLLBACK")
            return
        try:
            with interrupts.held():
                con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):  # a failed COMMIT has ended it already
                con.execute("ROLLBACK")
            raise
        if stored:
            committed()
        interrupts.release()
