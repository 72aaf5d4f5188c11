"""Which source column feeds which canonical event column.

Exports from analytics tools name the same things differently (GA4's ``user_pseudo_id`` and
``event_timestamp``, Segment's ``userId``/``anonymousId``, PostHog's ``distinct_id``). The
aliases below are tried in order, case-insensitively; an explicit ``--customer-col`` (etc.)
always wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from kundresa.errors import InputError
from kundresa.model.events import CHANNEL, EVENT_ID, PROPERTIES, SESSION_ID, VALUE

__all__ = ["ALIASES", "ColumnError", "ColumnMap", "map_columns"]

ALIASES: dict[str, tuple[str, ...]] = {
    # Several customer columns may be present (Segment: userId for known users, anonymousId
    # before sign-in; GA4: user_id when logged in, user_pseudo_id always). All present ones
    # are coalesced in this order, so a known id wins and the anonymous one fills the gaps.
    "customer_id": (
        "customer_id",
        "user_id",
        "userid",
        "distinct_id",
        "user_pseudo_id",
        "anonymousid",
        "anonymous_id",
        "customer",
        # Swedish and Danish exports
        "kund_id",
        "kundnummer",
        "kunde_id",
        "kundenummer",
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
    event: str
    channel: str | None
    value: str | None
    event_id: str | None
    session_id: str | None
    properties: tuple[str, ...]
    properties_json: str | None = None

    def describe(self) -> dict[str, str]:
        out = {
            "customer_id": " or ".join(self.customer),
            "timestamp": self.timestamp,
            "event": self.event,
        }
        for key in (CHANNEL, VALUE, EVENT_ID, SESSION_ID):
            src = getattr(self, key)
            if src is not None:
                out[key] = src
        if self.properties_json is not None:
            out[PROPERTIES] = self.properties_json
        return out


def _find(columns: list[str], wanted: str) -> str | None:
    lower = {c.lower(): c for c in reversed(columns)}
    return lower.get(wanted.lower())


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

    Examples
    --------
    >>> m = map_columns(["userId", "anonymousId", "ts", "event_name", "path"], source="x.csv")
    >>> m.customer, m.timestamp, m.event, m.properties
    (('userId', 'anonymousId'), 'ts', 'event_name', ('path',))
    """
    seen: dict[str, int] = {}
    for c in columns:
        seen[c.lower()] = seen.get(c.lower(), 0) + 1
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

    cust_given = explicit(customer_col, "--customer-col")
    if cust_given is not None:
        customer: tuple[str, ...] = (cust_given,)
    else:
        found_all = [f for a in ALIASES["customer_id"] if (f := _find(columns, a)) is not None]
        if not found_all:
            required("customer_id", "--customer-col", None)  # raises with the full message
        customer = tuple(dict.fromkeys(found_all))
    timestamp = required("timestamp", "--time-col", explicit(time_col, "--time-col"))
    event = required("event", "--event-col", explicit(event_col, "--event-col"))
    used = {*customer, timestamp, event}
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
    props = tuple(c for c in columns if c not in used)
    return ColumnMap(
        customer, timestamp, event, channel, value, event_id, session_id, props, properties_json
    )
