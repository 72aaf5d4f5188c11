"""The journey-ordered store: ingests keep it ordered and coded, its reader gives the
analyses' event order, and the fast paths reading it give what the portable path gives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pytest
from fastpath_cases import funnel_specs as funnels
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics import _funnel_core as funnel_core
from kundresa.analytics import _ordered
from kundresa.analytics._fast import portable
from kundresa.analytics._ordered import ordered_rows
from kundresa.analytics.funnel import event_funnel, funnel_customers
from kundresa.analytics.paths import directly_follows
from kundresa.project import Project
from kundresa.store import layout
from kundresa.store.warehouse import IngestError, Warehouse

T0 = datetime(2025, 3, 1, 12, 0, 0)

# customer, seconds after T0, event, channel, plan property, event id
row_st = st.tuples(
    st.sampled_from(["p", "q", "r", "s"]),
    st.integers(0, 10).map(lambda m: 3600 * 7 * m),
    st.sampled_from(["v", "c", "b", "x"]),
    st.sampled_from([None, "ads", "email"]),
    st.sampled_from([None, "A", "B"]),
    st.sampled_from(["e1", "e2", None]),
)


def _arrow(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [(T0 + timedelta(seconds=r[1])).isoformat() for r in rows],
            "event": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
            "event_id": [r[5] for r in rows],
            "plan": [r[4] for r in rows],
        }
    )


def _store(chunks: list[list[tuple[Any, ...]]]) -> Warehouse:
    wh = Warehouse(None)
    for rows in chunks:
        wh.ingest_arrow(_arrow(rows))
    return wh


def _stored(wh: Warehouse) -> pd.DataFrame:
    """The events as stored (codes replaced by what they code), in storage order."""
    return wh.con.execute(
        "SELECT e.customer_id, e.timestamp, e.event, e.channel, e.event_id, "
        "c.customer_id AS coded_customer, v.event AS coded_event "
        "FROM events e JOIN customer_codes c ON c.code = e._c "
        "JOIN event_codes v ON v.code = e._e ORDER BY e.customer_id, e.timestamp, e.event, "
        "e.event_id, e.channel"
    ).df()


def _main_in_order(wh: Warehouse) -> bool:
    done = layout.ordered_ingest(wh.con)
    wh.con.execute("SET preserve_insertion_order = true")
    rows = wh.con.execute(
        f"SELECT _c, timestamp, event, event_id FROM events WHERE _ingest <= {done}"
    ).fetchall()
    wh.con.execute("SET preserve_insertion_order = false")
    key = [(c, t, e, "\uffff" if i is None else i) for c, t, e, i in rows]
    return key == sorted(key)


def test_many_rows_are_stored_in_the_store_order_on_parallel_threads() -> None:
    """An ingest and a reorganisation put more rows than one DuckDB thread scans in the
    store order, on two threads and with ``preserve_insertion_order`` off (as the warehouse
    runs): the order comes from the INSERT's own ORDER BY, not from switching that setting,
    which is the database's and would be switched under readers on other connections."""
    rng = np.random.default_rng(7)
    n = 300_000
    table = pa.table(
        {
            "customer_id": [f"c{i}" for i in rng.integers(0, 20_000, n)],
            "timestamp": pa.array(
                (rng.integers(0, 86_400 * 30, n) * 1_000_000 + 1_735_689_600_000_000),
                pa.timestamp("us"),
            ),
            "event": [f"e{i}" for i in rng.integers(0, 7, n)],
        }
    )
    wh = Warehouse(None)
    wh.con.execute("SET threads = 2")
    wh.ingest_arrow(table.slice(0, 280_000))
    wh.ingest_arrow(table.slice(280_000))  # a tail: later customers' rows come between
    assert wh.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (
        False,
    )
    assert wh.layout()["tail_rows"] > 0
    assert _main_in_order(wh)
    wh.reorganise()
    assert wh.layout()["tail_rows"] == 0
    assert _main_in_order(wh)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(row_st, max_size=12), min_size=1, max_size=5))
def test_ingests_in_chunks_give_the_store_of_one_ingest(
    chunks: list[list[tuple[Any, ...]]],
) -> None:
    # Duplicates across chunks (the same row twice) and bad rows (no customer) included.
    chunks = [c + c[:2] + [("", 0, "v", None, None, None)] for c in chunks]
    one = _store([[r for c in chunks for r in c]])
    many = _store(chunks)
    a, b = _stored(one), _stored(many)
    pdt.assert_frame_equal(a, b)
    assert (b.customer_id == b.coded_customer).all() and (b.event == b.coded_event).all()
    assert one.quarantine_count() >= 1 and many.quarantine_count() >= 1
    for wh in (one, many):
        lay = wh.layout()
        assert lay["ordered_rows"] + lay["tail_rows"] == wh.event_count()
        assert lay["customer_codes"] == a.customer_id.nunique()
        assert lay["event_codes"] == a.event.nunique()
        assert lay["tail_rows"] <= layout.TAIL_FRACTION * wh.event_count()
        assert _main_in_order(wh)


def test_a_failed_ingest_leaves_the_store_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    wh = _store([[("p", 0, "v", None, None, None), ("q", 60, "c", None, None, None)]])
    before = (_stored(wh), wh.layout(), wh.con.execute("SELECT * FROM meta ORDER BY 1").fetchall())

    def broken(con: Any, ingest_id: int, fraction: float = layout.TAIL_FRACTION) -> bool:
        layout.reorganise(con, ingest_id)
        raise duckdb.ConversionException("disk full")

    monkeypatch.setattr(layout, "settle", broken)
    with pytest.raises(IngestError, match="warehouse unchanged"):
        wh.ingest_arrow(_arrow([("r", 0, "b", None, None, None)] * 3))
    after = (_stored(wh), wh.layout(), wh.con.execute("SELECT * FROM meta ORDER BY 1").fetchall())
    pdt.assert_frame_equal(before[0], after[0])
    assert before[1:] == after[1:]
    assert wh.con.execute("SELECT count(*) FROM customer_codes").fetchone() == (2,)


def test_reader_merges_the_tail_and_reports_the_layout() -> None:
    rows = [(f"c{i % 7}", 60 * i, "vcb"[i % 3], None, None, None) for i in range(200)]
    wh = _store([rows])
    wh.ingest_arrow(_arrow([("c3", 59, "x", None, None, None), ("new", 5, "v", None, None, None)]))
    lay = wh.layout()
    assert (lay["ordered_rows"], lay["tail_rows"], lay["customer_codes"]) == (200, 2, 8)
    events = Project(None, None, wh).events
    got = ordered_rows(events.mutate(n=events.event.length()), ["customer_id", "event", "n"])
    assert got is not None
    frame = got.data.to_pandas()
    assert frame.customer_id.tolist() == np.asarray(got.customers)[got.row_customer].tolist()
    assert got.customers.to_pylist() == [*(f"c{i}" for i in range(7)), "new"]
    for _, part in frame.groupby("customer_id"):
        assert part._us.is_monotonic_increasing
    assert len(frame) == 202 and (frame.n == 1).all()
    # Not a row-wise view of the store: a window, or another input.
    w = events.mutate(k=events.event.count().over(group_by=events.customer_id))
    assert ordered_rows(w, ["k"]) is None
    assert ordered_rows(Project.from_events(_arrow(rows).to_pandas()).events, []) is not None
    assert wh.reorganise()["tail_rows"] == 0


def test_an_older_warehouse_reads_on_the_grouping_path(monkeypatch: pytest.MonkeyPatch) -> None:
    wh = _store([[("p", 0, "v", None, None, None), ("p", 60, "c", None, None, None)]])
    wh.con.execute("DELETE FROM meta WHERE key = 'store_ordered_ingest'")
    assert wh.layout()["current"] is False
    assert ordered_rows(Project(None, None, wh).events, []) is None
    out = funnel_customers(Project(None, None, wh).events, ["v", "c"]).to_pandas()
    assert out.level.tolist() == [2]
    assert wh.reorganise()["current"] is True


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each read of the store's readers (rows or codes) gave rows."""
    seen: list[bool] = []
    for name in ("ordered_rows", "ordered_codes"):
        real = getattr(_ordered, name)

        def spy(*args: Any, real: Any = real, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            seen.append(out is not None)
            return out

        monkeypatch.setattr(_ordered, name, spy)
    return seen


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(row_st, max_size=15), min_size=1, max_size=3), funnels())
def test_funnel_over_the_store_equals_portable(
    chunks: list[list[tuple[Any, ...]]], f: dict[str, Any]
) -> None:
    _check_store_funnel(chunks, f)


@settings(max_examples=10, deadline=None)
@given(
    st.lists(st.lists(row_st, max_size=15), min_size=1, max_size=3),
    funnels(orders=("any",)),
)
def test_any_order_funnel_over_the_store_equals_portable(
    chunks: list[list[tuple[Any, ...]]], f: dict[str, Any]
) -> None:
    _check_store_funnel(chunks, f)


def test_the_funnel_counts_need_no_customer_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [(f"c{i % 5}", 600 * i, "vcxb"[i % 4], None, None, None) for i in range(60)]
    events = Project(None, None, _store([rows[:50], rows[50:]])).events
    looked_up: list[int] = []
    real = _ordered.customer_ids

    def spy(con: Any, codes: Any) -> Any:
        looked_up.append(len(codes))
        return real(con, codes)

    monkeypatch.setattr(_ordered, "customer_ids", spy)
    seen = _counting_reads(monkeypatch)
    counts = event_funnel(events, ["v", "c", "b"], window="1d")["count"].tolist()
    assert (seen, looked_up) == ([True], [])  # the integer read, no ids
    listed = funnel_customers(events, ["v", "c", "b"], window="1d").to_pandas()
    assert looked_up == [5]
    assert sorted(listed.customer_id) == [f"c{i}" for i in range(5)]
    with portable():
        assert event_funnel(events, ["v", "c", "b"], window="1d")["count"].tolist() == counts


def _check_store_funnel(chunks: list[list[tuple[Any, ...]]], f: dict[str, Any]) -> None:
    _fast_equals_portable(_store(chunks), f, threads=True)


def _fast_equals_portable(wh: Any, f: dict[str, Any], *, threads: bool = False) -> pd.DataFrame:
    """The funnel ``f`` over the store of ``wh`` on the fast path (which reads the store)
    equals the portable path's; returns the portable event funnel. With ``threads``, several
    threads over chunks of a few rows: customers at the chunks' edges."""
    events = Project(None, None, wh).events
    with pytest.MonkeyPatch.context() as mp:
        seen = _counting_reads(mp)
        if threads:
            mp.setattr(funnel_core, "_CHUNK_ROWS", 1)
            mp.setattr(funnel_core, "_kernel_threads", lambda: 3)
        fast = funnel_customers(events, **f).to_pandas()
        fast_f = event_funnel(events, **f)
    with portable():
        slow = funnel_customers(events, **f).to_pandas()
        slow_f = event_funnel(events, **f)
    pdt.assert_frame_equal(_sorted(fast), _sorted(slow))
    pdt.assert_frame_equal(fast_f, slow_f)
    assert seen  # the store's reader was asked
    return slow_f


def test_the_funnel_reads_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [(f"c{i % 5}", 600 * i, "vcb"[i % 3], None, None, None) for i in range(60)]
    wh = _store([rows[:50], rows[50:]])
    seen = _counting_reads(monkeypatch)
    events = Project(None, None, wh).events
    fast = funnel_customers(events, ["v", "c", "b"], window="1d").to_pandas()
    assert seen == [True]
    with portable():
        slow = funnel_customers(events, ["v", "c", "b"], window="1d").to_pandas()
    pdt.assert_frame_equal(_sorted(fast), _sorted(slow))


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.lists(row_st, max_size=15), min_size=1, max_size=3),
    st.sampled_from(["event", "channel"]),
    st.sampled_from([None, "3h"]),
    st.sampled_from([(None, None), ("2025-03-02", None)]),
)
def test_directly_follows_over_the_store_equals_portable(
    chunks: list[list[tuple[Any, ...]]], level: str, gap: str | None, span: tuple[Any, Any]
) -> None:
    # Rows at one instant with one event name are ordered by the event id in both paths.
    chunks = [[r for r in c if r[5] is not None] for c in chunks]
    wh = _store(chunks)
    events = Project(None, None, wh).events
    with pytest.MonkeyPatch.context() as mp:
        seen = _counting_reads(mp)
        fast = directly_follows(events, level=level, session_gap=gap, since=span[0], until=span[1])
    with portable():
        slow = directly_follows(events, level=level, session_gap=gap, since=span[0], until=span[1])
    if slow.empty:
        assert fast.empty
        return
    pdt.assert_frame_equal(fast, slow)
    assert seen


def test_info_and_reorganise_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kundresa.cli import main

    (tmp_path / "e.csv").write_text(
        "customer_id,timestamp,event\na,2025-01-01 10:00,visit\nb,2025-01-01 11:00,visit\n"
        "a,2025-01-02 10:00,buy\n"
    )
    runner = CliRunner()
    at = ["--project", str(tmp_path)]
    assert runner.invoke(main, ["ingest", str(tmp_path / "e.csv"), *at]).exit_code == 0
    text = runner.invoke(main, ["info", *at]).output
    assert "store: journey-ordered, 3 rows in order + 0 in the tail; codes for 2 customers" in text
    data = json.loads(runner.invoke(main, ["info", "--format", "json", *at]).output)
    assert data["layout"]["ordered_rows"] == 3 and data["layout"]["event_codes"] == 2
    # A warehouse as an older version left it: info says so, reorganise brings it in order.
    wh = Warehouse(tmp_path / ".kundresa" / "warehouse.duckdb")
    wh.con.execute("DELETE FROM meta WHERE key = 'store_ordered_ingest'")
    wh.con.execute("UPDATE events SET _c = NULL, _e = NULL")
    wh.close()
    assert "not yet journey-ordered" in runner.invoke(main, ["info", *at]).output
    out = runner.invoke(main, ["reorganise", *at])
    assert out.exit_code == 0 and "3 events in journey order" in out.output
    assert "3 rows in order + 0 in the tail" in runner.invoke(main, ["info", *at]).output


def test_the_funnel_reads_the_store_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        (f"c{i % 9}", 600 * (i * 7 % 50), "vcbx"[i % 4], None, None, f"e{i}") for i in range(120)
    ]
    wh = _store([rows[:100], rows[100:]])
    events = Project(None, None, wh).events
    with portable():
        slow = funnel_customers(events, ["v", "c", "b"], window="1d", exclusions=[("x", 1, 2)])
        slow_df = slow.to_pandas()
    seen = _counting_reads(monkeypatch)
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "30")  # four parts, by customer
    fast = funnel_customers(events, ["v", "c", "b"], window="1d", exclusions=[("x", 1, 2)])
    assert seen == [True] * 4
    pdt.assert_frame_equal(_sorted(fast.to_pandas()), _sorted(slow_df))


def _store_with_a_long_tail(chunks: list[list[tuple[Any, ...]]]) -> Warehouse:
    """:func:`_store`, ingests after the first never rewriting the table: a tail of several
    ingests as long as the main part or longer (the live collector's loads let it grow to
    :data:`layout.LOAD_TAIL_FRACTION`)."""
    real = layout.settle
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(layout, "settle", lambda con, ingest_id, fraction=0.1: real(con, ingest_id, 1))
        return _store(chunks)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(row_st, min_size=1, max_size=12), min_size=2, max_size=4), funnels())
def test_fast_paths_over_a_long_tail_equal_portable_and_settle_equals_one_ingest(
    chunks: list[list[tuple[Any, ...]]], f: dict[str, Any]
) -> None:
    wh = _store_with_a_long_tail(chunks)
    slow_f = _fast_equals_portable(wh, f)
    lay = wh.layout()
    over = lay["tail_rows"] > layout.TAIL_FRACTION * wh.event_count()
    assert wh.settle() is over  # rewritten only when the tail is over a tenth
    lay = wh.layout()
    assert lay["tail_rows"] <= layout.TAIL_FRACTION * wh.event_count() and _main_in_order(wh)
    pdt.assert_frame_equal(_stored(wh), _stored(_store([[r for c in chunks for r in c]])))
    assert not wh.settle()
    pdt.assert_frame_equal(event_funnel(Project(None, None, wh).events, **f), slow_f)


def _appending_only() -> Any:
    """Ingests that only append (as the collector's loads: ``settle`` with ``fraction=None``),
    so that they can run beside :func:`layout.rewrite_beside_loads`."""
    real = layout.settle
    mp = pytest.MonkeyPatch()
    mp.setattr(layout, "settle", lambda con, ingest_id, fraction=0.1: real(con, ingest_id, None))
    return mp


def _storage_ingests(wh: Warehouse) -> list[int]:
    wh.con.execute("SET preserve_insertion_order = true")
    ingests = [r[0] for r in wh.con.execute("SELECT _ingest FROM events").fetchall()]
    wh.con.execute("SET preserve_insertion_order = false")
    return ingests


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.lists(row_st, min_size=1, max_size=12), min_size=3, max_size=5),
    st.integers(1, 2),
    funnels(),
)
def test_a_rewrite_beside_appending_ingests_leaves_a_store_the_fast_paths_read_exactly(
    chunks: list[list[tuple[Any, ...]]], during: int, f: dict[str, Any]
) -> None:
    """The state a rewrite beside the collector's loads leaves: the ingests committed while it
    ran are stored in front of the rows it rewrote, and are the tail; the main part is the
    rewritten rows, in the store order; the analyses read it as the portable path does."""
    before, meanwhile = chunks[:-during], chunks[-during:]
    wh = _store_with_a_long_tail(before)
    seen = wh.event_count()
    last = wh.next_ingest_id() - 1
    tail = wh.layout()["tail_rows"]

    def append() -> None:
        mp = _appending_only()
        try:
            for rows in meanwhile:
                wh.ingest_arrow(_arrow(rows))
        finally:
            mp.undo()

    cursor = wh.con.cursor()
    rewritten = layout.rewrite_beside_loads(cursor, 0.0, before_commit=append)
    cursor.close()
    if not tail:  # nothing to rewrite (every later row a duplicate): nothing happened
        assert rewritten is None
        return
    assert rewritten == seen
    lay = wh.layout()
    assert lay["ordered_through_ingest"] == last
    assert (lay["ordered_rows"], lay["tail_rows"]) == (seen, wh.event_count() - seen)
    order = _storage_ingests(wh)
    assert order == sorted(order, key=lambda i: i <= last)  # the appended rows in front
    assert _main_in_order(wh)
    _fast_equals_portable(wh, f)
    pdt.assert_frame_equal(_stored(wh), _stored(_store([[r for c in chunks for r in c]])))


def test_a_failed_rewrite_beside_the_loads_leaves_the_store_as_it_was() -> None:
    rows = [(f"c{i % 5}", 60 * (50 - i), "vcb"[i % 3], None, None, f"e{i}") for i in range(40)]
    wh = _store_with_a_long_tail([rows[:10], rows[10:]])
    before = (_storage_ingests(wh), wh.layout(), wh.con.execute("SELECT * FROM meta").fetchall())

    def broken() -> None:
        raise duckdb.IOException("disk full")

    cursor = wh.con.cursor()
    with pytest.raises(duckdb.IOException):
        layout.rewrite_beside_loads(cursor, 0.1, before_commit=broken)
    after = (_storage_ingests(wh), wh.layout(), wh.con.execute("SELECT * FROM meta").fetchall())
    assert before == after and before[1]["tail_rows"] == 30
    assert wh.start_rewrite(0.1) and wh.finish_rewrite() == 40  # the same, run by the warehouse
    assert wh.layout()["tail_rows"] == 0 and _main_in_order(wh)


def test_a_rewrite_killed_mid_way_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """kill -9 while a rewrite beside the loads has deleted and rewritten the rows, before
    its COMMIT: the store opens as it was."""
    path = tmp_path / "w.duckdb"
    rows = [(f"c{i % 5}", 60 * (50 - i), "vcb"[i % 3], None, None, f"e{i}") for i in range(40)]
    wh = Warehouse(path)
    mp = _appending_only()
    try:
        for part in (rows[:10], rows[10:]):
            wh.ingest_arrow(_arrow(part))
    finally:
        mp.undo()
    before = (_storage_ingests(wh), wh.layout())
    wh.close()
    marker = tmp_path / "inside"
    code = (
        "import time, pathlib\n"
        "from kundresa.store import layout\n"
        "from kundresa.store.warehouse import Warehouse\n"
        f"wh = Warehouse({str(path)!r})\n"
        "def hang():\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "    time.sleep(600)\n"
        "layout.rewrite_beside_loads(wh.con.cursor(), 0.1, before_commit=hang)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(1200):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the rewrite did not get to its commit"
    finally:
        proc.kill()
        proc.wait(60)
    again = Warehouse(path)
    assert (_storage_ingests(again), again.layout()) == before
    assert before[1]["tail_rows"] == 30
    again.close()
