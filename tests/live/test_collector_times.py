"""A time the collector acks is a time the load stores: the ack-time check and the loader's
SQL (``Warehouse.ingest_checked``) agree.

Before, the collector judged times with Python's ``datetime.fromisoformat`` and took any
digits as an epoch, while the load parses with DuckDB: ``2026-03-01T10Z``,
``20260301T100000``, ``2026-W09``, an epoch of ``0`` or of 30 digits were answered 200 and
then quarantined, and a fractional epoch (``1772359200.5``, what ``time.time()`` gives) was
refused though the load reads it. Every shape below is sent through ``check_message`` and
loaded; what is acked must be stored, at the instant Python reads, and an epoch is acked
exactly when the load stores it.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.live.collector import MessageError, check_message, dump_rows
from kundresa.live.loader import Loader
from kundresa.live.log import LogRecord
from kundresa.store.warehouse import Warehouse

RECEIVED = "2026-03-01T12:00:00.000Z"
AUTH = ("test-write-key", "")  # as in conftest.py


def track(mid: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "purchase",
        "userId": "u1",
        "messageId": mid,
        "timestamp": "2026-03-01T10:00:00Z",
        **extra,
    }


def stored_ids(client: Any) -> list[str]:
    state = client.app.state.project
    with state.lock:
        rows = state.project.warehouse.con.execute(
            "SELECT event_id FROM events ORDER BY event_id"
        ).fetchall()
    return [r[0] for r in rows]


def wait_for_events(client: Any, n: int, seconds: float = 30.0) -> None:
    started = time.monotonic()
    while len(stored_ids(client)) < n:
        assert time.monotonic() - started < seconds, f"not {n} events within {seconds} s"
        time.sleep(0.02)


_DATES = [
    "2026-03-01",
    "20260301",
    "2026-W09",
    "2026-W09-7",
    "2026-3-1",
    "2026-03-02",
    "2099-12-31",
]
_TIMES = [
    "",
    "T10",
    "T10:00",
    "T10:00:00",
    "T10:00:00.5",
    "T10:00:00,5",
    "T10:00:00.123456789",
    " 10:00:00",
    "T1000",
    "T100000",
    "T10:00:00.",
    "T24:00:00",
    "T23:59:60",
]
_OFFSETS = [
    "",
    "Z",
    "z",
    " Z",
    "+01",
    "+1",
    "+01:00",
    "+0100",
    " +01:00",
    " +0100",
    " +01",
    "-00:00",
    "+01:00:30",
    "+01:00:30.5",
    "+14:00",
    "-14:00",
    "-14:30",  # beyond the widest offset in use: refused, as the load quarantines it
    "+23:59",
    "+25:00",
    "-03:00",
    # A zone word (read by the load as UTC, an IANA zone or quarantined as an abbreviation):
    # the collector acks none of them, so none can be acked and then quarantined.
    " UTC",
    " GMT",
    " Europe/Stockholm",
    " BST",
    " CET",
]
_SHAPES = ["".join(p) for p in itertools.product(_DATES, _TIMES, _OFFSETS)]
# RECEIVED is 2026-03-01T12:00Z: 2026-03-02 is within a day of it, 2099 is not.
_EPOCHS = [
    "0",
    "-1",
    "1",
    "1.5",
    "1772359200",
    "1772359200.5",
    "1772359200123",
    "1772359200123456",
    "1772359200123456789",
    "99999999999",
    "1772452799",  # 23:59:59 after RECEIVED: a clock a day fast is still taken
    "1772452801",  # a day and a second after it: refused, as the load would store it
    "4102444799",
    "4102444800",
    "1" + "0" * 30,
    "+1772359200",
    "1e9",
    "1772359200.",
    # Below 1e8 (1973-03-03) a number is no epoch but an 8-digit date YYYYMMDD in 1900-2099,
    # or refused (a spreadsheet's date serial such as 45658).
    "45658",
    "45658.5",
    "99999999",
    "100000000",
    "20260301",
    "18991230",
    "20261301",
]


def _send(times: list[Any], field: str = "timestamp") -> tuple[Warehouse, dict[str, str]]:
    """Each time as ``field`` of its own message: the warehouse they were loaded into and
    each acked message's mapped time by messageId (refused ones are left out)."""
    rows, acked = [], {}
    for i, t in enumerate(times):
        msg = {"type": "track", "event": "e", "userId": f"u{i}", "messageId": f"m{i}", field: t}
        try:
            row = check_message(msg, RECEIVED)
        except MessageError as exc:
            assert exc.field == field, (t, exc)
            continue
        rows.append(row)
        acked[f"m{i}"] = row["timestamp"]
    wh = Warehouse(None)
    if rows:
        wh.ingest_checked("collector", Loader._batches([LogRecord(0, 1, orjson.dumps(rows))]))
    return wh, acked


def _stored(wh: Warehouse) -> dict[str, datetime]:
    return dict(wh.con.execute("SELECT event_id, timestamp FROM events").fetchall())


@pytest.mark.parametrize("field", ["timestamp", "originalTimestamp", "sentAt"])
def test_every_acked_time_shape_is_stored_at_the_time_python_reads(field: str) -> None:
    wh, acked = _send(_SHAPES, field)
    stored = _stored(wh)
    assert wh.quarantined() == []
    assert set(stored) == set(acked)
    for mid, text in acked.items():
        if text.isdigit():  # 20260301: an 8-digit date, for files and the collector alike
            assert stored[mid] == datetime.strptime(text, "%Y%m%d"), text
            continue
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        utc = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
        assert stored[mid] == utc, (text, stored[mid])
    # The shapes Segment's libraries and analytics.js send are acked, with any offset.
    sent = {_SHAPES[int(m[1:])] for m in acked}
    for common in (
        "2026-03-01T10:00:00Z",
        "2026-03-01T10:00:00.123456789Z",
        "2026-03-01T10:00:00.5+01:00",
        "2026-03-01T10:00:00-03:00",
        "2026-03-01 10:00:00",
        "2026-03-01T10:00Z",
        "2026-03-01T10:00+01:00",
        "2026-03-01",
    ):
        assert common in sent


def test_an_epoch_is_acked_exactly_when_the_load_stores_it() -> None:
    """... up to a day after the server received it (``FUTURE_SKEW``)."""
    wh, acked = _send(_EPOCHS)
    assert set(_stored(wh)) == set(acked)
    # 1, 1.5 and 45658 are too small for an epoch (before 1973-03-03): refused, as a file's
    # row is quarantined; 20260301 is a date.
    assert {_EPOCHS[int(m[1:])] for m in acked} == {
        "1772359200",
        "1772359200.5",
        "1772359200123",
        "1772359200123456",
        "1772359200123456789",
        "1772452799",
        "+1772359200",
        "100000000",
        "20260301",
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.integers(min_value=-(10**3), max_value=10**22),
            st.floats(min_value=-1e3, max_value=1e22, allow_nan=False),
            st.integers(min_value=0, max_value=4).map(lambda k: 4102444800 * 1000**k - 1),
            st.integers(min_value=0, max_value=4).map(lambda k: 4102444800 * 1000**k),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_random_epochs_are_acked_exactly_when_stored(epochs: list[int | float]) -> None:
    wh, acked = _send(list(epochs))
    stored = _stored(wh)
    assert set(stored) <= set(acked)
    latest = datetime(2026, 3, 2, 12)  # RECEIVED and a day (FUTURE_SKEW)
    assert {m for m in acked if stored.get(m, latest) <= latest} == set(acked)


_VALUES = [
    "1_000",
    "1e3",
    " 12.5 ",
    "+5",
    ".5",
    "5.",
    "-0",
    "1e308",
    "1e-400",
    "\u00a012",
    "12\u2009",
    "\u300012\u3000",
    "\u200b12",  # a zero-width space is no white space
    "\u0661\u0662",  # Arabic-Indic digits: Python's float reads them, the load does not
    "\uff11\uff12",  # fullwidth digits
    "0x10",
    "1,5",
    "1e400",
    10**30,
    10**400,
    -(10**20),
    1e-320,
]


def test_every_acked_revenue_is_stored_as_the_number_it_reads() -> None:
    rows, acked = [], {}
    for i, value in enumerate(_VALUES):
        msg = {**track(f"m{i}", userId=f"u{i}"), "properties": {"revenue": value}}
        try:
            rows.append(check_message(msg, RECEIVED))
        except MessageError as exc:
            assert exc.field == "properties.revenue"
            continue
        acked[f"m{i}"] = float(value)
    wh = Warehouse(None)
    wh.ingest_checked("collector", Loader._batches([LogRecord(0, 1, dump_rows(rows))]))
    assert wh.quarantined() == []
    assert dict(wh.con.execute("SELECT event_id, value FROM events").fetchall()) == acked
    assert len(acked) == len(_VALUES) - 11
    assert "m0" not in acked  # "1_000": refused by the collector, as the load refuses it
    assert "m9" not in acked  # "\u00a012": a file's value column reads it as no number


def test_refusals_name_the_field_the_time_came_from(project_dir: Path, make_collector: Any) -> None:
    client = make_collector(project_dir)
    no_time = {k: v for k, v in track("x").items() if k != "timestamp"}
    batch = [
        track("good-1"),
        {**no_time, "messageId": "sent", "sentAt": "2026-03-01T10Z"},
        {**no_time, "messageId": "original", "originalTimestamp": "20260301T100000"},
        track("epoch-0", timestamp=0),
        track("epoch-huge", timestamp=10**30),
        track("week", timestamp="2026-W09"),
        track("fraction", timestamp=1772359200.25),
        {**no_time, "messageId": "batch-sent"},
    ]
    r = client.post("/v1/batch", json={"batch": batch, "sentAt": 10**30}, auth=AUTH)
    assert r.status_code == 400
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(e["messageId"], e["field"]) for e in answer["errors"]] == [
        ("sent", "sentAt"),
        ("original", "originalTimestamp"),
        ("epoch-0", "timestamp"),
        ("epoch-huge", "timestamp"),
        ("week", "timestamp"),
        ("batch-sent", "sentAt"),
    ]
    wait_for_events(client, 2)
    assert stored_ids(client) == ["fraction", "good-1"]
    with client.app.state.project.lock:
        wh = client.app.state.project.project.warehouse
        assert wh.quarantined() == []
        (at,) = wh.con.execute(
            "SELECT timestamp FROM events WHERE event_id = 'fraction'"
        ).fetchone()
    assert at == datetime(1970, 1, 1) + timedelta(seconds=1772359200.25)


def test_a_revenue_beyond_a_double_is_refused_by_field(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    body = (
        '{"batch": ['
        + orjson.dumps(track("good-1")).decode()
        + ',{"type": "track", "event": "x", "userId": "u2", "messageId": "huge",'
        ' "timestamp": "2026-03-01T10:00:00Z", "properties": {"revenue": 1' + "0" * 400 + "}}"
        "]}"
    )
    r = client.post(
        "/v1/batch", content=body, auth=AUTH, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["accepted"] == 1
    assert [(e["messageId"], e["field"]) for e in answer["errors"]] == [
        ("huge", "properties.revenue")
    ]
    wait_for_events(client, 1)
    with client.app.state.project.lock:
        assert client.app.state.project.project.warehouse.quarantined() == []


def test_a_time_more_than_a_day_after_its_arrival_is_refused(
    project_dir: Path, make_collector: Any
) -> None:
    """A device clock set to 2099, or an epoch that is not one, was taken as it was: a
    single such event (the write key of analytics.js is public) stretched the lifecycle
    table of the demo to 6,784 weekly periods."""
    now = datetime.now(UTC).replace(tzinfo=None)
    soon = (now + timedelta(hours=20)).isoformat() + "Z"
    batch = [
        track("good-1", timestamp=now.isoformat() + "Z"),
        track("clock-a-bit-fast", timestamp=soon),
        track("year-2099", timestamp="2099-12-31T23:59:59Z"),
        track("next-week", timestamp=(now + timedelta(days=7)).isoformat() + "Z"),
        track("epoch-2099", timestamp=4102444799),
    ]
    client = make_collector(project_dir)
    r = client.post("/v1/batch", json={"batch": batch}, auth=AUTH)
    assert r.status_code == 400
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(e["messageId"], e["field"]) for e in answer["errors"]] == [
        ("year-2099", "timestamp"),
        ("next-week", "timestamp"),
        ("epoch-2099", "timestamp"),
    ]
    assert "more than a day after the server received the message" in answer["message"]
    wait_for_events(client, 2)
    assert stored_ids(client) == ["clock-a-bit-fast", "good-1"]
