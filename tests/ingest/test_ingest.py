"""Reading event files into the warehouse: formats, aliases, time zones, dedup, quarantine."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.store.warehouse import IngestError, Warehouse

CSV = """user_id,ts,event_name,channel,revenue,path
u1,2025-01-01 10:00:00,page_view,web,,/pricing
u1,2025-01-01T11:00:00+01:00,purchase,web,99.5,
u2,1735725600,page_view,web,,/
u3,1735725600123,signup,email,,
,2025-01-02,page_view,web,,
u4,notatime,page_view,web,,
u5,2025-01-02,,web,,
u6,2025-01-02,purchase,web,abc,
u7,2025-01-02,purchase,web
u1,2025-01-01 10:00:00,page_view,web,,/pricing
"""


def events_of(wh: Warehouse) -> pd.DataFrame:
    return wh.con.sql(
        'SELECT customer_id, "timestamp", event, channel, value, event_id, properties '
        'FROM events ORDER BY customer_id, "timestamp"'
    ).df()


@pytest.fixture
def wh() -> Warehouse:
    return Warehouse(None)


def test_csv_aliases_timezones_epochs_and_quarantine(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "a.csv"
    f.write_text(CSV)
    r = wh.ingest([f], tz="Europe/Stockholm")
    assert (r.rows_read, r.loaded, r.duplicates, r.quarantined) == (10, 4, 1, 5)
    df = events_of(wh)
    assert list(df.customer_id) == ["u1", "u1", "u2", "u3"]
    # Zone-less 10:00 in Stockholm is 09:00 UTC; an explicit +01:00 wins over --tz.
    assert df.timestamp[0] == datetime(2025, 1, 1, 9, 0)
    assert df.timestamp[1] == datetime(2025, 1, 1, 10, 0)
    # Epoch seconds and milliseconds are recognised by magnitude.
    assert df.timestamp[2] == datetime(2025, 1, 1, 10, 0)
    assert df.timestamp[3] == datetime(2025, 1, 1, 10, 0, 0, 123000)
    assert df.value[1] == 99.5
    assert dict(df.properties[0]) == {"path": "/pricing"}
    q = {row["line"]: row["reason"] for row in wh.quarantined()}
    assert q == {
        6: "missing customer id (column 'user_id')",
        7: "unparseable timestamp notatime (column 'ts')",
        8: "missing event name (column 'event_name')",
        9: "value abc is not a number (column 'revenue')",
        10: "expected 6 fields, found 4",
    }


def test_loading_twice_adds_nothing(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "a.csv"
    f.write_text(CSV)
    wh.ingest([f])
    before = (wh.event_count(), wh.quarantine_count())
    r = wh.ingest([f])
    assert r.loaded == 0
    assert r.duplicates == 5
    assert r.already_quarantined == r.quarantined == 5
    assert (wh.event_count(), wh.quarantine_count()) == before


def test_dedup_by_event_id_then_by_content(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "e.csv"
    f.write_text(
        "customer_id,timestamp,event,event_id\n"
        "a,2025-01-01,x,1\n"
        "a,2025-01-02,y,1\n"  # same event_id: a duplicate even though the rest differs
        "b,2025-01-01,x,\n"
        "b,2025-01-01,x,\n"  # no id: identical content is a duplicate
        "b,2025-01-01,z,\n"
    )
    r = wh.ingest([f])
    assert (r.loaded, r.duplicates) == (3, 2)


@pytest.mark.parametrize("first", ["ad_click", "purchase"])
def test_of_one_event_id_the_row_read_first_is_kept(tmp_path: Path, first: str) -> None:
    # A review's repro: rows of one id at one instant; the kept one is the first in the file
    # (README, "Duplicates"), not the first in time or event order; a later ingest adds none.
    other = "purchase" if first == "ad_click" else "ad_click"
    f = tmp_path / "e.csv"
    f.write_text(
        "customer_id,timestamp,event,event_id\n"
        f"c1,2025-01-01T10:00:00,{first},dup\n"
        f"c1,2025-01-01T10:00:00,{other},dup\n"
        "c1,2025-01-01T09:00:00,zz_early,dup\n"
    )
    later = tmp_path / "later.csv"
    later.write_text("customer_id,timestamp,event,event_id\nc1,2024-01-01,aa_earliest,dup\n")
    wh = Warehouse(None)
    try:
        r = wh.ingest([f])
        assert (r.loaded, r.duplicates) == (1, 2)
        assert wh.con.execute("SELECT event FROM events").fetchall() == [(first,)]
        assert wh.ingest([later]).loaded == 0
        assert wh.con.execute("SELECT event FROM events").fetchall() == [(first,)]
    finally:
        wh.close()


def test_property_order_does_not_defeat_dedup(tmp_path: Path, wh: Warehouse) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text(json.dumps({"user_id": "u", "ts": "2025-01-01", "event": "e", "p": 1, "q": 2}))
    b.write_text(json.dumps({"q": 2, "event": "e", "p": 1, "ts": "2025-01-01", "user_id": "u"}))
    wh.ingest([a])
    assert wh.ingest([b]).duplicates == 1


def test_jsonl_gzip_nested_and_bad_lines(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "e.jsonl.gz"
    lines = [
        json.dumps(
            {
                "distinct_id": "a",
                "time": 1735725600000,
                "event": "x",
                "properties": {"plan": "pro", "n": 3},
            }
        ),
        "{not json",
        json.dumps([1, 2]),
        "",
        json.dumps(
            {"distinct_id": "b", "time": "2025-01-01T10:00:00Z", "event": "y", "late_key": True}
        ),
    ]
    with gzip.open(f, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    r = wh.ingest([f])
    assert (r.loaded, r.quarantined) == (2, 2)
    df = events_of(wh)
    assert dict(df.properties[0]) == {"plan": "pro", "n": "3"}
    assert dict(df.properties[1]) == {"late_key": "true"}
    reasons = {q["line"]: q["reason"] for q in wh.quarantined()}
    assert reasons[2].startswith("invalid JSON")
    assert reasons[3] == "expected a JSON object, found an array"


def test_parquet_with_canonical_schema_round_trips(tmp_path: Path, wh: Warehouse) -> None:
    from kundresa.store.schema import EVENT_SCHEMA

    schema = EVENT_SCHEMA.to_pyarrow()
    table = pa.table(
        {
            "customer_id": ["a", "b"],
            "timestamp": pa.array(
                [datetime(2025, 1, 1, 8), datetime(2025, 1, 2, 9, 30, 1)], pa.timestamp("us")
            ),
            "event": ["x", "y"],
            "channel": ["web", None],
            "value": [None, 12.5],
            "event_id": ["e1", "e2"],
            "session_id": ["s1", "s2"],
            "properties": pa.array([[("k", "v")], []], pa.map_(pa.string(), pa.string())),
        },
        schema=schema,
    )
    f = tmp_path / "e.parquet"
    pq.write_table(table, f)
    assert wh.ingest([f]).loaded == 2
    df = events_of(wh)
    assert list(df.timestamp) == [datetime(2025, 1, 1, 8), datetime(2025, 1, 2, 9, 30, 1)]
    assert dict(df.properties[0]) == {"k": "v"}
    assert df.value[1] == 12.5


def test_explicit_columns_and_their_errors(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "e.csv"
    f.write_text("who,when,what\na,2025-01-01,x\n")
    with pytest.raises(IngestError, match=r"e\.csv: no customer_id column.*--customer-col"):
        wh.ingest([f])
    with pytest.raises(IngestError, match=r"--time-col 'nope' is not a column of this file"):
        wh.ingest([f], customer_col="who", time_col="nope", event_col="what")
    r = wh.ingest([f], customer_col="who", time_col="when", event_col="what")
    assert r.loaded == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.xlsx", "x", "unknown file type 'xlsx'"),
        ("empty.csv", "", "empty or has no header"),
        ("missing.csv", None, "no such file"),
    ],
)
def test_unreadable_files_are_reported_and_nothing_is_stored(
    tmp_path: Path, wh: Warehouse, name: str, content: str | None, message: str
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("customer_id,timestamp,event\na,2025-01-01,x\n")
    bad = tmp_path / name
    if content is not None:
        bad.write_text(content)
    with pytest.raises(IngestError, match=message):
        wh.ingest([good, bad])
    assert wh.event_count() == 0
    assert wh.ingest_log() == []


def test_failure_midway_rolls_back(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    good = tmp_path / "good.csv"
    good.write_text("customer_id,timestamp,event\na,2025-01-01,x\n")
    wh.ingest([good])
    f = tmp_path / "more.csv"
    f.write_text("customer_id,timestamp,event\nb,2025-01-01,x\nc,2025-01-01,x\n")

    def boom(name: str, done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wh.ingest([f], progress=boom)
    assert wh.event_count() == 1
    assert len(wh.ingest_log()) == 1
    # The warehouse still works after the rollback.
    assert wh.ingest([f]).loaded == 2


def test_bad_timezone(tmp_path: Path, wh: Warehouse) -> None:
    f = tmp_path / "e.csv"
    f.write_text("customer_id,timestamp,event\na,2025-01-01,x\n")
    with pytest.raises(IngestError, match="--tz 'Mars/Olympus' is not a time zone"):
        wh.ingest([f], tz="Mars/Olympus")


def test_dataframe_with_tz_aware_times(wh: Warehouse) -> None:
    df = pd.DataFrame(
        {
            "customer_id": ["a"],
            "timestamp": [pd.Timestamp("2025-06-01 12:00", tz="Europe/Copenhagen")],
            "event": ["x"],
            "plan": ["pro"],
        }
    )
    wh.ingest_arrow(pa.Table.from_pandas(df))
    got = events_of(wh)
    assert got.timestamp[0] == datetime(2025, 6, 1, 10, 0)
    assert dict(got.properties[0]) == {"plan": "pro"}


names = st.text(alphabet="abcxyz", min_size=1, max_size=3)
rows = st.lists(
    st.tuples(
        names,
        st.integers(0, 10_000),
        st.sampled_from(["view", "buy", "ad"]),
        st.one_of(st.none(), st.sampled_from(["p", "q,r", 'q"s'])),
    ),
    max_size=30,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows)
def test_csv_round_trip_and_idempotence(
    tmp_path_factory: pytest.TempPathFactory, rows: list
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    df = pd.DataFrame(rows, columns=["customer_id", "ts", "event", "note"])
    df["ts"] = pd.to_datetime(df["ts"] * 60 + 1_735_689_600, unit="s").dt.strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    f = folder / "e.csv"
    df.to_csv(f, index=False)
    wh = Warehouse(None)
    r = wh.ingest([f])
    # Expected: distinct rows by content (no event ids), nothing quarantined.
    distinct = df.fillna("\0").drop_duplicates()
    assert r.quarantined == 0
    assert r.loaded == len(distinct)
    assert r.duplicates == len(df) - len(distinct)
    assert wh.ingest([f]).loaded == 0


cells = st.one_of(
    st.sampled_from(["NA", "N/A", "#N/A", "null", "NULL", "NaN", "nan", "None", "-", " NA ", ""]),
    st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=8),
)


@settings(max_examples=25, deadline=None)
@given(cells=st.lists(cells, min_size=1, max_size=12))
def test_csv_text_cells_are_stored_as_written(cells: list[str]) -> None:
    """Any text in a CSV property column is stored as written (trimmed of spaces, also
    no-break ones); only a blank cell is missing. Brute force against the csv module's
    writing of the same cells."""
    import csv
    import io
    import tempfile

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["customer_id", "ts", "event", "note"])
    for i, c in enumerate(cells):
        w.writerow([f"c{i}", "2025-01-01 00:00:00", "x", c])
    with tempfile.TemporaryDirectory() as folder:
        f = Path(folder) / "e.csv"
        f.write_text(buf.getvalue(), encoding="utf-8")
        wh = Warehouse(None)
        r = wh.ingest([f])
        assert (r.loaded, r.quarantined) == (len(cells), 0)
        got = dict(wh.con.sql("SELECT customer_id, properties['note'] FROM events").fetchall())
    # Trimmed of spaces as DuckDB's trim does (every Unicode space separator, as str.strip).
    assert got == {f"c{i}": (c.strip() or None) for i, c in enumerate(cells)}


def test_iso_times_to_the_minute_with_an_offset_load(tmp_path: Path, wh: Warehouse) -> None:
    """ISO 8601 to the minute, with ``Z`` or an offset, is a time (DuckDB's cast alone wants
    the seconds then: both rows were quarantined as unparseable)."""
    f = tmp_path / "t.csv"
    f.write_text(
        "customer_id,timestamp,event\n"
        "v1,2026-01-01T10:00Z,p\n"
        "v2,2026-01-01T10:00+01:00,p\n"
        "v3,2026-01-01 10:00 +0100,p\n"
        "v4,2026-01-01T10:00-05:30,p\n"
        "v5,2026-01-01T10Z,p\n"
    )
    r = wh.ingest([f])
    assert (r.loaded, r.quarantined) == (4, 1)
    got = wh.con.sql("SELECT customer_id, timestamp FROM events ORDER BY 1").fetchall()
    assert got == [
        ("v1", datetime(2026, 1, 1, 10, 0)),
        ("v2", datetime(2026, 1, 1, 9, 0)),
        ("v3", datetime(2026, 1, 1, 9, 0)),
        ("v4", datetime(2026, 1, 1, 15, 30)),
    ]


def test_json_line_nested_past_the_parser_is_quarantined(tmp_path: Path, wh: Warehouse) -> None:
    """A JSON line nested deeper than Python's parser goes (a hostile or broken export) is
    one quarantined row with a reason, never a RecursionError; the other lines load."""
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    f = tmp_path / "deep.jsonl"
    f.write_text(
        json.dumps({"user_id": "a", "ts": "2025-01-01", "event": "x"})
        + "\n"
        + '{"user_id": "b", "ts": "2025-01-01", "event": "y", "p": '
        + deep
        + "}\n"
    )
    r = wh.ingest([f])
    assert (r.loaded, r.quarantined) == (1, 1)
    [q] = wh.quarantined()
    assert q["line"] == 2 and q["reason"].startswith("invalid JSON: nested deeper than")


def test_deep_json_text_in_a_source_field_is_a_bad_row() -> None:
    """A source's JSON text field (Segment's ``properties`` in a warehouse table, ...)
    nested past the parser is a bad row naming the field, never a RecursionError."""
    from kundresa.ingest.sources._records import BadRow, parse_json

    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    with pytest.raises(BadRow, match="'properties' is not a JSON object"):
        parse_json({"properties": deep}, "properties")
    assert parse_json({"properties": '{"a": {"b": 1}}'}, "properties") == {"a": {"b": 1}}


@pytest.mark.parametrize("text", ["1e400", "-1e400", "inf", "-Infinity", "NaN"])
def test_a_value_that_is_not_finite_is_quarantined(
    tmp_path: Path, wh: Warehouse, text: str
) -> None:
    """Revenue must sum: ``inf`` in the value column (text, or a Parquet double) is
    quarantined naming the column, as the collector refuses it, never stored. ``NaN`` is a
    missing value in every format (the text, or a Parquet double), as pandas writes one."""
    f = tmp_path / "v.csv"
    f.write_text(f"user_id,ts,event,revenue\na,2025-01-01,x,12.5\nb,2025-01-01,y,{text}\n")
    r = wh.ingest([f])
    if text == "NaN":
        assert (r.loaded, r.quarantined) == (2, 0)
    else:
        assert (r.loaded, r.quarantined) == (1, 1)
        [q] = wh.quarantined()
        assert q["line"] == 3 and q["reason"] == (
            f"value {text} is not a finite number (column 'revenue')"
        )
    assert wh.con.sql("SELECT sum(value) FROM events").fetchone() == (12.5,)
    p = tmp_path / "v.parquet"
    pq.write_table(
        pa.table(
            {
                "user_id": ["c", "d"],
                "ts": ["2025-01-02", "2025-01-02"],
                "event": ["x", "y"],
                "revenue": [1.0, float(text)],
            }
        ),
        p,
    )
    r = wh.ingest([p])
    assert (r.loaded, r.quarantined) == ((2, 0) if text == "NaN" else (1, 1))
    assert wh.con.sql("SELECT sum(value) FROM events").fetchone() == (13.5,)
    assert wh.con.sql("SELECT count(*) FROM events WHERE isnan(value)").fetchone() == (0,)


def test_csv_texts_are_text_and_value_markers_are_missing(tmp_path: Path, wh: Warehouse) -> None:
    """Only an empty cell is missing in a CSV's text columns: a customer ``NA``, an event
    ``null`` and a country ``NA`` (Namibia) stay as written (pyarrow's default null markers
    made them missing). In the value column ``NA``, ``#N/A``, ``null``, ``NaN`` and ``None``
    are a missing number; ``N/A`` as an id is a placeholder (no id); any other text that is
    not a number is quarantined."""
    f = tmp_path / "m.csv"
    f.write_text(
        "user_id,ts,event,revenue,country\n"
        "NA,2025-01-01,null,NA,NA\n"
        "b,2025-01-02,buy,#N/A,N/A\n"
        "c,2025-01-03,buy, null ,SE\n"
        "d,2025-01-04,buy,NaN,\n"
        "e,2025-01-05,buy,None,DK\n"
        "N/A,2025-01-06,buy,1,DK\n"
        "f,2025-01-07,buy,n.a.,DK\n"
        "g,#N/A,buy,1,DK\n"
    )
    r = wh.ingest([f])
    assert (r.loaded, r.quarantined) == (5, 3)
    rows = wh.con.sql(
        "SELECT customer_id, event, value, properties['country'] FROM events ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("NA", "null", None, "NA"),
        ("b", "buy", None, "N/A"),
        ("c", "buy", None, "SE"),
        ("d", "buy", None, None),
        ("e", "buy", None, "DK"),
    ]
    reasons = sorted(q["reason"] for q in wh.quarantined())
    assert reasons == [
        "missing customer id (column 'user_id')",
        "missing timestamp (column 'ts')",
        "value n.a. is not a number (column 'revenue')",
    ]


def test_a_gzipped_file_is_closed_with_its_reader(tmp_path: Path) -> None:
    """Closing the reader of a ``.gz`` file closes the file too (no handle left for the
    garbage collector: one open file per ingested file otherwise, until collected)."""
    import os

    from kundresa.ingest.readers import _open_binary

    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd to count open files")
    f = tmp_path / "e.jsonl.gz"
    with gzip.open(f, "wt") as out:
        out.write('{"a": 1}\n')

    def open_files() -> int:
        return sum(1 for fd in os.listdir(fds) if os.path.realpath(fds / fd) == str(f))

    fh = _open_binary(f, True, None)
    assert fh.read() == b'{"a": 1}\n' and open_files() == 1
    fh.close()
    assert open_files() == 0


@pytest.mark.parametrize(
    "text",
    ["0001-01-01", "1753-01-01 00:00:00", "1899-12-30", "9999-12-31 23:59:59", "2100-01-01"],
)
def test_a_placeholder_date_is_quarantined(tmp_path: Path, wh: Warehouse, text: str) -> None:
    """A time outside 1900-2099 is a placeholder (.NET's zero date, Excel's day 0, "valid
    until 9999-12-31"): quarantined naming the column, as the collector refuses it, so the
    cohort and trend tables do not run over centuries of empty periods."""
    f = tmp_path / "t.csv"
    f.write_text(
        f"user_id,ts,event\na,2025-01-01,x\nb,{text},y\nc,1900-01-01,z\nd,2099-12-31 23:59,z\n"
    )
    r = wh.ingest([f])
    assert (r.loaded, r.quarantined) == (3, 1)
    [q] = wh.quarantined()
    assert q["line"] == 3 and q["reason"] == (
        f"timestamp {text} is not between 1900 and 2099: a placeholder date, not when "
        "something happened (column 'ts')"
    )
    assert r.reasons == {"timestamp outside 1900-2099 (a placeholder date) (column 'ts')": 1}


def test_a_second_id_column_is_kept_as_a_property(tmp_path: Path) -> None:
    # A review's repro: `user_id` beside `customer_id` stood in only where customer_id was
    # empty, and its value on the other rows was lost (no property, no link).
    from kundresa.store.warehouse import Warehouse

    f = tmp_path / "crm.csv"
    f.write_text(
        "customer_id,user_id,device_id,anonymous_id,timestamp,event\n"
        "c1,u1,d1,a1,2025-01-01 10:00,a\n"
        ",u2,,a2,2025-01-01 11:00,a\n",
        encoding="utf-8",
    )
    wh = Warehouse(None)
    wh.ingest([f])
    rows = wh.con.execute(
        "SELECT customer_id, properties FROM events ORDER BY timestamp"
    ).fetchall()
    assert rows == [("c1", {"device_id": "d1", "user_id": "u1"}), ("u2", {"user_id": "u2"})]
