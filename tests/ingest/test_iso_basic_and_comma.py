"""ISO 8601 times that DuckDB's cast does not read: a decimal comma in the seconds
(``2024-05-01T10:00:00,5Z``; ISO 8601 allows it and prefers it) and the basic format
(``20240501T100000Z``). Both went to quarantine as ``unparseable timestamp``; they are now
read exactly, in every file format, with every rule of the extended form (an offset beyond
±14:00, a local time at a daylight-saving change, the years 1900-2099), and a quarantine
reason shows the time as written (docs/sources.md, "Times")."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kundresa.store.warehouse import Warehouse

# (time text, the stored UTC time or the quarantine reason it gets)
ROWS: list[tuple[str, datetime | str]] = [
    ("2024-05-01T10:00:00,5Z", datetime(2024, 5, 1, 10, 0, 0, 500000)),
    ("2024-05-01 10:00:00,123456+02:00", datetime(2024, 5, 1, 8, 0, 0, 123456)),
    ("2024-05-01 10:00:00,25 +02:00", datetime(2024, 5, 1, 8, 0, 0, 250000)),
    ("20240501T100000Z", datetime(2024, 5, 1, 10)),
    ("20240501T100000,5Z", datetime(2024, 5, 1, 10, 0, 0, 500000)),
    ("20240501T100000.25+0200", datetime(2024, 5, 1, 8, 0, 0, 250000)),
    ("20240501T100000-05", datetime(2024, 5, 1, 15)),
    ("20240501T1030Z", datetime(2024, 5, 1, 10, 30)),
    ("20240501T1030+01:00", datetime(2024, 5, 1, 9, 30)),
    ("20240501T100000", datetime(2024, 5, 1, 10)),  # no offset: UTC (or --tz)
    ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10)),
    (
        "20240501T250000Z",
        "unparseable timestamp 20240501T250000Z (column 'timestamp')",
    ),
    (
        "20240501T100000+1500",
        "UTC offset of timestamp 20240501T100000+1500 is beyond ±14:00",
    ),
    ("18000501T100000Z", "timestamp 18000501T100000Z is not between 1900 and 2099"),
    ("2024-05-01T10:00:00,Z", "unparseable timestamp 2024-05-01T10:00:00,Z"),
]


def _files(tmp_path: Path, rows: list[tuple[str, datetime | str]]) -> list[Path]:
    keys = [f"r{i}" for i in range(len(rows))]
    texts = [t for t, _ in rows]
    c = tmp_path / "t.csv"
    c.write_text(
        "customer_id,timestamp,event\n"
        + "".join(f'{k},"{t}",a\n' for k, t in zip(keys, texts, strict=True))
    )
    j = tmp_path / "t.jsonl"
    j.write_text(
        "".join(
            json.dumps({"customer_id": k, "timestamp": t, "event": "a"}) + "\n"
            for k, t in zip(keys, texts, strict=True)
        )
    )
    q = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({"customer_id": keys, "timestamp": texts, "event": ["a"] * len(keys)}), q
    )
    return [c, j, q]


def _check(wh: Warehouse, rows: list[tuple[str, datetime | str]]) -> None:
    stored = dict(wh.con.execute('SELECT customer_id, "timestamp" FROM events').fetchall())
    bad = {json.loads(q["record"])["customer_id"]: q["reason"] for q in wh.quarantined()}
    for i, (text, want) in enumerate(rows):
        key = f"r{i}"
        if isinstance(want, datetime):
            assert stored.get(key) == want, (text, bad.get(key))
        else:
            assert key in bad and bad[key].startswith(want), (text, bad.get(key))


def test_comma_and_basic_forms_in_every_format(tmp_path: Path) -> None:
    for f in _files(tmp_path, ROWS):
        wh = Warehouse(None)
        wh.ingest([f])
        _check(wh, ROWS)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("20240501T100000", datetime(2024, 5, 1, 8)),  # Stockholm's summer time, UTC+2
        ("2024-05-01 10:00:00,5", datetime(2024, 5, 1, 8, 0, 0, 500000)),
        ("20240501T100000Z", datetime(2024, 5, 1, 10)),  # an offset of its own wins
        (
            "20250330T023000",
            "local time 20250330T023000 does not exist in Europe/Stockholm",
        ),
        (
            "2025-10-26T02:30:00,5",
            "local time 2025-10-26T02:30:00,5 happens twice in Europe/Stockholm",
        ),
    ],
)
def test_local_times_follow_tz(tmp_path: Path, text: str, want: datetime | str) -> None:
    rows = [(text, want)]
    wh = Warehouse(None)
    wh.ingest(_files(tmp_path, rows)[:1], tz="Europe/Stockholm")
    _check(wh, rows)


def test_a_date_format_pattern_reads_the_time_as_written(tmp_path: Path) -> None:
    """--date-format is tried first on the text as written, not on its extended form: a
    day-before-month basic pattern keeps its reading (5 January, not 1 May)."""
    f = tmp_path / "t.csv"
    f.write_text("customer_id,timestamp,event\nr0,20240501T100000,a\n")
    wh = Warehouse(None)
    wh.ingest([f], date_format="%Y%d%mT%H%M%S")
    _check(wh, [("20240501T100000", datetime(2024, 1, 5, 10))])
