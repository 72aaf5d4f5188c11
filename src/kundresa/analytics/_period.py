"""Periods and the project time zone, shared by every analysis.

A period ``[since, until)`` chooses which events, attempts or moves an analysis *counts*; who
a customer is (touchpoints with ``nth``, persona, first activity, cohort, the stage reached
before) always comes from the customer's whole history (docs/analytics.md, "Periods: who a
customer is vs what is counted"). This module reads ``since``/``until`` once, for all of them.

Timestamps are stored as UTC instants. Calendar things — a date without a time, days, ISO
weeks and months — are read in the project time zone (``timezone:`` in the journey file, an
IANA name; default ``UTC``). A local time that does not exist (the hour skipped when clocks
go forward) or exists twice (the hour repeated when they go back) is an error, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kundresa.errors import UsageError
from kundresa.model.events import TIMESTAMP

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kundresa.model.journey import Journey

__all__ = [
    "Period",
    "When",
    "local_clock",
    "project_timezone",
    "to_instant",
    "to_local",
]

When = str | date | datetime | None
"""A period bound: ``YYYY-MM-DD`` (local midnight), an ISO time (local unless it has an
offset such as ``Z`` or ``+01:00``), a :class:`datetime.date` or :class:`datetime.datetime`
(naive ones are local wall times), or ``None`` for no bound."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EARLIEST = datetime(11, 1, 1)
_LATEST = datetime(9989, 12, 31)
"""The instants a period bound may be: datetime's range less ten years at either end, room
for the longest window, lookback or horizon (3650 days) an analysis adds to a bound."""


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"unknown time zone {tz!r}; use an IANA name such as Europe/Stockholm"
        ) from None


def project_timezone(journey: Journey | None, timezone: str | None = None) -> str:
    """The time zone to read calendar periods in: ``timezone`` when given, else the
    journey's ``timezone:``, else ``UTC`` (runs on an events file without a journey)."""
    if timezone is not None:
        _zone(timezone)
        return timezone
    if journey is not None:
        return journey.timezone
    return "UTC"


def _local_to_utc(local: datetime, tz: str, option: str, text: Any) -> datetime:
    """A naive local wall time in ``tz`` as a naive UTC instant; a time the clocks skip or
    repeat there is a :class:`ValueError`."""
    if tz == "UTC":
        return local
    zone = _zone(tz)
    early = local.replace(tzinfo=zone, fold=0)
    late = local.replace(tzinfo=zone, fold=1)
    a = early.astimezone(UTC)
    b = late.astimezone(UTC)
    if a != b:
        back = a.astimezone(zone).replace(tzinfo=None)
        if back != local:
            raise UsageError(
                f"{option} {text!s} does not exist in {tz} (the clocks skip it); "
                "give another time or an offset such as +01:00"
            )
        raise UsageError(
            f"{option} {text!s} is ambiguous in {tz} (it happens twice when the clocks go "
            "back); give an offset such as +01:00 or +02:00"
        )
    return a.replace(tzinfo=None)


def to_instant(value: str | date | datetime, option: str, tz: str = "UTC") -> datetime:
    """A period bound as a naive UTC instant.

    Examples
    --------
    >>> to_instant("2025-03-01", "since", "Europe/Stockholm")
    datetime.datetime(2025, 2, 28, 23, 0)
    >>> to_instant("2025-07-01T12:00+02:00", "until")
    datetime.datetime(2025, 7, 1, 10, 0)
    >>> to_instant("2025-03-30T02:30", "since", "Europe/Stockholm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: since 2025-03-30T02:30 does not exist in Europe/Stockholm...
    """
    text: Any = value
    if isinstance(value, str):
        s = value.strip()
        try:
            if _DATE.match(s):
                value = date.fromisoformat(s)
            else:
                value = datetime.fromisoformat(s.replace(" ", "T", 1) if " " in s else s)
        except ValueError:
            raise UsageError(
                f"{option} {text!r} is not a date (use YYYY-MM-DD or an ISO time)"
            ) from None
    if not isinstance(value, date):
        raise UsageError(f"{option} {text!r} is not a date (use YYYY-MM-DD or an ISO time)")
    try:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                instant = value.astimezone(UTC).replace(tzinfo=None)
            else:
                instant = _local_to_utc(value, tz, option, text)
        else:
            midnight = datetime(value.year, value.month, value.day)
            instant = _local_to_utc(midnight, tz, option, text)
    except OverflowError:
        instant = datetime.min
    # A margin at either end: periods are shifted by windows and read in other time zones.
    if not _EARLIEST <= instant <= _LATEST:
        raise UsageError(
            f"{option} {text!r} is out of range (give a date from 0011-01-01 to 9989-12-31)"
        )
    return instant


def to_local(instant: datetime, tz: str) -> datetime:
    """A naive UTC instant as the naive wall time in ``tz``.

    >>> to_local(datetime(2025, 3, 2, 23, 30), "Europe/Stockholm")
    datetime.datetime(2025, 3, 3, 0, 30)
    """
    if tz == "UTC":
        return instant
    return instant.replace(tzinfo=UTC).astimezone(_zone(tz)).replace(tzinfo=None)


@dataclass(frozen=True)
class Period:
    """The period ``[start, end)`` as UTC instants (``None``: unbounded on that side).

    Examples
    --------
    >>> p = Period.parse("2025-03-01", "2025-04-01")
    >>> p.start, p.end, p.bounded
    (datetime.datetime(2025, 3, 1, 0, 0), datetime.datetime(2025, 4, 1, 0, 0), True)
    >>> datetime(2025, 3, 31, 23, 59) in p, datetime(2025, 4, 1) in p
    (True, False)
    >>> Period.parse("2025-03-01", "2025-03-01")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: since '2025-03-01' must come before until '2025-03-01'...
    """

    start: datetime | None = None
    end: datetime | None = None
    timezone: str = "UTC"

    @classmethod
    def parse(cls, since: When = None, until: When = None, tz: str = "UTC") -> Period:
        """Read ``since`` and ``until`` (see :data:`When`) in the time zone ``tz``.

        Raises :class:`ValueError` for a bound that is not a date or time, a local time that
        is skipped or repeated in ``tz``, and ``since`` not before ``until``.
        """
        _zone(tz)
        if isinstance(since, str) and not since.strip():
            since = None
        if isinstance(until, str) and not until.strip():
            until = None
        start = to_instant(since, "since", tz) if since is not None else None
        end = to_instant(until, "until", tz) if until is not None else None
        if start is not None and end is not None and end <= start:
            raise UsageError(
                f"since {since!r} must come before until {until!r} "
                "(the period [since, until) would be empty)"
            )
        return cls(start, end, tz)

    @property
    def bounded(self) -> bool:
        """Whether the period limits anything (``False``: the whole history counts)."""
        return self.start is not None or self.end is not None

    def contains(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        """An Ibis expression: the timestamp falls in ``[start, end)`` (a column expression
        even without bounds, so it can be aggregated)."""
        inside: ir.BooleanValue = ts.notnull()
        if self.start is not None:
            inside = ts >= self.start
        if self.end is not None:
            inside = (inside & (ts < self.end)) if self.start is not None else ts < self.end
        return inside

    def before_end(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        """An Ibis expression: the timestamp is before ``end`` (always, without an end)."""
        return ts < self.end if self.end is not None else ts.notnull()

    def filter(self, t: ir.Table, column: str = TIMESTAMP) -> ir.Table:
        """The rows of ``t`` whose ``column`` falls in the period."""
        return t.filter(self.contains(t[column])) if self.bounded else t

    def __contains__(self, instant: object) -> bool:
        if not isinstance(instant, datetime):
            return False
        if self.start is not None and instant < self.start:
            return False
        return not (self.end is not None and instant >= self.end)


# -- local wall time ---------------------------------------------------------------------------


def _offsets(tz: str, lo: datetime, hi: datetime) -> tuple[list[datetime], list[int]]:
    """UTC offsets (seconds) of ``tz`` over ``[lo, hi]``: ``offsets[i]`` holds from
    ``changes[i-1]`` (UTC instants) on; ``offsets[0]`` before ``changes[0]``."""
    zone = _zone(tz)

    def offset(instant: datetime) -> int:
        delta = instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    day = timedelta(days=1)
    t = datetime(lo.year, lo.month, lo.day) - day
    stop = hi + 2 * day
    changes: list[datetime] = []
    offsets = [offset(t)]
    while t < stop:
        nxt = t + day
        o = offset(nxt)
        if o != offsets[-1]:
            a, b = t, nxt  # offset(a) is the old one, offset(b) the new one
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0)
                if mid <= a:
                    break
                if offset(mid) == offsets[-1]:
                    a = mid
                else:
                    b = mid
            changes.append(b)
            offsets.append(o)
        t = nxt
    return changes, offsets


def _shifted(
    ts: ir.TimestampValue, changes: list[datetime], offsets: list[int]
) -> ir.TimestampValue:
    """``ts`` plus the offset in force, as a balanced tree of comparisons (log n per row)."""
    import ibis

    if not changes:
        return ts + ibis.interval(seconds=offsets[0]) if offsets[0] else ts
    mid = len(changes) // 2
    left = _shifted(ts, changes[:mid], offsets[: mid + 1])
    right = _shifted(ts, changes[mid + 1 :], offsets[mid + 1 :])
    return ibis.ifelse(ts < changes[mid], left, right)


def local_clock(
    tz: str,
    span: tuple[datetime | None, datetime | None] | ir.Table | None = None,
    column: str = TIMESTAMP,
) -> Callable[[ir.TimestampValue], ir.TimestampValue]:
    """A function turning a UTC timestamp expression into the wall time in ``tz``.

    ``span`` is the range of instants the function must be right for: a pair of naive UTC
    datetimes, or a table (the first and last value of its ``column``, read once). The offset
    is looked up with :mod:`zoneinfo` and written as plain comparisons and interval
    additions, so the same expression runs on DuckDB and Spark.

    Examples
    --------
    >>> import ibis
    >>> clock = local_clock("Europe/Stockholm", (datetime(2025, 1, 1), datetime(2025, 12, 31)))
    >>> ibis.to_sql(clock(ibis.literal(datetime(2025, 6, 1))), dialect="duckdb")[:20]
    'SELECT\\n  CASE\\n    WH'
    """
    import ibis.expr.types as ir

    if tz == "UTC":
        return lambda ts: ts
    lo: datetime | None
    hi: datetime | None
    if isinstance(span, ir.Table):
        got = span.aggregate(_lo=span[column].min(), _hi=span[column].max()).to_pandas()
        lo_v, hi_v = got["_lo"].iloc[0], got["_hi"].iloc[0]
        lo = None if lo_v is None or lo_v != lo_v else _naive(lo_v)
        hi = None if hi_v is None or hi_v != hi_v else _naive(hi_v)
    elif span is None:
        lo, hi = None, None
    else:
        lo, hi = span
    today = datetime.now(UTC).replace(tzinfo=None)
    lo = lo or hi or today
    hi = hi or lo
    changes, offsets = _offsets(tz, min(lo, hi), max(lo, hi))
    return lambda ts: _shifted(ts, changes, offsets)


def _naive(value: Any) -> datetime:
    import pandas as pd

    out = pd.Timestamp(value).to_pydatetime()
    return (
        out.replace(tzinfo=None) if out.tzinfo is None else out.astimezone(UTC).replace(tzinfo=None)
    )
