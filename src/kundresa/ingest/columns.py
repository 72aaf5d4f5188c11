"""Which source column feeds which canonical event column.

Exports from analytics tools name the same things differently (GA4's ``user_pseudo_id`` and
``event_timestamp``, Segment's ``userId``/``anonymousId``, PostHog's ``distinct_id``). The
aliases below are tried in order, case-insensitively; an explicit ``--customer-col`` (etc.)
always wins.

A row carries a person's **known id** (a user id: ``customer_id``, ``user_id``, ``userId``,
``distinct_id``, ``customer``), an **anonymous id** (a device or cookie id: ``anonymous_id``,
``anonymousId``, ``user_pseudo_id``, ``device_id``), or both; both on one row link the two ids
(identity stitching, docs/identity.md). Placeholder values (:data:`PLACEHOLDER_IDS`) are no id.
"""

from __future__ import annotations

from dataclasses import dataclass

from kundresa.errors import InputError
from kundresa.model.events import CHANNEL, EVENT_ID, PROPERTIES, SESSION_ID, VALUE

__all__ = [
    "ALIASES",
    "ANONYMOUS_ID",
    "EPOCH_MIN",
    "KIND",
    "MAX_OFFSET_HOURS",
    "MISSING_NUMBERS",
    "PLACEHOLDER_IDS",
    "TIME_RANGE",
    "ColumnError",
    "ColumnMap",
    "map_columns",
]

ANONYMOUS_ID = "anonymous_id"
KIND = "_kind"

PLACEHOLDER_IDS = ("", "null", "none", "undefined", "0", "nan", "n/a", "#n/a")
"""Id values that mean "no id" (compared trimmed and case-insensitively): what trackers send
before a user is known (``undefined``, ``null``, ``0``), or what a spreadsheet or a data frame
writes for a missing value (``NaN``, ``N/A``, Excel's ``#N/A``, Python's ``None``)."""

MISSING_NUMBERS = ("na", "n/a", "#n/a", "nan", "null", "none")
"""Texts that mean "no number" in a value column (compared trimmed and case-insensitively):
R's ``NA``, pandas' ``NaN``, Excel's ``#N/A``, SQL's and JSON's ``null``, Python's ``None``.
A value written so is missing, as an empty cell is; any other text that is not a number
is quarantined. Only the value column reads them so: in a text column (an id, an event
name, a property) ``NA`` is the text ``NA`` (README, "Loading events")."""

TIME_RANGE = ("1900-01-01", "2100-01-01")
"""The times an event may have, in UTC: from the first (inclusive) to the second (exclusive).
Anything outside is a placeholder or a misread number, never a time something happened:
0001-01-01 (.NET's and Go's zero date), 1753-01-01 (SQL Server's), 1899-12-30 (Excel's day 0),
9999-12-31 and 2999-12-31 ("valid until further notice"), an epoch in the wrong unit. Such a row
is quarantined: one of them would otherwise stretch every cohort, trend and lifecycle table
over centuries of empty periods (README, "Loading events")."""

EPOCH_MIN = 100_000_000
"""The smallest number the time column reads as a Unix epoch in seconds (1973-03-03): a
smaller one is no plausible event time but a spreadsheet's date serial (Excel's 45658 is
2025-01-01) or a count, and is quarantined. An 8-digit number that is a calendar date
YYYYMMDD inside :data:`TIME_RANGE` (``20250101``) is that date, at midnight (README, "Loading
events")."""

MAX_OFFSET_HOURS = 14
"""The widest UTC offset a time may have, either way: UTC+14 (Kiribati) is the widest in use
(UTC-12 the widest behind). A time with a wider offset (``+25:00``) is quarantined, not
shifted by it."""

ALIASES: dict[str, tuple[str, ...]] = {
    # Known (user) ids. Several may be present; the present ones are coalesced in this order.
    "customer_id": (
        "customer_id",
        "user_id",
        "userid",
        "distinct_id",
        "customer",
        # Swedish and Danish exports
        "kund_id",
        "kundnummer",
        "kunde_id",
        "kundenummer",
    ),
    # Anonymous (device, cookie, pseudonymous) ids: GA4 user_pseudo_id, Segment anonymousId,
    # Amplitude device_id. A row with only an anonymous id is an event of that id; a row with
    # both links them.
    ANONYMOUS_ID: (
        "anonymous_id",
        "anonymousid",
        "user_pseudo_id",
        "device_id",
    ),
    "timestamp": (
        "timestamp",
        "ts",
        "time",
        "event_time",
        "event_timestamp",
        "datetime",
        "occurred_at",
        "created_at",
        "tidpunkt",
        "tidspunkt",
    ),
    "event": ("event", "event_name", "action", "activity", "event_type", "händelse", "hændelse"),
    CHANNEL: (CHANNEL, "kanal"),
    VALUE: (VALUE, "revenue", "belopp", "beløb"),
    EVENT_ID: (EVENT_ID, "message_id", "messageid", "uuid", "insert_id"),
    SESSION_ID: (SESSION_ID, "ga_session_id", "sessionid", "session"),
    # A column of JSON objects (or a Parquet map/struct) whose keys become properties, as in
    # exports from Segment, PostHog or Kundresa itself.
    PROPERTIES: (PROPERTIES, "event_properties", "event_params"),
}


class ColumnError(InputError, ValueError):
    """A required column is missing or an explicitly named column does not exist."""


@dataclass(frozen=True)
class ColumnMap:
    """Source column names for each canonical column of one file."""

    customer: tuple[str, ...]
    timestamp: str
    event: str | None
    channel: str | None
    value: str | None
    event_id: str | None
    session_id: str | None
    properties: tuple[str, ...]
    properties_json: str | None = None
    anonymous: tuple[str, ...] = ()
    kind: str | None = None

    def describe(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.customer:
            out["customer_id"] = " or ".join(self.customer)
        if self.anonymous:
            out[ANONYMOUS_ID] = " or ".join(self.anonymous)
        out["timestamp"] = self.timestamp
        if self.event is not None:
            out["event"] = self.event
        if self.kind is not None:
            out[KIND] = self.kind
        for key in (CHANNEL, VALUE, EVENT_ID, SESSION_ID):
            src = getattr(self, key)
            if src is not None:
                out[key] = src
        if self.properties_json is not None:
            out[PROPERTIES] = self.properties_json
        return out


def _key(name: str) -> str:
    """A column name as it is matched: without spaces around it or a byte order mark in
    front (``" Customer_ID "``, as spreadsheets save a header typed with spaces), any case.

    Examples
    --------
    >>> _key("\ufeff Customer_ID ")
    'customer_id'
    """
    return name.strip().lstrip("\ufeff").strip().lower()


def _find(columns: list[str], wanted: str) -> str | None:
    keys = {_key(c): c for c in reversed(columns)}
    return keys.get(_key(wanted))


def map_columns(
    columns: list[str],
    *,
    source: str,
    customer_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    value_col: str | None = None,
) -> ColumnMap:
    """Map a file's columns onto the canonical event columns.

    ``customer`` holds the known-id columns and ``anonymous`` the anonymous-id columns (the
    first present id of a row is its id); a file needs at least one of them. Each of them but
    the first of its kind is also a property. The event column may be missing only when a
    ``_kind`` column says which rows are identify calls (those need no event name).

    Raises
    ------
    ColumnError
        When a required column is missing, a named column does not exist or names repeat.

    Examples
    --------
    >>> m = map_columns(["userId", "anonymousId", "ts", "event_name", "path"], source="x.csv")
    >>> m.customer, m.anonymous, m.timestamp, m.event, m.properties
    (('userId',), ('anonymousId',), 'ts', 'event_name', ('path',))
    """
    unnamed = [i + 1 for i, c in enumerate(columns) if not _key(c)]
    if unnamed:
        # The readers leave out an empty column without a name (kundresa.ingest.readers.
        # is_unnamed); one here came another way (a DataFrame's columns, say).
        raise ColumnError(
            f"{source}: column {unnamed[0]} has no name; give the column a name, or delete it"
        )
    seen: dict[str, int] = {}
    for c in columns:
        seen[_key(c)] = seen.get(_key(c), 0) + 1
    dupes = [c for c, n in seen.items() if n > 1]
    if dupes:
        raise ColumnError(f"{source}: column names appear more than once: {', '.join(dupes)}")

    def explicit(name: str | None, option: str) -> str | None:
        if name is None:
            return None
        found = _find(columns, name)
        if found is None:
            raise ColumnError(
                f"{source}: {option} {name!r} is not a column of this file "
                f"(columns: {', '.join(columns) or 'none'})"
            )
        return found

    def required(key: str, option: str, given: str | None) -> str:
        if given is not None:
            return given
        for alias in ALIASES[key]:
            found = _find(columns, alias)
            if found is not None:
                return found
        raise ColumnError(
            f"{source}: no {key} column; looked for {', '.join(ALIASES[key])} "
            f"(columns: {', '.join(columns) or 'none'}); name it with {option}"
        )

    def every(key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for a in ALIASES[key] if (f := _find(columns, a)) is not None))

    cust_given = explicit(customer_col, "--customer-col")
    customer = (cust_given,) if cust_given is not None else every("customer_id")
    anonymous = tuple(c for c in every(ANONYMOUS_ID) if c not in customer)
    if not customer and not anonymous:
        raise ColumnError(
            f"{source}: no customer_id column; looked for {', '.join(ALIASES['customer_id'])} "
            f"(known ids) and {', '.join(ALIASES[ANONYMOUS_ID])} (anonymous ids) "
            f"(columns: {', '.join(columns) or 'none'}); name it with --customer-col"
        )
    kind = _find(columns, KIND)
    timestamp = required("timestamp", "--time-col", explicit(time_col, "--time-col"))
    event_given = explicit(event_col, "--event-col")
    event: str | None
    if event_given is None and kind is not None:
        # A file of identify calls may have no event column at all.
        event = next((f for a in ALIASES["event"] if (f := _find(columns, a)) is not None), None)
    else:
        event = required("event", "--event-col", event_given)
    used = {*customer, *anonymous, timestamp}
    used.update(c for c in (event, kind) if c is not None)
    value_given = explicit(value_col, "--value-col")
    if value_given is not None:
        used.add(value_given)

    def optional(key: str) -> str | None:
        for alias in ALIASES[key]:
            found = _find(columns, alias)
            if found is not None and found not in used:
                used.add(found)
                return found
        return None

    channel = optional(CHANNEL)
    value = value_given if value_given is not None else optional(VALUE)
    event_id = optional(EVENT_ID)
    session_id = optional(SESSION_ID)
    properties_json = optional(PROPERTIES)
    # A second known-id (or anonymous-id) column stands in for the first where the first is
    # empty, and is kept as a property too: its value on a row where both are present
    # (``customer_id`` c1, ``user_id`` u1) is not lost.
    spare = {*customer[1:], *anonymous[1:]}
    props = tuple(c for c in columns if c not in used or c in spare)
    return ColumnMap(
        customer,
        timestamp,
        event,
        channel,
        value,
        event_id,
        session_id,
        props,
        properties_json,
        anonymous,
        kind,
    )
