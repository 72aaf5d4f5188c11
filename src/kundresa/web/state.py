"""The served project: one warehouse connection for the process, a lock, and a result cache.

DuckDB lets several processes read a warehouse file at once, or one process write it. The
server keeps a single read-only :class:`~kundresa.project.Project`, so `kundresa stages` and
other commands keep working on the same project while it serves; an upload closes it, opens
the warehouse for writing just for the ingest, and opens it read-only again. The collector's
loader may keep the write connection open across the load cycles of a burst
(:meth:`ProjectState.writer` with ``keep``); meanwhile the project reads through it
(:meth:`Warehouse.reader <kundresa.store.warehouse.Warehouse.reader>`), and
:meth:`ProjectState.release` lets go of it. A connection is
not safe to use from two threads at once, so every query runs under one lock (pages wait for
an upload, and see the new events at once). Results of analyses are cached by the project's
*version* — a counter bumped on every ingest and journey save plus the journey file's
modification time — and the request's parameters, so a page is computed once per change of
data. The analyses run through :meth:`Project.run <kundresa.project.Project.run>`, and the
pages' assembly is kept in the same cache (:meth:`ProjectState.cached`).

Lock order: :attr:`ProjectState.lock` first, then :attr:`Project.lock
<kundresa.project.Project.lock>` (which :meth:`Project.run <kundresa.project.Project.run>`,
:meth:`Project.cached <kundresa.project.Project.cached>`, ``customer_state`` and the other
queries take inside). Code holding the project's lock never waits for this one, so a request
for a customer's live state, a page being computed and the collector's loader (which takes
this lock in :meth:`ProjectState.writer`) cannot wait for each other in a circle.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

from kundresa.model.parse import JourneyError
from kundresa.project import JOURNEY_FILE, STORE_DIR, WAREHOUSE_FILE, Project, ProjectError
from kundresa.store.warehouse import IngestError, Warehouse

__all__ = ["ProjectState"]


class ProjectState:
    """The project a server serves, opened read-only (for writing only during an upload).

    Parameters
    ----------
    root
        The project folder.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.lock = threading.RLock()
        self.generation = 0
        self._seen_mtime = self._journey_mtime()
        #: Why the journey file could not be read at start-up (its errors), else None.
        self.journey_problem: str | None = None
        try:
            self.project = self._open()
        except ProjectError as exc:
            if not isinstance(exc.__cause__, JourneyError):
                raise  # no folder, a warehouse that cannot be opened: nothing to serve
            # A journey file with errors: serve the project without a journey, so that the
            # editor can repair the file. The file counts as unread: every request tries it
            # again (and answers 409 with its errors, as when it breaks while serving).
            self.journey_problem = str(exc)
            self._seen_mtime = -1
            self.project = Project.open(self.root, read_only=True, read_journey=False)
        #: Called by :meth:`close` before the warehouse is closed (last one first).
        self.closers: list[Callable[[], None]] = []
        # The write connection kept open by writer(keep=True), if any.
        self._kept: Warehouse | None = None
        self.beside = threading.Lock()
        """Held while work runs beside the collector's loads on the kept write connection (the
        loader's follower, :mod:`kundresa.live.loader`): every other writer, and closing that
        connection, waits for it."""

    def _open(self) -> Project:
        return Project.open(self.root, read_only=True)

    def stop_collecting(self) -> None:
        """Run :attr:`closers` (the collector's last load, its live state followed); the
        warehouse stays open (the stage-events feed can still be read)."""
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()

    def close(self) -> None:
        """Run :attr:`closers` (the collector's last load), then close the warehouse."""
        self.stop_collecting()
        with self.lock, self.beside:
            self.project.close()
            if self._kept is not None:
                self._kept.close()
                self._kept = None

    @property
    def journey_path(self) -> Path:
        return self.root / JOURNEY_FILE

    def version(self) -> tuple[int, int]:
        """What cached results depend on: ingests and saves here, and the journey file."""
        try:
            mtime = self.journey_path.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return (self.generation, mtime)

    def _journey_mtime(self) -> int:
        try:
            return self.journey_path.stat().st_mtime_ns
        except OSError:
            return 0

    def reload_journey(self) -> None:
        """Re-read the journey file (after a save, or when it changed on disk).

        The new project is opened before the old one is closed: when the file on disk has
        errors, the app keeps serving the journey it had and the error says why.
        """
        with self.lock:
            self.release()  # a process writing the file cannot open it read-only as well
            mtime = self._journey_mtime()
            fresh = self._open()  # a broken file raises here, and is tried again next time
            self._seen_mtime = mtime
            old, self.project = self.project, fresh
            old.close()
            self.generation += 1

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per project version and ``key``: a thin wrapper over the
        project's one result cache (:meth:`Project.cached <kundresa.project.Project.cached>`,
        where :meth:`Project.run <kundresa.project.Project.run>` keeps every analysis), so a
        page's assembly is kept beside the analyses it is made of and dropped with them.

        A journey file changed on disk is re-read first. A cached result is returned without
        waiting for the lock, so pages already computed stay instant while a long analysis
        runs for another page; a miss is computed under the lock (one query at a time on the
        connection, and never while an upload swaps the warehouse).
        """
        if self._journey_mtime() != self._seen_mtime:
            with self.lock:
                if self._journey_mtime() != self._seen_mtime:
                    # The journey file changed on disk (an editor outside the app): re-read it.
                    self.reload_journey()
        found, hit = self.project.cached_only(("web", key))
        if found:
            return hit
        with self.lock:  # lock order: this lock, then the project's (module docstring)
            return self.project.cached(("web", key), compute)

    def has_events(self) -> bool:
        """Whether the warehouse holds any event (asked once per project version).

        Never waits: while an upload or a long analysis holds the project, the answer is
        ``True`` (a page then draws what it has, as it would without asking)."""
        if not self.lock.acquire(blocking=False):
            return True
        try:
            # The warehouse is looked up when counting: ``cached`` may first re-open the
            # project (a journey file changed on disk) and close the one we have now.
            count = self.cached(("has_events",), lambda: self.project.warehouse.event_count())
        finally:
            self.lock.release()
        return bool(count)

    @staticmethod
    def _catch_up(writer: Warehouse, journey: Any) -> None:
        """The live customer state and the stage-entered feed follow the upload; if that
        fails the upload still stands, and the next load catches up."""
        import logging

        from kundresa.live.state import catch_up

        try:
            catch_up(writer.con, journey)
        except Exception as exc:
            logging.getLogger("kundresa.live").warning(
                "live customer state not updated (the next load catches up): %s", exc
            )

    def ingest(
        self,
        path: Path,
        progress: Callable[[str, int, int], None] | None = None,
        opened: Callable[[Warehouse], None] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Load an uploaded file into the warehouse; the report as a dict.

        ``options`` are passed to :meth:`Warehouse.ingest
        <kundresa.store.warehouse.Warehouse.ingest>` (``source``, ``customer_col``,
        ``time_col``, ``event_col``). ``progress(file, bytes_done, bytes_total)`` is called as
        the file is read; an exception it raises stops the ingest, which then changes
        nothing. ``opened(writer)`` gets the warehouse opened for writing
        (``writer.con.interrupt()`` stops its query from another thread)."""
        with self.writer() as writer:
            if opened is not None:
                opened(writer)
            report = writer.ingest([path], progress=progress, **options)
            if self.project.has_journey:
                self._catch_up(writer, self.project.journey)
                self._keep_tagged(writer, self.project)
        return report.as_dict()

    def _keep_tagged(self, writer: Warehouse, served: Project) -> None:
        """Tag the uploaded events once and keep them in the warehouse
        (:meth:`Project.keep_tagged <kundresa.project.Project.keep_tagged>`), so that the
        pages after an upload read them; if that fails the upload still stands."""
        import logging

        try:
            Project(self.root, served.journey, writer, served.engine).keep_tagged()
        except Exception as exc:
            logging.getLogger("kundresa").warning(
                "tagged events not kept (the pages tag them when they need them): %s", exc
            )

    @contextlib.contextmanager
    def writer(self, *, keep: bool = False, loading: bool = False) -> Iterator[Warehouse]:
        """The warehouse opened for writing, under the lock: the read-only connection is
        closed first and opened again afterwards (DuckDB lets a process open a file one way
        at a time), and cached results are dropped. :class:`~kundresa.store.warehouse.
        IngestError` when another process holds the file; the app keeps serving then.

        With ``keep`` the write connection stays open afterwards (unless the body raised)
        and the project reads through it (:meth:`Warehouse.reader
        <kundresa.store.warehouse.Warehouse.reader>`) until :meth:`release`: the
        collector's loader keeps it across the load cycles of a burst, so DuckDB does not
        checkpoint and nothing is opened again every cycle. A connection kept open is what
        the next ``writer`` gives.

        ``loading``: the collector's loader, whose follower may run beside it (:attr:`beside`);
        every other writer waits for the follower first."""
        with self.lock, contextlib.nullcontext() if loading else self.beside:
            old = self.project
            journey = old.journey if old.has_journey else None
            store = self.root / STORE_DIR / WAREHOUSE_FILE
            old.close()
            done = False
            try:
                if self._kept is None:
                    self._kept = Warehouse(store)  # the write lock
                yield self._kept
                done = True
            finally:
                if keep and done and self._kept is not None:
                    self.project = Project(self.root, journey, self._kept.reader(), old.engine)
                elif loading:
                    with self.beside:  # the follower ends before its connection closes
                        self._read_only_again(journey, old.engine)
                else:
                    self._read_only_again(journey, old.engine)
                self.generation += 1

    def release(self) -> None:
        """Close the write connection :meth:`writer` kept open, if any (DuckDB checkpoints
        then), and read the warehouse read-only again: other processes can open the file."""
        with self.lock, self.beside:
            if self._kept is None:
                return
            old = self.project
            old.close()
            self._read_only_again(old.journey if old.has_journey else None, old.engine)

    def _read_only_again(self, journey: Any, engine: str) -> None:
        """Close the write connection, if open, and open the project read-only (with the
        journey the app had, even if the file on disk has changed meanwhile; the next page
        re-reads it as usual)."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()
        store = self.root / STORE_DIR / WAREHOUSE_FILE
        self.project = Project(self.root, journey, _reopen(store), engine)


def _reopen(store: Path, seconds: float = 10.0) -> Warehouse:
    """The warehouse opened read-only again. Another process may have taken the write lock in
    the moment this one let go of it (a `kundresa ingest`): wait for it a little rather than
    leave the app without a warehouse."""
    if not store.exists():
        return Warehouse(None)
    deadline = time.monotonic() + seconds
    while True:
        try:
            return Warehouse(store, read_only=True)
        except IngestError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
