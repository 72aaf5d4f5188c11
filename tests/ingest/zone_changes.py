"""Days on which a time zone's offset changes, and what a local time around one must become:
shared by the tests of ``--tz`` (test_parse_rules.py) and of zone names in the time text
(test_time_zones.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

CHANGES = [
    ("Europe/Stockholm", "2025-03-30"),
    ("Europe/Stockholm", "2025-10-26"),
    ("America/New_York", "2025-03-09"),
    ("America/New_York", "2025-11-02"),
    ("Australia/Lord_Howe", "2025-04-06"),
    ("Australia/Lord_Howe", "2025-10-05"),
    ("America/Sao_Paulo", "2018-11-04"),
    ("America/Sao_Paulo", "2018-02-17"),
]
"""(zone, a day with a change of its offset): forward and back, a 30-minute change (Lord
Howe) and changes at midnight (Sao Paulo, 2018)."""


def quarter_hours(day: str) -> list[datetime]:
    """Every quarter hour from 21:00 the day before ``day`` to 05:00 on it (wall-clock)."""
    start = datetime.fromisoformat(day) - timedelta(hours=3)
    return [start + timedelta(minutes=15 * i) for i in range(8 * 4 + 1)]


def check(
    zone: str, wall: datetime, key: str, loaded: dict[str, datetime], bad: dict[str, str]
) -> None:
    """That the event ``key`` at the local time ``wall`` in ``zone`` was stored at its instant
    (``loaded``: UTC, naive) when that time exists once, else quarantined (``bad``: reasons)
    as a time that does not exist or happens twice, naming the zone."""
    z = ZoneInfo(zone)
    a, b = wall.replace(tzinfo=z, fold=0), wall.replace(tzinfo=z, fold=1)
    if a.astimezone(UTC).astimezone(z).replace(tzinfo=None) != wall:
        assert f"does not exist in {zone}" in bad[key], (key, wall)
    elif a.utcoffset() != b.utcoffset():
        assert f"happens twice in {zone}" in bad[key], (key, wall)
    else:
        assert loaded[key] == a.astimezone(UTC).replace(tzinfo=None), (key, wall)
