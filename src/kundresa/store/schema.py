"""The canonical event table's Ibis schema: the types every engine stores and reads.

The column names are plain strings in :mod:`kundresa.model.events` (the journey model imports
no engine); this module gives them their types. ``timestamp`` is a UTC instant stored as a
zone-less timestamp with microsecond precision (so that DuckDB, Spark and other engines read it
the same way); ``properties`` maps every extra column of the source, as strings.

Examples
--------
>>> from kundresa.store.schema import EVENT_SCHEMA
>>> from kundresa.model.events import EVENT_COLUMNS
>>> tuple(EVENT_SCHEMA.names) == EVENT_COLUMNS
True
>>> EVENT_SCHEMA["timestamp"]
Timestamp(timezone=None, scale=6, nullable=False)
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from kundresa.model.events import (
    CHANNEL,
    CUSTOMER,
    EVENT,
    EVENT_ID,
    PROPERTIES,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
)

__all__ = ["EVENT_SCHEMA"]

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
