"""The loader: moves the collector's logged batches into the warehouse, exactly once.

Each **load cycle** reads the records logged after the warehouse's *loaded position* (rows
mapped and checked when they arrived) and loads them with :meth:`Warehouse.ingest_checked
<kundresa.store.warehouse.Warehouse.ingest_checked>` — the collector's lean insert path, with
the result of the generic one — in one transaction, as one row of the ``ingests`` table with
``sources = ['collector']``. In that same transaction it writes the new
position to the warehouse's ``meta`` table (key ``collector_log``: the log's id and the
position), so a crash either keeps both the events and the position or neither; after a
restart the next cycle starts from the position the warehouse holds, and nothing is loaded
twice. ``messageId`` (the events' ``event_id``) deduplicates as well, against everything the
warehouse already holds.

DuckDB lets one process write a warehouse file. The loader takes the write lock for its
cycles (``open_writer``), at most every ``interval`` seconds; a cycle that cannot get the lock
is tried again at the next one, and the batches wait in the log. Given ``release``, the loader
**keeps the write connection open** across the cycles of a burst — each cycle still commits
(DuckDB writes and syncs its write-ahead log), but the connection is not closed, so DuckDB
does not checkpoint and nothing is opened again every cycle — and lets go of it (``release``:
DuckDB checkpoints, the file can be opened by other processes again) when a cycle finds
nothing new to load, **when another process asks for the file**, or once it has kept it
for ``hold`` seconds (no limit by default), and then waits a whole ``interval`` before the
next cycle. While it keeps the file it says so beside it
(:func:`~kundresa.store.warehouse.listen_for_handover`), and a process that finds the file
locked by it — ``kundresa stages`` while the server collects — leaves a request there and
tries again for a few seconds: the loader sees the request at its next cycle (within
``interval``) and lets go. Letting go at fixed times instead cost every event loaded in the
next cycle a checkpoint, a pause and a double load: a second of delay several times a
minute, with nobody waiting (bench/NOTES.md, session 13). Without ``release`` every cycle
opens and closes the write connection.

**A load never rewrites the table**: it appends its rows to the journey-ordered store's
tail (:mod:`kundresa.store.layout`), so no cycle does work that grows with the whole table.
When a load leaves the tail at more than :data:`~kundresa.store.layout.LOAD_TAIL_FRACTION`
of all rows, the loader starts a **rewrite beside the loads** (:meth:`Warehouse.start_rewrite
<kundresa.store.warehouse.Warehouse.start_rewrite>`: a thread, a connection and a
transaction of its own) and the next cycles go on loading meanwhile; when a whole interval
passes without events after the write connection was let go, the idle cycle starts one
down to :data:`~kundresa.store.layout.TAIL_FRACTION` (:meth:`settle`). While a rewrite runs
the loader keeps the write connection (``hold`` is exceeded, the connection is not let go:
closing it would stop the rewrite) and DuckDB on one thread (:func:`one_thread`), as during
a load, so that the rewrite takes one core and leaves the other to the acks and the loads.
Without ``release`` the rewrite runs inside the cycle, after the load has committed.
Analyses read a store with a tail exactly as one without. Stopping the loader stops a
rewrite (rolled back; the next burst's idle cycle, an ingest or ``kundresa reorganise`` puts
the store in order).

``after_commit(cursor)`` — the live customer state (:func:`kundresa.live.state.catch_up`) —
runs **after** each load has committed, on a cursor of the write connection, in a
transaction of its own, in the loader's **follower** thread: beside the next loads, at the
lowest CPU priority and on one DuckDB thread, so that acks and loads go first and a load's
events are in the warehouse (and in every analysis) without waiting for the live state to
follow them. Loads that commit while the follower runs are caught up by its next round (a
catch-up reads every ingest past its watermark). The follower holds ``beside`` while it
runs, and the write connection is not closed before it ends. When the connection is not
kept after a cycle (without ``release``, or when the cycle lets go of it) ``after_commit``
runs in the cycle itself, after the commit. Its error is reported on standard error once;
the next load's round does the work again. Measured on the 2-core bench at 20,000 events/s
(bench/NOTES.md, session 13): inside the load's transaction the live state's SQL made each
cycle ~0.8-1.0 s long and an event waited up to two of them; beside the loads, cycles take
0.25-0.7 s and every event is in the warehouse within ~1.1 s of its ack.

``after_load(con)`` — the older hook, still accepted — is called with the open write
connection **inside the load's transaction**, after the events, identity links and the log
position are written and before COMMIT: what it writes commits together with the events. An
exception it raises rolls the load back (the batches stay in the log and the next cycle
tries again) and is reported on standard error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson

from kundresa.ingest.sources.segment import SegmentSource
from kundresa.live.log import LogRecord, WriteAheadLog, pending_records, read_log_id
from kundresa.store.layout import LOAD_TAIL_FRACTION, TAIL_FRACTION, tail_rows
from kundresa.store.warehouse import (
    IngestError,
    IngestReport,
    Warehouse,
    handover_asked,
    listen_for_handover,
)

__all__ = [
    "POSITION_KEY",
    "SOURCE",
    "AfterLoad",
    "Loader",
    "collector_status",
    "loaded_position",
    "read_json",
]

SOURCE = "collector"
"""The ``sources`` entry of the ingest log rows the loader writes."""
POSITION_KEY = "collector_log"
"""Key of the ``meta`` row holding ``{"log": LOG_ID, "position": N}``."""
DEFAULT_INTERVAL = 0.5
MAX_CYCLE_BYTES = 16 * 1024 * 1024
"""Most log bytes one cycle loads (a backlog is loaded in several cycles, so pages and
uploads never wait long for the lock)."""

KEPT_CHECKPOINT = "64MB"
"""DuckDB's ``checkpoint_threshold`` while the loader keeps the write connection: each
checkpoint (copying the write-ahead log into the file, inside the COMMIT that passes the
threshold) costs a fixed part that grows with the store — 0.24-0.88 s on a store of 1M events
— so at 20,000 events/s DuckDB's 16 MB default put one in every second load (bench/NOTES.md,
session 13: 4 checkpoints in 8 loads of 20,000 events and 10% more CPU than with 64 MB, 1
checkpoint). The log stays short enough to replay in a moment after a crash; letting go of
the connection checkpoints what is left."""

AfterLoad = Callable[[Any], None]

_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
"""``bytes.translate`` table: each digit to ``0``, any other byte to a space."""
_LONG_NUMBER = b"0" * 19
"""19 digits in a row: perhaps an integer beyond 64 bits (:func:`read_json`)."""


_THREADS = threading.Lock()
_ONE_THREAD: dict[int, list[int]] = {}
"""Per connection (``id``) on one thread: ``[holders, the setting before the first]``."""


def _hold_one_thread(con: Any, key: int | None = None) -> None:
    """DuckDB on one thread until :func:`_let_go_one_thread`; holders of one database count
    together under ``key`` (default the connection's ``id``; a cursor of it passes its
    ``id``), and ``con`` is the connection this thread may use."""
    key = id(con) if key is None else key
    with _THREADS:
        held = _ONE_THREAD.get(key)
        if held is None:
            before = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
            con.execute("SET threads = 1")
            _ONE_THREAD[key] = [1, before]
        else:
            held[0] += 1


def _let_go_one_thread(con: Any, key: int | None = None) -> None:
    key = id(con) if key is None else key
    with _THREADS:
        held = _ONE_THREAD[key]
        held[0] -= 1
        if held[0] == 0:
            del _ONE_THREAD[key]
            with contextlib.suppress(duckdb.ConnectionException):  # closed: nothing to restore
                con.execute(f"SET threads = {held[1]}")


@contextlib.contextmanager
def one_thread(con: Any) -> Iterator[None]:
    """DuckDB on one thread (``SET threads = 1``) while the body runs, then as before: a load
    cycle leaves the other core to the acks of the collector. Measured on this project's
    2-core bench (bench/NOTES.md, session 11): at 20,000 events/s a cycle's CPU per event
    fell from ~72 to ~60 µs (small cycles gain little from a second thread) and the p50 ack
    from ~9 to ~5 ms. The setting is the database's: pages read through the writer's cursors
    meanwhile run on one thread too. Holders of one connection nest (a load cycle inside the
    time a rewrite beside the loads holds it): the last one out restores the setting."""
    _hold_one_thread(con)
    try:
        yield
    finally:
        _let_go_one_thread(con)


def loaded_position(con: Any, log_id: str | None) -> int:
    """The log position the warehouse on ``con`` has loaded up to (0 for another log)."""
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", [POSITION_KEY]).fetchone()
    except Exception:  # a warehouse too old or new to have the meta table
        return 0
    if not row:
        return 0
    saved = json.loads(row[0])
    return int(saved["position"]) if saved.get("log") == log_id else 0


def collector_status(log_dir: str | os.PathLike[str], con: Any) -> dict[str, Any]:
    """What the collector's log holds beyond what the warehouse on ``con`` has loaded:
    ``{"pending_batches": N, "pending_bytes": B, "loaded_position": P}`` (a batch is one
    acknowledged request)."""
    position = loaded_position(con, read_log_id(log_dir))
    batches, size = pending_records(log_dir, position)
    return {"pending_batches": batches, "pending_bytes": size, "loaded_position": position}


def read_json(data: bytes) -> tuple[Any, bool]:
    """``data``'s JSON value, and whether orjson read it (then every text in it is Unicode
    and every number finite).

    orjson is several times faster than the standard library, but refuses what the
    collector must refuse one message at a time (a lone UTF-16 surrogate, ``NaN``, a number
    too large for a float) and nesting past 1024, and reads an integer beyond 64 bits as
    the nearest float. So data with 19 digits in a row, or that orjson refuses, is read by
    the standard library instead (exact integers; ``False``).

    Raises
    ------
    ValueError, UnicodeDecodeError, RecursionError
        When ``data`` is not JSON.

    Examples
    --------
    >>> read_json(b'[{"n": 18446744073709551616}]')
    ([{'n': 18446744073709551616}], False)
    >>> read_json(b'[{"n": 1.5}]')
    ([{'n': 1.5}], True)
    """
    if _LONG_NUMBER not in data.translate(_DIGITS):
        # What orjson refuses (e.g. lone surrogates, NaN) the standard library reads or
        # refuses with its own message.
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(data), True
    return json.loads(data), False


LOCKED = (
    "another process has the warehouse open (a command reading the project, or an ingest); "
    "the batches wait in the log and are loaded once it lets go"
)
"""What the loader reports when another process holds the warehouse's lock."""


class Loader:
    """Loads a :class:`~kundresa.live.log.WriteAheadLog` into a warehouse (module docstring).

    Parameters
    ----------
    log
        The collector's log.
    open_writer
        A context manager factory giving the warehouse opened for writing for one cycle.
    after_load
        Called with the write connection inside each load's transaction (module docstring).
    loaded
        Called after each committed load with its report (e.g. to drop cached results).
    interval
        Seconds between cycles of :meth:`start`'s thread.
    release
        Closes a write connection that ``open_writer(keep=True)`` kept open; given it, the
        loader calls ``open_writer(keep=...)`` and keeps the connection across the cycles
        of a burst (module docstring). Without it, ``open_writer()`` each cycle.
    after_commit
        Called with a cursor of the write connection after loads commit, in a transaction
        of its own (module docstring: the follower).
    beside
        Held by the follower while it runs, so that the owner of the write connection can
        make its other writers wait for it (:class:`kundresa.web.state.ProjectState`).
    hold
        Seconds the loader keeps the write connection at most (with ``release``); ``None``:
        no limit (it lets go when a cycle finds nothing new, or when asked, module docstring).
    """

    def __init__(
        self,
        log: WriteAheadLog,
        open_writer: Callable[..., contextlib.AbstractContextManager[Warehouse]],
        *,
        after_load: AfterLoad | None = None,
        after_commit: AfterLoad | None = None,
        beside: threading.Lock | None = None,
        loaded: Callable[[IngestReport], None] | None = None,
        interval: float = DEFAULT_INTERVAL,
        release: Callable[[], None] | None = None,
        hold: float | None = None,
    ) -> None:
        self.log = log
        self.open_writer = open_writer
        self.after_load = after_load
        self.after_commit = after_commit
        self.beside = beside if beside is not None else threading.Lock()
        # The follower (after_commit beside the loads), and whether a load has committed
        # since it last started (it then runs once more).
        self._follower: threading.Thread | None = None
        self._follow_again = False
        self._follow_state = threading.Lock()
        self._follow_cursor: Any = None
        self.follow_error: str | None = None
        """The follower's last error (None after it succeeded)."""
        # The warehouse file whose handover this loader listens for (while it keeps it).
        self._listening: Path | None = None
        self.loaded = loaded
        self.interval = interval
        self.release = release
        self.hold = hold
        # When the write connection kept open was opened (None: none is kept), and whether
        # the last cycle let go of it (the next then waits a whole interval).
        self._held_since: float | None = None
        self._released = False
        self.position: int | None = None
        """The loaded position, once a cycle has read it from the warehouse."""
        self.unsettled = False
        """Whether a load has committed since the store's tail was last brought under
        :data:`~kundresa.store.layout.TAIL_FRACTION` (:meth:`settle`)."""
        self.last_error: str | None = None
        # The warehouse on which the last rewrite beside the loads was started, and whether
        # the cycle running keeps its write connection afterwards (else: no rewrite started).
        self._rewritten_by: Warehouse | None = None
        self._keeping = True
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._cycle = threading.Lock()

    def pending(self) -> bool:
        """Whether records are logged beyond what is known to be loaded."""
        return self.position is None or self.log.end > self.position

    def load_once(self) -> IngestReport | None:
        """One cycle: load what is logged now; the report, or ``None`` when nothing was."""
        with self._cycle:
            if self.position is not None and self.log.end <= self.position:
                return None
            end = self.log.end
            with self._writer() as writer:
                position = loaded_position(writer.con, self.log.log_id)
                records = []
                size = 0
                for rec in self.log.read(position, end):
                    records.append(rec)
                    size += rec.end - rec.start
                    if size >= MAX_CYCLE_BYTES:
                        break
                if not records:
                    self.position = max(position, end)
                    return None
                new_position = records[-1].end
                state = json.dumps({"log": self.log.log_id, "position": new_position})

                def before_commit(con: Any, report: IngestReport) -> None:
                    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [POSITION_KEY, state])
                    if self.after_load is not None:
                        self.after_load(con)

                with one_thread(writer.con):
                    report = writer.ingest_checked(
                        SOURCE,
                        self._batches(records),
                        before_commit=before_commit,
                        tail_fraction=None,
                    )
                with contextlib.suppress(duckdb.Error):  # committed; the next load tries again
                    self._rewrite(writer, LOAD_TAIL_FRACTION)
                self._follow(writer)
            self.position = new_position
            self.unsettled = True
            self.log.drop_before(new_position)
        if self.loaded is not None:
            self.loaded(report)
        return report

    @contextlib.contextmanager
    def _writer(self) -> Iterator[Warehouse]:
        """``open_writer()``, or with ``release`` ``open_writer(keep=...)``: kept unless it
        has been kept for ``hold`` seconds or another process asks for the warehouse (a
        failed cycle lets go of it as well)."""
        if self.release is None:
            self._keeping = True  # the rewrite is waited for inside the cycle (_rewrite)
            with self.open_writer() as writer:
                yield writer
            return
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        kept_long = self.hold is not None and now - self._held_since >= self.hold
        keep = (not kept_long or self.rewriting) and not self.asked()
        self._keeping = keep
        try:
            with self.open_writer(keep=keep) as writer:
                if keep:
                    self._listen(writer)
                    # Fewer checkpoints while the connection is kept (DuckDB's default, 16 MB
                    # of write-ahead log, made every second load of a burst checkpoint).
                    writer.con.execute(f"SET checkpoint_threshold = '{KEPT_CHECKPOINT}'")
                yield writer
        except BaseException:
            self._let_go()
            raise
        if not keep:
            self._let_go()

    def _listen(self, writer: Warehouse) -> None:
        """Say beside the warehouse file that this process keeps it and lets go when asked
        (:func:`kundresa.store.warehouse.listen_for_handover`)."""
        if writer.path is not None and self._listening is None:
            self._listening = writer.path
            listen_for_handover(writer.path, True)

    def asked(self) -> bool:
        """Whether another process waits for the warehouse the loader keeps (it then lets
        go of it, module docstring)."""
        return self._listening is not None and handover_asked(self._listening)

    def _let_go(self) -> None:
        """The write connection is closed now (by ``release`` or by the last cycle)."""
        self._held_since = None
        self._released = True
        if self._listening is not None:
            listen_for_handover(self._listening, False)
            self._listening = None

    # -- the follower: after_commit beside the loads --------------------------------------

    def _follow(self, writer: Warehouse) -> None:
        """After a committed load: :attr:`after_commit` on a cursor of ``writer``'s
        connection — in the follower thread when the connection stays open after this
        cycle (a running follower runs once more), else here, before it closes."""
        if self.after_commit is None:
            return
        con = writer.con
        if self.release is None or not self._keeping:
            self.finish_follower()
            with self.beside:
                cursor = con.cursor()
                try:
                    self._run_after_commit(cursor)
                finally:
                    cursor.close()
            return
        with self._follow_state:
            self._follow_again = True
            if self._follower is not None:
                return  # running: it sees _follow_again before it ends
            thread = threading.Thread(
                target=self._follow_loop, args=(con,), name="kundresa-follower", daemon=True
            )
            self._follower = thread
        self.beside.acquire()  # the follower releases it when it ends
        try:
            # Made here: the loader's thread is the one that uses the connection.
            self._follow_cursor = con.cursor()
            thread.start()
        except BaseException:
            with self._follow_state:
                self._follower = None
            self.beside.release()
            raise

    def _follow_loop(self, con: Any) -> None:
        cursor = self._follow_cursor
        try:
            # Background work: the lowest CPU priority (Linux: per thread), one DuckDB
            # thread (the caller's, so the priority holds), so that acks and loads go first.
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            _hold_one_thread(cursor, id(con))
            try:
                while True:
                    with self._follow_state:
                        if not self._follow_again:
                            self._follower = None
                            break
                        self._follow_again = False
                    self._run_after_commit(cursor)
            finally:
                with contextlib.suppress(duckdb.Error):  # closed: nothing to restore
                    _let_go_one_thread(cursor, id(con))
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.close()
            with self._follow_state:
                if self._follower is threading.current_thread():  # it failed
                    self._follower = None
            self.beside.release()

    def _run_after_commit(self, cursor: Any) -> None:
        assert self.after_commit is not None
        try:
            self.after_commit(cursor)
            self.follow_error = None
        except Exception as exc:  # the next committed load tries again
            message = f"{type(exc).__name__}: {exc}"
            if message != self.follow_error:
                print(f"kundresa collector: live state behind: {message}", file=sys.stderr)
            self.follow_error = message

    def finish_follower(self) -> None:
        """Wait for the follower, if it runs (before the write connection is closed)."""
        thread = self._follower
        if thread is not None and thread.ident is not None:
            thread.join()
        with self.beside:  # one that decided to end holds it until it has: wait for that
            pass

    @property
    def rewriting(self) -> bool:
        """Whether a rewrite of the store runs beside the loads (module docstring)."""
        return self._rewritten_by is not None and self._rewritten_by.rewriting

    def _rewrite(self, writer: Warehouse, fraction: float) -> bool:
        """After a load: start rewriting the store beside the loads when its tail holds more
        than ``fraction`` of the rows and no rewrite runs (with ``release``; without, the
        rewrite runs here, after the load has committed). Returns whether one started."""
        self._rewrite_ended()
        if self.rewriting or not self._keeping:
            return False  # one runs; or the connection is closed after this cycle: the next
        tail, total = tail_rows(writer.con)
        if tail <= fraction * total:
            return False
        # On one DuckDB thread as the loads (one_thread), until the loader sees it ended.
        _hold_one_thread(writer.con)
        self._rewritten_by = writer
        writer.start_rewrite(fraction)
        if self.release is None:
            writer.finish_rewrite()  # the connection is closed after the cycle
            self._rewrite_ended()
        return True

    def settle(self, *, wait: bool = True) -> bool:
        """Bring the journey-ordered store's tail under
        :data:`~kundresa.store.layout.TAIL_FRACTION` if a load has committed since the last
        time, with the loader's write connection: with ``wait``, in a transaction of its own
        here (:meth:`Warehouse.settle <kundresa.store.warehouse.Warehouse.settle>`, after a
        rewrite running beside the loads); without, beside the loads (:meth:`Warehouse.
        start_rewrite <kundresa.store.warehouse.Warehouse.start_rewrite>`; the loader's idle
        cycle). Returns whether the table was rewritten (without ``wait``: whether a rewrite
        was started).

        Raises
        ------
        IngestError
            When the warehouse cannot be opened for writing or DuckDB fails; the store is
            unchanged and the next call tries again.
        """
        with self._cycle:
            if not self.unsettled or (not wait and self.rewriting):
                return False
            with self._writer() as writer:
                rewritten = writer.settle() if wait else self._rewrite(writer, TAIL_FRACTION)
            self.unsettled = False
            return rewritten

    def release_writer(self, *, stop_rewrite: bool = False) -> None:
        """Let go of a write connection kept open (``release``), if one is — not while a
        rewrite runs beside the loads, unless ``stop_rewrite`` (it is then rolled back)."""
        with self._cycle:
            if self.rewriting and not stop_rewrite:
                return
            self.finish_follower()
            if self.release is not None and self._held_since is not None:
                self.release()
                self._let_go()
            self._rewrite_ended()

    def _rewrite_ended(self) -> None:
        """Once a rewrite beside the loads has ended: DuckDB's threads as before, and its
        failure reported (the next idle cycle tries again)."""
        wh = self._rewritten_by
        if wh is None or wh.rewriting:
            return
        self._rewritten_by = None
        _let_go_one_thread(wh.con)
        error = wh.rewrite_error
        if error is not None and not isinstance(error, duckdb.InterruptException):
            self.unsettled = True
            self._report(f"{type(error).__name__}: {error}", "store not put in order")

    @staticmethod
    def _batches(records: list[LogRecord]) -> Iterator[Any]:
        # Each record holds the canonical rows of one request, mapped when it arrived.
        source = SegmentSource()
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        line = 0
        for rec in records:
            for row in read_json(rec.payload)[0]:
                line += 1
                rows.append(row)
                lines.append(line)
            if len(rows) >= 50_000:
                yield source.rows_batch(rows, lines)
                rows, lines = [], []
        if rows:
            yield source.rows_batch(rows, lines)

    # -- the background thread ----------------------------------------------------------------

    def start(self) -> None:
        """Run cycles in a thread every :attr:`interval` seconds until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="kundresa-loader", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Ask for a cycle soon (after a batch is logged); cycles stay ``interval`` apart."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            if self._stop.is_set():
                break
            self._wake.clear()
            started = time.monotonic()
            if self.asked():
                # Another process waits for the warehouse: let go of it now (a rewrite
                # beside the loads rolls back; the next idle cycle starts one again), and
                # wait a whole interval before trying to take it again.
                self._release_safely(stop_rewrite=True)
            elif self._cycle_safely() is None:
                # Nothing new (or a failed cycle): other processes may have the warehouse
                # until the next batch. Nothing new a whole interval after letting go of it:
                # the store put in order first (the next cycle with events waits for it).
                if self.last_error is None and self._held_since is None:
                    self._settle_safely()
                self._release_safely()  # not while a rewrite runs: the next idle cycle
            elif not self.rewriting:
                with self._cycle:
                    self._rewrite_ended()
            # At most one cycle per interval: each takes the warehouse's write lock; after
            # letting go of it, a whole interval for other processes to open the file.
            rest = self.interval - (0 if self._released else time.monotonic() - started)
            self._released = False
            if rest > 0:
                self._stop.wait(rest)

    def _cycle_safely(self) -> IngestReport | None:
        """:meth:`load_once`, its error reported (once) instead of raised."""
        try:
            report = self.load_once()
            self.last_error = None
            return report
        except IngestError as exc:  # e.g. another process holds the warehouse: try again
            cause = exc.__cause__
            if isinstance(cause, duckdb.IOException) and "Conflicting lock" in str(cause):
                # A command reading the project (or an ingest): nothing for the server's
                # operator to do, and the command's advice ("stop that process") is not theirs.
                self._report(LOCKED)
            else:
                self._report(str(exc))
        except Exception as exc:  # after_load failed, a disk error: the batches stay logged
            self._report(f"{type(exc).__name__}: {exc}")
        return None

    def _release_safely(self, *, stop_rewrite: bool = False) -> None:
        """:meth:`release_writer`, its error reported (once) instead of raised: e.g. the app
        cannot open the warehouse read-only again at once because the process that asked for
        it opened it for writing; the next cycles try again."""
        try:
            self.release_writer(stop_rewrite=stop_rewrite)
        except Exception as exc:
            what = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
            self._report(what, "warehouse not let go")

    def _settle_safely(self) -> None:
        """:meth:`settle`, its error reported (once) instead of raised."""
        try:
            self.settle(wait=self.release is None)
        except Exception as exc:  # e.g. another process holds the warehouse: try again
            what = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
            self._report(what, "store not put in order")

    def _report(self, message: str, what: str = "load postponed") -> None:
        if message != self.last_error:
            print(f"kundresa collector: {what}: {message}", file=sys.stderr)
        self.last_error = message

    def stop(self) -> None:
        """Stop the thread after one last cycle (what is logged by now is loaded if it can
        be; what is not stays in the log for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._cycle_safely()
        self.release_writer(stop_rewrite=True)
