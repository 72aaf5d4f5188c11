"""A canonical Parquet file read in place gives exactly the warehouse an ingest would make."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.project import Project
from kundresa.store import in_place
from kundresa.store._decoded import decoded_file
from kundresa.store.in_place import read_in_place
from kundresa.store.warehouse import Warehouse

T0 = datetime(2025, 3, 1, 12, 0, 0)

# Texts the ingest keeps, trims, or treats as no value: spaces, tabs, no-break spaces,
# placeholders (null, 0…), empty strings, non-ASCII letters.
text_st = st.sampled_from(
    [
        "a",
        "b",
        "kö",
        "id-1",
        " a",
        "a ",
        "a\t",
        "\ta",
        "a\u00a0",
        "\u2003b",
        "",
        "null",
        "NULL",
        "0",
        " none ",
        "undefined\t",
        "x y",
        "\u00e9t\u00e9",
    ]
)
value_st = st.sampled_from([None, 0.0, -0.0, 0.1, 1e300, 2.5, float("nan"), float("inf")])
row_st = st.tuples(
    text_st,
    st.integers(0, 5).map(lambda m: T0 + timedelta(seconds=3600 * m)),
    st.sampled_from(["view", "buy", " buy", "", "köp"]),
    st.none() | text_st,
    value_st,
    st.none() | st.sampled_from(["e1", "e2", "e3", " e1", ""]),
    st.none() | text_st,
)


def _write(folder: Path, rows: list[tuple[Any, ...]], unit: str, drop: tuple[str, ...]) -> Path:
    names = ["customer_id", "timestamp", "event", "channel", "value", "event_id", "session_id"]
    types = [
        pa.string(),
        pa.timestamp(unit),
        pa.string(),
        pa.string(),
        pa.float64(),
        pa.string(),
        pa.string(),
    ]
    table = pa.table(
        {
            n: pa.array([r[i] for r in rows], t)
            for i, (n, t) in enumerate(zip(names, types, strict=True))
        }
    )
    table = table.drop_columns(list(drop))
    path = folder / "events.parquet"
    pq.write_table(table, path)
    return path


def _events(project: Project) -> pd.DataFrame:
    df = project.warehouse.con.execute(
        "SELECT customer_id, timestamp, event, channel, value, signbit(value) AS negative, "
        "event_id, session_id, "
        "CAST(properties AS VARCHAR) AS properties, CAST(_key AS VARCHAR) AS _key, _ingest, "
        "anonymous_id FROM events"
    ).df()
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def _same(path: Path) -> bool:
    """Compare the in-place project with the ingested one; True when read in place."""
    copied = Project.from_events(path)
    placed = Project.from_events(path, in_place=True)
    try:
        # Read in place: decoded by Arrow unless the file has more rows than it decodes.
        decoded = decoded_file(placed.warehouse.con)
        assert (decoded is not None) == (
            placed.warehouse.in_place is not None and in_place._DECODE_ROWS > 0
        )
        pdt.assert_frame_equal(_events(placed), _events(copied))
        assert placed.warehouse.quarantine_count() == 0 or placed.warehouse.in_place is None
        assert placed.warehouse.quarantined() == copied.warehouse.quarantined()
        a, b = placed.warehouse.summary(), copied.warehouse.summary()
        for s in (a, b):
            assert s["last_ingest"] is not None
            s["last_ingest"].pop("finished")
        # The layout says how the rows are kept: the file itself, or the ordered store.
        assert a.pop("layout")["read_in_place"] == placed.warehouse.in_place
        assert b.pop("layout")["read_in_place"] is None
        assert a == b
        return placed.warehouse.in_place is not None
    finally:
        copied.close()
        placed.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(row_st, min_size=1, max_size=12),
    st.sampled_from(["s", "ms", "us"]),
    st.sampled_from([(), ("channel", "value"), ("event_id",), ("session_id", "event_id")]),
    st.booleans(),
)
def test_in_place_equals_ingest(
    tmp_path: Path, rows: list[tuple[Any, ...]], unit: str, drop: tuple[str, ...], decode: bool
) -> None:
    # Both checks: customer ids, names and times decoded by Arrow (tested on the file's
    # dictionaries), or every column scanned by DuckDB (files too big to decode).
    with pytest.MonkeyPatch.context() as mp:
        if not decode:
            mp.setattr(in_place, "_DECODE_ROWS", 0)
        _same(_write(tmp_path, rows, unit, drop))


def _dictionary_file(folder: Path, ids: list[str], used: list[int], times: list[datetime]) -> Path:
    """A file whose customer ids are written as the Parquet dictionary ``ids`` (values no
    row uses included), rows ``used`` (indices into it) at ``times``."""
    table = pa.table(
        {
            "customer_id": pa.DictionaryArray.from_arrays(pa.array(used, pa.int32()), ids),
            "timestamp": pa.array(times, pa.timestamp("us")),
            "event": ["view"] * len(used),
            "event_id": [f"e{i}" for i in range(len(used))],
        }
    )
    path = folder / "events.parquet"
    # Without the Arrow schema: a reader sees plain strings, as in any other writer's file.
    pq.write_table(table, path, store_schema=False)
    return path


@pytest.mark.parametrize("decode", [True, False])
def test_dictionary_values_no_row_has_do_not_count(tmp_path: Path, decode: bool) -> None:
    # A Parquet dictionary may hold values no row has: the decoded check tests dictionary
    # values, and a failing value refuses the file only if a row has it.
    times = [T0, T0 + timedelta(hours=1)]
    with pytest.MonkeyPatch.context() as mp:
        if not decode:
            mp.setattr(in_place, "_DECODE_ROWS", 0)
        for ids in (["a", "null", "b"], ["a", " b ", "b"], ["a", "", "b"]):
            assert _same(_dictionary_file(tmp_path, ids, [0, 2], times)), ids
            assert not _same(_dictionary_file(tmp_path, ids, [0, 1], times)), ids
        # Times outside the years 1900-2099 (the decoded check reads their minimum and
        # maximum): quarantined by the ingest.
        for far in (datetime(1899, 12, 31, 23, 59, 59), datetime(2100, 1, 1)):
            assert not _same(_dictionary_file(tmp_path, ["a", "b"], [0, 1], [T0, far]))
        edge = [datetime(1900, 1, 1), datetime(2099, 12, 31, 23, 59, 59)]
        assert _same(_dictionary_file(tmp_path, ["a", "b"], [0, 1], edge))


def test_clean_file_is_read_in_place_and_dirty_one_is_not(tmp_path: Path) -> None:
    clean = [("a", T0, "view", "ads", 1.5, "e1", None), ("kö", T0, "köp", None, None, "e2", "s")]
    assert _same(_write(tmp_path, clean, "us", ()))
    assert _same(_write(tmp_path, clean, "s", ("event_id",)))
    for bad in (
        ("a ", T0, "view", None, None, "e3", None),  # trimmed by the ingest
        ("null", T0, "view", None, None, "e3", None),  # a placeholder id: quarantined
        ("b", T0, "view", None, None, "e1", None),  # a duplicate event id: dropped
        ("b", T0, "view", None, float("nan"), "e3", None),  # NaN: stored as a missing value
        ("b", T0, "view", "\u00a0ads", None, "e3", None),  # a no-break space trimmed
    ):
        assert not _same(_write(tmp_path, [*clean, bad], "us", ()))


def test_columns_null_by_their_statistics_are_not_read(tmp_path: Path) -> None:
    # session_id null in every row group: its check is left out, the file read in place.
    # One untrimmed session id in the last row group: its statistics say so, the ingest runs.
    rows = [(f"c{i}", T0, "view", None, None, f"e{i}", None) for i in range(9)]
    path = tmp_path / "events.parquet"
    table = _write(tmp_path, rows, "us", ())
    pq.write_table(pq.read_table(table), path, row_group_size=2)
    assert _same(path)
    rows[-1] = ("c8", T0, "view", None, None, "e8", " s")
    pq.write_table(pq.read_table(_write(tmp_path, rows, "us", ())), path, row_group_size=2)
    assert not _same(path)
    # Written without statistics: every column is checked.
    pq.write_table(pq.read_table(_write(tmp_path, rows, "us", ())), path, write_statistics=False)
    assert not _same(path)


def test_other_files_take_the_ingest(tmp_path: Path) -> None:
    wh = Warehouse(None)
    csv = tmp_path / "e.csv"
    csv.write_text("customer_id,timestamp,event\na,2025-01-01,view\n")
    assert read_in_place(wh, csv) is None
    extra = pa.table({"customer_id": ["a"], "timestamp": [T0], "event": ["v"], "plan": ["x"]})
    pq.write_table(extra, tmp_path / "extra.parquet")
    assert read_in_place(wh, tmp_path / "extra.parquet") is None  # properties: ingest
    aliased = pa.table({"user_id": ["a"], "timestamp": [T0], "event": ["v"]})
    pq.write_table(aliased, tmp_path / "aliased.parquet")
    assert read_in_place(wh, tmp_path / "aliased.parquet") is None
    zoned = pa.table(
        {
            "customer_id": ["a"],
            "timestamp": pa.array([T0], pa.timestamp("us", "UTC")),
            "event": ["v"],
        }
    )
    pq.write_table(zoned, tmp_path / "zoned.parquet")
    assert read_in_place(wh, tmp_path / "zoned.parquet") is None
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    assert read_in_place(wh, tmp_path / "broken.parquet") is None


def test_writes_copy_the_rows_first(tmp_path: Path) -> None:
    rows = [("a", T0, "view", None, None, "e1", None), ("b", T0, "buy", None, 2.0, "e2", None)]
    path = _write(tmp_path, rows, "us", ())
    project = Project.from_events(path, in_place=True)
    wh = project.warehouse
    assert wh.in_place == str(path)
    more = tmp_path / "more.csv"
    more.write_text(
        "customer_id,timestamp,event,event_id\nc,2025-03-02,view,e3\na,2025-03-02,view,e1\n"
    )
    report = wh.ingest([more])
    assert (report.loaded, report.duplicates) == (1, 1)
    assert wh.in_place is None and wh.event_count() == 3
    path.unlink()  # the rows now live in the warehouse
    assert wh.forget("b")["events"] == 1
    assert wh.event_count() == 2
    project.close()


def test_forget_on_a_file_read_in_place_orders_the_store(tmp_path: Path) -> None:
    """The first write of a file read in place copies its rows into the journey-ordered store
    (coded, in order), so the fast path reads them there, not as an uncoded tail."""
    rows = [
        ("b", T0, "view", None, None, "e1", None),
        ("a", T0 + timedelta(hours=1), "buy", None, None, "e2", None),
        ("a", T0, "view", None, None, "e3", None),
    ]
    project = Project.from_events(_write(tmp_path, rows, "us", ()), in_place=True)
    wh = project.warehouse
    assert wh.summary()["layout"]["read_in_place"] == wh.in_place
    wh.forget("b")
    lay = wh.summary()["layout"]
    assert lay["read_in_place"] is None and lay["current"]
    assert (lay["ordered_rows"], lay["tail_rows"], lay["customer_codes"]) == (2, 0, 1)
    codes = wh.con.execute("SELECT count(*) FROM events WHERE _c IS NULL OR _e IS NULL")
    assert codes.fetchone() == (0,)
    project.close()


def test_cli_funnel_reads_in_place(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from kundresa.cli import main

    rows = [
        ("a", T0, "view", None, None, "e1", None),
        ("a", T0 + timedelta(hours=1), "buy", None, None, "e2", None),
        ("b", T0, "view", None, None, "e3", None),
    ]
    path = _write(tmp_path, rows, "us", ())
    args = ["funnel", "--events", str(path), "--step", "view", "--step", "buy", "--format", "csv"]
    got = CliRunner().invoke(main, args)
    assert got.exit_code == 0, got.output
    counts = [line.split(",")[2] for line in got.output.splitlines()[1:]]
    assert counts == ["2", "1"]


@pytest.mark.parametrize("unit", ["s", "us"])
def test_funnel_same_in_place(tmp_path: Path, unit: str) -> None:
    rows = [
        (c, T0 + timedelta(minutes=7 * i), e, None, None, f"e{i}", None)
        for i, (c, e) in enumerate([("a", "view"), ("a", "buy"), ("b", "view"), ("c", "buy")])
    ]
    path = _write(tmp_path, rows, unit, ())
    with Project.from_events(path) as copied, Project.from_events(path, in_place=True) as placed:
        assert placed.warehouse.in_place is not None
        kwargs = {"steps": ["view", "buy"], "window": "1d", "order": "any"}
        pdt.assert_frame_equal(
            placed.run("funnel", **kwargs).frame, copied.run("funnel", **kwargs).frame
        )


def test_detection_sees_the_same_sample(tmp_path: Path) -> None:
    from kundresa.ingest.sources import read_sample
    from kundresa.store.in_place import _sample

    rows = [(f"c{i}", T0, "view", None, float(i), f"e{i}", None) for i in range(250)]
    path = _write(tmp_path, rows, "ms", ())
    assert _sample(path) == read_sample(path)


def _add_csv(wh: Warehouse, folder: Path) -> None:
    more = folder / "more.csv"
    more.write_text("customer_id,timestamp,event,event_id\nc,2025-03-02,view,e9\n")
    wh.ingest([more])


WRITES = {
    "ingest": _add_csv,
    "ingest_arrow": lambda wh, _: wh.ingest_arrow(
        pa.table({"customer_id": ["c"], "timestamp": ["2025-03-02"], "event": ["view"]})
    ),
    "forget": lambda wh, _: wh.forget("b"),
    "reorganise": lambda wh, _: wh.reorganise(),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_owns_the_rows_and_orders_the_store(tmp_path: Path, write: str) -> None:
    """Each operation that writes events on a file read in place (through the warehouse's
    one write entry point) ends with the rows copied into the store, coded and in order,
    and no longer reading the file."""
    rows = [
        ("b", T0, "view", None, None, "e1", None),
        ("a", T0 + timedelta(hours=1), "buy", None, None, "e2", None),
        ("a", T0, "view", None, None, "e3", None),
    ]
    path = _write(tmp_path, rows, "us", ())
    with Project.from_events(path, in_place=True) as project:
        wh = project.warehouse
        assert wh.in_place == str(path)
        WRITES[write](wh, tmp_path)
        path.unlink()  # the rows now live in the warehouse
        lay = wh.summary()["layout"]
        assert lay["read_in_place"] is None and lay["current"], lay
        kept = {"a", "b", "c"} - ({"b"} if write == "forget" else set())
        kept -= set() if write.startswith("ingest") else {"c"}
        got = wh.con.execute("SELECT DISTINCT customer_id FROM events").fetchall()
        assert {r[0] for r in got} == kept
        assert lay["ordered_rows"] + lay["tail_rows"] == wh.event_count()
        codes = wh.con.execute("SELECT count(*) FROM events WHERE _c IS NULL OR _e IS NULL")
        assert codes.fetchone() == (0,)
        table = wh.con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'events'"
        ).fetchone()
        assert table == ("BASE TABLE",)


def test_large_strings_are_decoded_alike(tmp_path: Path) -> None:
    # Texts written as Arrow's large strings (64-bit offsets): decoded and checked the same.
    rows = [("a", T0, "view", None, None, "e1", None), ("kö", T0, "köp", None, None, "e2", "s")]
    table = pq.read_table(_write(tmp_path, rows, "us", ()))
    wide = table.cast(
        pa.schema(
            [
                pa.field(f.name, pa.large_string()) if f.type == pa.string() else f
                for f in table.schema
            ]
        )
    )
    path = tmp_path / "wide.parquet"
    pq.write_table(wide, path)
    assert pq.read_schema(path).field("event_id").type == pa.large_string()
    assert _same(path)
    bad = wide.set_column(5, "event_id", pa.array(["e1", "e2 "], pa.large_string()))
    pq.write_table(bad, path)
    assert not _same(path)


def test_decoded_columns_go_with_the_warehouse(tmp_path: Path) -> None:
    rows = [("a", T0, "view", None, None, "e1", None), ("b", T0, "buy", None, None, "e2", None)]
    project = Project.from_events(_write(tmp_path, rows, "us", ()), in_place=True)
    con = project.warehouse.con
    assert decoded_file(con) is not None
    assert project.known_names() == frozenset({"view", "buy"})
    project.close()
    assert decoded_file(con) is None


_WORD = st.sampled_from(["a", "b", "kö", " a", "null", "0", "", "id-1", "ab", "ba"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(_WORD, min_size=1, max_size=5, unique=True), st.lists(st.integers(0, 4))
        ),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_coding_by_hashes_is_arrows_unification(
    chunks: list[tuple[list[str], list[int]]], share: bool
) -> None:
    # Chunks with dictionaries of their own (values repeated across chunks, values no row
    # uses) or one shared dictionary (a row group read in batches): the same values in the
    # same order, the same codes and the same suspects as Arrow's unification and the
    # separate cheap test.
    import threading

    parts = []
    for words, used in chunks:
        words = chunks[0][0] if share else words
        indices = pa.array([u % len(words) for u in used], pa.int32())
        parts.append(pa.DictionaryArray.from_arrays(indices, pa.array(words, pa.string())))
    column = pa.chunked_array(parts)
    loaded = threading.Event()
    loaded.set()
    got = in_place._unified_by_hashes(column, loaded)
    assert got is not None
    (values, codes), suspects = got
    want_values, want_codes = _arrow_unified(column)
    assert values.equals(want_values)
    assert codes.dtype == np.int32 and codes.tolist() == want_codes
    assert suspects.tolist() == in_place._suspects(want_values, "customer_id", loaded).tolist()
    # And the coding of a few values (event names), and Arrow's own for many.
    for few in (in_place._FEW_VALUES, 0):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(in_place, "_FEW_VALUES", few)
            values, codes = in_place._unified(column)
        assert values.equals(want_values)
        assert codes.dtype == np.int32 and codes.tolist() == want_codes


def _arrow_unified(column: pa.ChunkedArray) -> tuple[pa.Array, list[int]]:
    """Arrow's unification of a dictionary column: its values and each row's code."""
    unified = column.unify_dictionaries()
    values = unified.chunk(0).dictionary if unified.num_chunks else pa.array([], pa.string())
    return values, [i for c in unified.chunks for i in c.indices.to_pylist()]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(_WORD, min_size=1, max_size=5, unique=True),
            st.lists(st.integers(0, 4)),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([pa.int8(), pa.int16(), pa.int32(), pa.int64()]),
)
def test_a_few_values_are_coded_as_arrows_unification(
    chunks: list[tuple[list[str], list[int], int]], index_type: pa.DataType
) -> None:
    # Event names: chunks of every index width, sliced (an offset into the indices), with
    # values repeated across chunks and values no row uses.
    parts = []
    for words, used, cut in chunks:
        indices = pa.array([0] * cut + [u % len(words) for u in used], index_type)
        whole = pa.DictionaryArray.from_arrays(indices, pa.array(words, pa.string()))
        parts.append(whole.slice(cut))
    column = pa.chunked_array(parts, pa.dictionary(index_type, pa.string()))
    values, codes = in_place._unified(column)
    want_values, want_codes = _arrow_unified(column)
    assert values.equals(want_values)
    assert codes.dtype == np.int32 and codes.tolist() == want_codes


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.none(), _WORD, st.text(max_size=3)), max_size=8), max_size=4),
    st.integers(1, 3),
)
def test_ids_check_in_two_ranges_is_the_one_thread_check(
    chunks: list[list[str | None]], parts: int
) -> None:
    # The event ids' hashes in row ranges (ranges across chunks, empty ranges): the same
    # answer as the one-thread check, and the same values failing the cheap test.
    import threading

    column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    loaded = threading.Event()
    loaded.set()
    distinct, odd = in_place._hashed(column, loaded)
    if column.null_count:
        return  # the check takes the one-thread path (nulls are never distinct ids)
    check = in_place._IdsCheck(column, parts)
    for q in range(parts):
        check.hash_part(q, loaded)
    check.plan()
    for q in range(parts):
        check.place_part(q)
    assert all([check.distinct_part(q) for q in range(parts)]) == distinct
    assert distinct == (len(set(column.to_pylist())) == len(column))
    assert check.odd_values().to_pylist() == odd.to_pylist()


def test_many_row_groups_are_checked_alike(tmp_path: Path) -> None:
    # Customers spanning row groups, and an event id repeated in another row group: the
    # decoded check, read in two ranges of row groups, still sees both.
    rows = 4_000
    customers = [f"c{i // 7}" for i in range(rows)]
    table = pa.table(
        {
            "customer_id": customers,
            "timestamp": pa.array(
                [T0 + timedelta(minutes=i) for i in range(rows)], pa.timestamp("us")
            ),
            "event": ["view", "buy"] * (rows // 2),
            "event_id": [f"e{i}" for i in range(rows)],
        }
    )
    clean = tmp_path / "clean.parquet"
    pq.write_table(table, clean, row_group_size=300)
    assert _same(clean)
    ids = table["event_id"].to_pylist()
    ids[-1] = ids[5]
    dup = tmp_path / "dup.parquet"
    pq.write_table(table.set_column(3, "event_id", pa.array(ids)), dup, row_group_size=300)
    assert not _same(dup)


def test_a_check_that_fails_leaves_the_file_to_the_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread that cannot start, a kernel's refusal: the file is not read in place, and the
    # ordinary ingest stores it; Ctrl-C inside a DuckDB query still stops everything.
    path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": ["a", "b"],
                "timestamp": pa.array([T0, T0], pa.timestamp("us")),
                "event": ["view", "buy"],
                "event_id": ["e1", "e2"],
            }
        ),
        path,
    )
    for error in (RuntimeError("can't start new thread"), ValueError("a place outside")):

        def fail(self: Any, q: int, error: Exception = error) -> None:
            raise error

        monkeypatch.setattr(in_place._IdsCheck, "place_part", fail)
        wh = Warehouse(None)
        try:
            assert read_in_place(wh, path) is None
            assert wh.event_count() == 0
        finally:
            wh.close()
    interrupted = RuntimeError("Query interrupted")
    interrupted.__cause__ = KeyboardInterrupt()

    def stop(self: Any, q: int) -> None:
        raise interrupted

    monkeypatch.setattr(in_place._IdsCheck, "place_part", stop)
    wh = Warehouse(None)
    try:
        with pytest.raises(RuntimeError, match="interrupted"):
            read_in_place(wh, path)
    finally:
        wh.close()


def _row_file(folder: Path, rows: list[tuple[str, datetime, str, str | None]]) -> Path:
    """A file without event ids: customer id, time, event name, channel."""
    names = ("customer_id", "timestamp", "event", "channel")
    kinds = (pa.string(), pa.timestamp("us"), pa.string(), pa.string())
    table = pa.table(
        {
            n: pa.array([r[i] for r in rows], k)
            for i, (n, k) in enumerate(zip(names, kinds, strict=True))
        }
    )
    path = folder / "events.parquet"
    pq.write_table(table, path)
    return path


def test_rows_without_event_ids_are_proved_distinct_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without event ids the key is every field: rows of distinct customer, event and time are
    # proved distinct from the decoded columns, without DuckDB counting the keys.
    counted: list[bool] = []
    rows_distinct = in_place._rows_distinct

    def spy(decoded: Any) -> bool:
        counted.append(rows_distinct(decoded))
        return counted[-1]

    monkeypatch.setattr(in_place, "_rows_distinct", spy)
    rows = [(f"c{i % 5}", T0 + timedelta(seconds=i), "view", None) for i in range(40)]
    assert _same(_row_file(tmp_path, rows)) and counted == [True]
    # One customer, event and time twice, the channel apart: not proved in memory, but the
    # keys differ, so the file is still read in place; the same row twice is not.
    assert _same(_row_file(tmp_path, [*rows, ("c0", T0, "view", "ads")])) and not counted[-1]
    assert not _same(_row_file(tmp_path, [*rows, rows[3]])) and not counted[-1]


def test_a_separator_in_a_name_leaves_the_keys_to_duckdb(tmp_path: Path) -> None:
    # The key joins the fields with chr(31): an event "b\x1fc" without a channel and an event
    # "b" with the channel "c\x1f" are one key (the ingest keeps one row), though their
    # customer, event and time differ.
    rows = [("a", T0, "b\x1fc", None), ("a", T0, "b", "c\x1f")]
    assert not _same(_row_file(tmp_path, rows))
    assert _same(_row_file(tmp_path, [rows[0], ("a", T0, "b", "c")]))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "kö", "x\x1fy"]),
            st.sampled_from(["view", "buy", "b\x1fc"]),
            st.integers(-3, 3),
        ),
        max_size=40,
    ),
    st.integers(0, 2**40),
)
def test_rows_distinct_is_the_set_of_rows(rows: list[tuple[str, str, int]], shift: int) -> None:
    # Against the set of (customer, event, time): equal when no name holds chr(31), and never
    # "distinct" for rows that repeat.
    from kundresa.store._decoded import DecodedFile

    customers = sorted({r[0] for r in rows})
    names = sorted({r[1] for r in rows})
    decoded = DecodedFile(
        pa.array(customers, pa.string()),
        np.array([customers.index(r[0]) for r in rows], np.int32),
        pa.array(names, pa.string()),
        np.array([names.index(r[1]) for r in rows], np.int32),
        np.array([shift + r[2] * 1_000_003 for r in rows], np.int64),
    )
    distinct = len(set(rows)) == len(rows)
    separator = any("\x1f" in t for t in customers + names)
    assert in_place._rows_distinct(decoded) == (distinct and not separator)


@pytest.mark.parametrize("index_type", [pa.int8(), pa.uint16(), pa.int32(), pa.int64()])
def test_customers_apart_by_chunk_are_coded_by_their_places(index_type: pa.DataType) -> None:
    # Dictionaries sharing no value (customers apart by row group): each row's code is its
    # dictionary's place plus its index, from sliced chunks of any index width alike; an
    # index outside its dictionary is refused, not read past it.
    import threading

    loaded = threading.Event()
    loaded.set()
    parts = []
    for k, cut in enumerate((0, 2, 1)):
        words = pa.array([f"c{k}-{j}" for j in range(4)], pa.string())
        indices = pa.array([3, 0] * cut + [2, 0, 3, 1, 1][k:], index_type)
        parts.append(pa.DictionaryArray.from_arrays(indices, words).slice(2 * cut))
    column = pa.chunked_array(parts, pa.dictionary(index_type, pa.string()))
    got = in_place._unified_by_hashes(column, loaded)
    assert got is not None
    (values, codes), _ = got
    want_values, want_codes = _arrow_unified(column)
    assert values.equals(want_values) and codes.tolist() == want_codes
    bad = pa.DictionaryArray.from_arrays(
        pa.array([0, 4], index_type), pa.array(list("abcd")), safe=False
    )
    with pytest.raises(IndexError):
        in_place._unified_by_hashes(pa.chunked_array([bad]), loaded)


def test_a_negative_zero_is_stored_as_zero_and_keyed_so(tmp_path: Path) -> None:
    # The store keeps -0.0 as 0.0 (its sort does), so the ingest reads it as 0.0 before the
    # event key: rows apart only by 0.0 and -0.0 are one event, and a file holding -0.0 is
    # not read in place (its view would show -0.0).
    one = [("a", T0, "buy", None, -0.0, None, None)]
    assert not _same(_write(tmp_path, one, "us", ()))
    both = [("a", T0, "buy", None, 0.0, None, None), ("a", T0, "buy", None, -0.0, None, None)]
    project = Project.from_events(_write(tmp_path, both, "us", ("event_id",)))
    try:
        got = project.warehouse.con.execute("SELECT value, signbit(value) FROM events").fetchall()
        assert got == [(0.0, False)]
    finally:
        project.close()
