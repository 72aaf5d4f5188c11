"""The canonical event table: column names and types every layer agrees on.

One row per event. ``timestamp`` is a UTC instant stored as a zone-less timestamp with
microsecond precision (so that DuckDB, Spark and other engines read it the same way);
``properties`` holds every extra column of the source as a string-to-string map.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

__all__ = [
    "CHANNEL",
    "CUSTOMER",
    "EVENT",
    "EVENT_COLUMNS",
    "EVENT_ID",
    "EVENT_SCHEMA",
    "OPTIONAL_COLUMNS",
    "PROPERTIES",
    "REQUIRED_COLUMNS",
    "SESSION_ID",
    "TIMESTAMP",
    "VALUE",
]

CUSTOMER = "customer_id"
TIMESTAMP = "timestamp"
EVENT = "event"
CHANNEL = "channel"
VALUE = "value"
EVENT_ID = "event_id"
SESSION_ID = "session_id"
PROPERTIES = "properties"

REQUIRED_COLUMNS = (CUSTOMER, TIMESTAMP, EVENT)
OPTIONAL_COLUMNS = (CHANNEL, VALUE, EVENT_ID, SESSION_ID)

EVENT_SCHEMA = ibis.schema(
    {
        CUSTOMER: dt.String(nullable=False),
        TIMESTAMP: dt.Timestamp(scale=6, nullable=False),
        EVENT: dt.String(nullable=False),
        CHANNEL: dt.string,
        VALUE: dt.float64,
        EVENT_ID: dt.string,
        SESSION_ID: dt.string,
        PROPERTIES: dt.Map(dt.string, dt.string),
    }
)
EVENT_COLUMNS = tuple(EVENT_SCHEMA.names)
