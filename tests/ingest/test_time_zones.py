"""Zones written in a time's text (found by review, session 25).

DuckDB's cast reads any zone ID its ICU knows, legacy three-letter ones included: ``BST`` was
read as Bangladesh (UTC+6, not British Summer Time), ``IST`` as India, ``AST`` as Alaska,
``CET`` as the zone ``CET`` with its summer time, and ``CEST`` not at all; and a local time in
a zone named in the text (``Europe/Stockholm``) that does not exist or happens twice was
silently guessed. An abbreviation is now quarantined, and a zone name follows the
daylight-saving rule of ``--tz`` (README, "Loading events": Time).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zone_changes import CHANGES, check, quarter_hours

from kundresa.live.collector import MessageError, check_message
from kundresa.store.warehouse import Warehouse

# (time text, the stored UTC time or a part of the quarantine reason)
_ROWS: list[tuple[str, datetime | str]] = [
    ("2025-10-26 02:30:00 Europe/Stockholm", "happens twice in Europe/Stockholm"),
    ("2025-03-30 02:30:00 Europe/Stockholm", "does not exist in Europe/Stockholm"),
    ("2025-06-01 10:00:00 BST", "time zone abbreviation BST in timestamp"),
    ("2025-06-01 10:00:00 CET", "time zone abbreviation CET in timestamp"),
    ("2025-06-01 10:00:00 IST", "time zone abbreviation IST"),
    ("2025-06-01 10:00:00 AST", "time zone abbreviation AST"),
    ("2025-06-01 10:00:00 CEST", "time zone abbreviation CEST"),
    ("2025-06-01 10:00:00 EST", "time zone abbreviation EST"),
    ("2025-06-01 10:00:00 pst", "time zone abbreviation pst"),
    ("2025-06-01 10:00 CET", "time zone abbreviation CET"),
    ("2025-06-01 10:00:00.5 CET", "time zone abbreviation CET"),
    ("2025-06-01 10:00:00 Japan", "time zone abbreviation Japan"),
    ("2025-06-01 10:00:00 Europe/Stockholm", datetime(2025, 6, 1, 8)),
    ("2025-01-15 10:00:00 Europe/Stockholm", datetime(2025, 1, 15, 9)),
    ("2025-06-01T10:00:00 Europe/Stockholm", datetime(2025, 6, 1, 8)),
    ("2025-06-01 10:00:00.250 europe/stockholm", datetime(2025, 6, 1, 8, 0, 0, 250000)),
    ("2025-10-26 01:30:00 Europe/Stockholm", datetime(2025, 10, 25, 23, 30)),
    ("2025-10-26 03:30:00 Europe/Stockholm", datetime(2025, 10, 26, 2, 30)),
    ("2025-03-30 03:30:00 Europe/Stockholm", datetime(2025, 3, 30, 1, 30)),
    ("2025-06-01 10:00:00 America/New_York", datetime(2025, 6, 1, 14)),
    ("2025-06-01 10:00:00 UTC", datetime(2025, 6, 1, 10)),
    ("2025-06-01 10:00:00 utc", datetime(2025, 6, 1, 10)),
    ("2025-06-01 10:00:00 GMT", datetime(2025, 6, 1, 10)),
    ("2025-06-01T10:00:00Z", datetime(2025, 6, 1, 10)),
    ("2025-06-01 10:00:00 UTC-3", datetime(2025, 6, 1, 13)),
    ("2025-06-01 10:00:00 UTC+14:30", "beyond ±14:00"),
    ("2025-06-01 10:00:00+01:00", datetime(2025, 6, 1, 9)),
    ("2025-06-01 10:00:00", datetime(2025, 6, 1, 10)),
    ("2025-06-01 10:00:00 Nowhere/Atlantis", "unparseable timestamp"),
]


def _check(wh: Warehouse, keys: list[str], expected: list[datetime | str]) -> None:
    stored = dict(wh.con.execute('SELECT customer_id, "timestamp" FROM events').fetchall())
    bad = {json.loads(q["record"])["customer_id"]: q["reason"] for q in wh.quarantined()}
    for key, want in zip(keys, expected, strict=True):
        if isinstance(want, datetime):
            assert stored.get(key) == want, (key, bad.get(key))
        else:
            assert want in bad[key], (key, bad.get(key))
            assert "\n" not in bad[key]


def test_the_review_file_zones_csv(tmp_path: Path) -> None:
    f = tmp_path / "zones.csv"
    f.write_text(
        "customer_id,timestamp,event\n"
        "z1,2025-10-26 02:30:00 Europe/Stockholm,a\n"
        "z2,2025-03-30 02:30:00 Europe/Stockholm,a\n"
        "z3,2025-06-01 10:00:00 BST,a\n"
        "z4,2025-06-01 10:00:00 CET,a\n"
    )
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert (report.loaded, report.quarantined) == (0, 4)
    reasons = {json.loads(q["record"])["customer_id"]: q["reason"] for q in wh.quarantined()}
    assert reasons["z1"] == (
        "local time 2025-10-26 02:30:00 Europe/Stockholm happens twice in Europe/Stockholm: "
        "the clocks repeat it at a daylight-saving change; give the time with its UTC offset "
        "(column 'timestamp')"
    )
    assert reasons["z2"].startswith(
        "local time 2025-03-30 02:30:00 Europe/Stockholm does not exist in Europe/Stockholm: "
    )
    assert reasons["z3"] == (
        "time zone abbreviation BST in timestamp 2025-06-01 10:00:00 BST names different "
        "zones in different countries (IST: India, Israel or Ireland); write a UTC offset "
        "(+01:00) or an IANA zone name (Europe/Stockholm) (column 'timestamp')"
    )
    assert reasons["z4"].startswith("time zone abbreviation CET in timestamp ")


@pytest.mark.parametrize("tz", [None, "America/New_York"])
def test_zone_texts_in_csv_jsonl_and_parquet(tmp_path: Path, tz: str | None) -> None:
    """The same rules in every format, with ``--tz`` or without (a zone in the text wins)."""
    keys = [f"r{i}" for i in range(len(_ROWS))]
    texts = [t for t, _ in _ROWS]
    # A time without a zone of its own is in ``--tz`` (New York: UTC-4 in June).
    plain = datetime(2025, 6, 1, 14) if tz else datetime(2025, 6, 1, 10)
    expected = [plain if t == "2025-06-01 10:00:00" else e for t, e in _ROWS]
    c = tmp_path / "z.csv"
    c.write_text(
        "customer_id,timestamp,event\n"
        + "".join(f"{k},{t},a\n" for k, t in zip(keys, texts, strict=True))
    )
    j = tmp_path / "z.jsonl"
    j.write_text(
        "".join(
            json.dumps({"customer_id": k, "timestamp": t, "event": "a"}) + "\n"
            for k, t in zip(keys, texts, strict=True)
        )
    )
    q = tmp_path / "z.parquet"
    pq.write_table(
        pa.table({"customer_id": keys, "timestamp": texts, "event": ["a"] * len(keys)}), q
    )
    for f in (c, j, q):
        wh = Warehouse(None)
        wh.ingest([f], tz=tz)
        _check(wh, keys, expected)


def test_a_pattern_with_a_zone_follows_the_same_rules(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text(
        "customer_id,timestamp,event\n"
        "a,01/06/2025 10:00 BST,e\n"
        "b,01/06/2025 10:00 Europe/Stockholm,e\n"
        "c,26/10/2025 02:30 Europe/Stockholm,e\n"
        "d,30/03/2025 02:30 Europe/Stockholm,e\n"
        "e,01/06/2025 10:00 UTC,e\n"
    )
    wh = Warehouse(None)
    wh.ingest([f], date_format="%d/%m/%Y %H:%M %Z")
    _check(
        wh,
        ["a", "b", "c", "d", "e"],
        [
            "time zone abbreviation BST",
            datetime(2025, 6, 1, 8),
            "happens twice in Europe/Stockholm",
            "does not exist in Europe/Stockholm",
            datetime(2025, 6, 1, 10),
        ],
    )


# (zone, a day with a change of its offset), as in test_parse_rules.py.
@pytest.mark.parametrize(("zone", "day"), CHANGES)
def test_every_local_time_in_a_named_zone_around_a_change_is_as_zoneinfo_says(
    tmp_path: Path, zone: str, day: str
) -> None:
    """Every quarter hour from 21:00 the day before to 05:00 after, the zone in the text:
    a time that exists once is stored at its instant; one that does not exist or exists
    twice is quarantined (the file's ``--tz`` is another zone, which such times ignore)."""
    walls = quarter_hours(day)
    rows = []
    for i, w in enumerate(walls):
        rows.append(f"i{i},{w:%Y-%m-%d %H:%M:%S} {zone},a")
        rows.append(f"t{i},{w:%Y-%m-%dT%H:%M:%S}.5 {zone},a")
    f = tmp_path / "d.csv"
    f.write_text("customer_id,timestamp,event\n" + "\n".join(rows) + "\n")
    wh = Warehouse(None)
    wh.ingest([f], tz="Asia/Tokyo")
    loaded = dict(wh.con.execute('SELECT customer_id, "timestamp" FROM events').fetchall())
    bad = {json.loads(q["record"])["customer_id"]: q["reason"] for q in wh.quarantined()}
    for i, w in enumerate(walls):
        check(zone, w, f"i{i}", loaded, bad)
        check(zone, w + timedelta(microseconds=500000), f"t{i}", loaded, bad)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    word=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6
    )
)
def test_any_zone_word_but_utc_gmt_z_is_quarantined(tmp_path: Path, word: str) -> None:
    """A word after the time that is not ``UTC``, ``GMT``, ``Z`` (or ``AM``/``PM``) is never
    read as a zone, whether DuckDB's ICU knows it or not."""
    f = tmp_path / "w.csv"
    f.write_text(f"customer_id,timestamp,event\nc,2025-06-01 10:00:00 {word},a\n")
    wh = Warehouse(None)
    wh.ingest([f])
    stored = wh.con.execute('SELECT "timestamp" FROM events').fetchall()
    if word.upper() in ("UTC", "GMT"):
        assert stored == [(datetime(2025, 6, 1, 10),)]
    elif word.upper() in ("Z", "AM", "PM"):
        assert stored in ([], [(datetime(2025, 6, 1, 10),)])
    else:
        assert stored == []
        (q,) = wh.quarantined()
        if word[-1] in "Zz":  # looked for only when the text does not end in Z (ISO 8601's)
            assert q["reason"].startswith("unparseable timestamp "), q
        else:
            assert q["reason"].startswith(f"time zone abbreviation {word} in timestamp "), q


@pytest.mark.parametrize("tz", [None, "Europe/Stockholm"])
def test_a_zone_word_does_not_change_how_the_next_rows_are_read(
    tmp_path: Path, tz: str | None
) -> None:
    """DuckDB's cast (1.5) reads every later time without a zone of its own in the same
    vector in the last zone it read by name; the load never hands it a zone word."""
    words = ["Asia/Tokyo", "UTC", "UTC-3", "GMT", "BST", "Etc/GMT+5", "Europe/Stockholm"]
    rows = []
    for i, w in enumerate(words):
        rows.append(f"z{i},2025-06-01 10:00:00 {w},a")
        rows.extend(f"p{i}_{k},2025-06-01 10:00:00,a" for k in range(3))
    f = tmp_path / "l.csv"
    f.write_text("customer_id,timestamp,event\n" + "\n".join(rows) + "\n")
    wh = Warehouse(None)
    wh.ingest([f], tz=tz)
    stored = dict(wh.con.execute('SELECT customer_id, "timestamp" FROM events').fetchall())
    plain = datetime(2025, 6, 1, 8) if tz else datetime(2025, 6, 1, 10)
    assert {k: v for k, v in stored.items() if k.startswith("p")} == {
        f"p{i}_{k}": plain for i in range(len(words)) for k in range(3)
    }
    assert stored["z0"] == datetime(2025, 6, 1, 1)
    assert stored["z1"] == stored["z3"] == datetime(2025, 6, 1, 10)
    assert stored["z2"] == datetime(2025, 6, 1, 13)
    assert "z4" not in stored
    assert stored["z5"] == datetime(2025, 6, 1, 15)
    assert stored["z6"] == datetime(2025, 6, 1, 8)


@pytest.mark.parametrize(
    "text",
    [
        "2025-06-01T10:00:00 Europe/Stockholm",
        "2025-06-01T10:00:00 BST",
        "2025-06-01T10:00:00 UTC",
    ],
)
def test_the_collector_refuses_a_zone_word(text: str) -> None:
    """The collector acks ISO 8601 with an offset or ``Z`` only, so it never acks a time the
    load would quarantine for its zone."""
    msg = {"type": "track", "event": "e", "userId": "u", "messageId": "m", "timestamp": text}
    with pytest.raises(MessageError) as exc:
        check_message(msg, "2025-06-01T12:00:00.000Z")
    assert exc.value.field == "timestamp"
