"""The canonical event table: the column names every layer agrees on.

One row per event: ``customer_id``, ``timestamp`` (a UTC instant), ``event``, and the optional
``channel``, ``value`` (a number), ``event_id``, ``session_id`` and ``properties`` (every extra
column of the source, as a string-to-string map). The names are plain strings here, so the
journey model imports no engine; their Ibis types are in :mod:`kundresa.store.schema`.
"""

from __future__ import annotations

__all__ = [
    "CHANNEL",
    "CUSTOMER",
    "EVENT",
    "EVENT_COLUMNS",
    "EVENT_ID",
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

EVENT_COLUMNS = (CUSTOMER, TIMESTAMP, EVENT, CHANNEL, VALUE, EVENT_ID, SESSION_ID, PROPERTIES)
"""Every column, in the stored table's order."""
