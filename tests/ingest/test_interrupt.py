"""An ingest interrupted midway (Ctrl-C or a killed process) leaves the warehouse as it was."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kundresa.store.warehouse import Warehouse

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from kundresa.store.warehouse import Warehouse
    wh = Warehouse(sys.argv[1])
    calls = []
    def progress(name, done, total):
        calls.append(done)
        if len(calls) == 2:
            print("midway", flush=True)
        if len(calls) >= 2:
            # Slow down so the interrupt lands inside the transaction. (Reading runs in
            # pyarrow's threads; the main thread takes the signal between calls.)
            time.sleep(0.5)
    wh.ingest([sys.argv[2]], progress=progress)
    print("finished", flush=True)
    """
)


def _big_csv(path: Path, rows: int) -> None:
    with path.open("w") as fh:
        fh.write("customer_id,timestamp,event,path\n")
        for i in range(rows):
            fh.write(f"c{i % 5000},2025-01-01 00:{i % 60:02d}:{i % 59:02d},view,/p{i}\n")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_interrupted_ingest_leaves_warehouse_unchanged(tmp_path: Path, sig: int) -> None:
    db = tmp_path / "warehouse.duckdb"
    first = tmp_path / "first.csv"
    first.write_text("customer_id,timestamp,event\na,2025-01-01,x\nb,2025-01-02,y\n")
    wh = Warehouse(db)
    wh.ingest([first])
    before = wh.con.sql("SELECT * FROM events ORDER BY ALL").fetchall()
    log_before = wh.ingest_log()
    wh.close()

    big = tmp_path / "big.csv"
    _big_csv(big, 400_000)  # ~12 MB: several 8 MB read blocks, so progress fires twice
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(db), str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    line = proc.stdout.readline()
    assert line.strip() == "midway", proc.stderr.read() if proc.stderr else ""
    assert time.monotonic() < deadline
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in stderr

    wh = Warehouse(db)
    assert wh.con.sql("SELECT * FROM events ORDER BY ALL").fetchall() == before
    assert wh.ingest_log() == log_before
    assert wh.quarantine_count() == 0
    # And the same file then loads completely.
    assert wh.ingest([big]).loaded == 400_000
    wh.close()


def test_a_ctrl_c_swallowed_inside_a_write_rolls_it_back(tmp_path: Path) -> None:
    """A ``KeyboardInterrupt`` caught by a library inside the write (as DuckDB's client does
    in its own imports of pandas and pyarrow.dataset) still stops the write before it
    commits: the CSV ingest of the test above once ran on and exited 0."""
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    first = tmp_path / "first.csv"
    first.write_text("customer_id,timestamp,event\na,2025-01-01,x\nb,2025-01-02,y\n")
    wh.ingest([first])
    before = wh.con.sql("SELECT * FROM events ORDER BY ALL").fetchall()
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), wh.writing_events() as con:
        con.execute("DELETE FROM events")
        with contextlib.suppress(KeyboardInterrupt):  # swallowed
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is handler
    assert wh.con.sql("SELECT * FROM events ORDER BY ALL").fetchall() == before
    # Without a Ctrl-C the same write commits.
    with wh.writing_events() as con:
        con.execute("DELETE FROM events")
    assert wh.event_count() == 0
    wh.close()


def test_a_sigint_handler_of_another_meaning_is_not_watched() -> None:
    """A server's own SIGINT handler (uvicorn's graceful shutdown) is left its meaning: a
    write under it is not rolled back by a Ctrl-C that handler takes."""
    from kundresa._interrupts import watching

    calls: list[int] = []

    def shutdown(signum: int, frame: object) -> None:
        calls.append(signum)

    before = signal.signal(signal.SIGINT, shutdown)
    try:
        with watching() as outer, watching() as inner:
            signal.raise_signal(signal.SIGINT)
        assert calls == [signal.SIGINT] and not outer.seen and not inner.seen
        assert signal.getsignal(signal.SIGINT) is shutdown
    finally:
        signal.signal(signal.SIGINT, before)
    with watching() as outer, watching() as inner, contextlib.suppress(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert outer.seen and inner.seen


def test_a_cleaning_handler_chains_to_the_watched_one() -> None:
    """A library's clean-up on Ctrl-C (PySpark cancels its jobs) runs first, then the
    handler that was there: a watch still sees the signal, and Python's still raises."""
    from kundresa._interrupts import chained, watching

    calls: list[str] = []

    def cancel() -> None:
        calls.append("cancel")
        raise RuntimeError("the context is stopped")  # ignored: the signal still goes on

    def cleaned(n: int) -> None:  # the clean-up runs in a thread of its own
        deadline = time.monotonic() + 30
        while calls.count("cancel") < n:
            assert time.monotonic() < deadline
            time.sleep(0.01)

    signal.signal(signal.SIGINT, chained(signal.default_int_handler, cancel))
    with watching() as watch, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    cleaned(1)
    assert watch.seen and calls == ["cancel"]
    shutdown = chained(lambda signum, frame: calls.append("shutdown"), cancel)
    signal.signal(signal.SIGINT, shutdown)
    with watching() as watch:  # another meaning stays unwatched, as above
        signal.raise_signal(signal.SIGINT)
    cleaned(2)
    assert not watch.seen and sorted(calls) == ["cancel", "cancel", "shutdown"]


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_a_spark_session_leaves_ctrl_c_watched() -> None:
    """PySpark's SparkContext puts in its own SIGINT handler, which hid Ctrl-C from the
    command's watch (a Ctrl-C a library swallowed went unnoticed with the Spark engine, and
    tests of Ctrl-C failed on whichever worker had started Spark): its jobs are cancelled,
    then the handler that was there takes the signal."""
    pytest.importorskip("pyspark")
    from pyspark import SparkContext

    from kundresa._interrupts import watching
    from kundresa.store.engines import spark_session

    active = SparkContext._active_spark_context
    if active is not None:  # a new context is what puts in PySpark's handler
        active.stop()
    session = spark_session("local[1]")
    with watching() as watch, contextlib.suppress(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert watch.seen
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert session.range(3).count() == 3  # the session outlives the cancelled jobs


def test_a_ctrl_c_during_the_commit_is_raised_after_it(tmp_path: Path) -> None:
    """Ctrl-C while COMMIT runs: held until it returns, then raised, the write standing and
    counted (never a ROLLBACK after a COMMIT, which failed with "no transaction is active"
    and reported a stored write as rolled back)."""
    from kundresa._interrupts import Watch

    wh = Warehouse(tmp_path / "warehouse.duckdb")
    first = tmp_path / "first.csv"
    first.write_text("customer_id,timestamp,event\na,2025-01-01,x\nb,2025-01-02,y\n")
    wh.ingest([first])
    con = wh.con

    class SignalAtCommit:
        def __getattr__(self, name: str) -> object:
            return getattr(con, name)

        def execute(self, sql: str, *args: object) -> object:
            done = con.execute(sql, *args)
            if sql == "COMMIT":
                signal.raise_signal(signal.SIGINT)
            return done

    wh.con = SignalAtCommit()  # type: ignore[assignment]
    since = Watch()
    with pytest.raises(KeyboardInterrupt), wh.writing_events() as c:
        c.execute("DELETE FROM events WHERE customer_id = 'a'")
    assert since.wrote
    # The kept tagged events' own transaction (and every other) does the same.
    since = Watch()
    with pytest.raises(KeyboardInterrupt):
        wh.store_tagged("SELECT 1 AS x", "rules-1")
    wh.con = con
    assert since.wrote and wh.stored_tagged("rules-1") is not None
    assert wh.event_count() == 1  # the write stands
    wh.close()


def test_an_abandoned_transaction_rolls_back_and_counts_no_write(tmp_path: Path) -> None:
    """A body that finds nothing to write (the layout's merge with a short tail) ends its
    transaction with ROLLBACK: nothing stored, no write counted; a Ctrl-C seen meanwhile is
    still raised."""
    import duckdb

    from kundresa._interrupts import transaction

    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("CREATE TABLE t (x INTEGER)")
    with transaction(con) as interrupts:
        con.execute("INSERT INTO t VALUES (1)")
        interrupts.abandon()
    assert not interrupts.wrote and con.sql("SELECT count(*) FROM t").fetchone() == (0,)
    with pytest.raises(KeyboardInterrupt), transaction(con) as interrupts:
        con.execute("INSERT INTO t VALUES (2)")
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        interrupts.abandon()
    with transaction(con) as interrupts:
        con.execute("INSERT INTO t VALUES (3)")
    assert interrupts.wrote and con.sql("SELECT * FROM t").fetchall() == [(3,)]


def test_writes_to_a_warehouse_in_memory_are_not_counted_as_stored(tmp_path: Path) -> None:
    """``kundresa funnel --events FILE`` interrupted said "interrupted after changes were
    stored": the file's view in an in-memory warehouse counted as a stored write. Only a
    warehouse on disk counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kundresa._interrupts import watching
    from kundresa.project import Project

    csv = tmp_path / "first.csv"
    csv.write_text("customer_id,timestamp,event\na,2025-01-01,x\nb,2025-01-02,y\n")
    parquet = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": ["a", "b"],
                "timestamp": pa.array(
                    [1_700_000_000_000_000, 1_700_000_100_000_000], pa.timestamp("us")
                ),
                "event": ["x", "y"],
                "event_id": ["e1", "e2"],
            }
        ),
        parquet,
    )
    with watching() as watch:
        memory = Warehouse(None)
        memory.ingest([csv])
        with Project.from_events(parquet, in_place=True) as project:
            assert project.warehouse.in_place is not None  # the view, in memory
            with project.warehouse.writing_events() as con:  # own_events, then a write
                con.execute("DELETE FROM events WHERE customer_id = 'a'")
    assert memory.event_count() == 2 and not watch.wrote
    with watching() as watch:
        Warehouse(tmp_path / "warehouse.duckdb").ingest([csv])
    assert watch.wrote


def test_a_transaction_whose_connection_closed_raises_what_ended_it() -> None:
    """A Ctrl-C that closed the connection before the transaction's generator was closed (a
    second Ctrl-C during an ingest, 2 of ~25 runs) printed "Exception ignored ... ROLLBACK
    ... Connection already closed" after the command's line: the ROLLBACK's own failure no
    longer hides what ended the body."""
    import duckdb

    from kundresa._interrupts import transaction

    con = duckdb.connect()
    with pytest.raises(KeyboardInterrupt), transaction(con):
        con.close()
        raise KeyboardInterrupt
