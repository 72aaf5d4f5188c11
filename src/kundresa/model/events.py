"""The canonical event table: the column names every layer agrees on.

One row per event: ``customer_id``, ``timestamp`` (a UTC instant), ``event``, and the optional
``channel``, ``value`` (a number), ``event_id``, ``session_id`` and ``properties`` (every extra
column of the source, as a string-to-string map). The names are plain strings here, so the
journey model imports no engine; their Ibis types are in :mod:`kundresa.store.schema`.
"""

from __future__ import annotations

import math

__all__ = [
    "CHANNEL",
    "CUSTOMER",
    "EVENT",
    "EVENT_COLUMNS",
    "EVENT_ID",
    "NO_NUMBER_MARK",
    "OPTIONAL_COLUMNS",
    "PROPERTIES",
    "REQUIRED_COLUMNS",
    "SESSION_ID",
    "TIMESTAMP",
    "VALUE",
    "plain_number",
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

NO_NUMBER_MARK = "_"
"""Text holding this character is no number anywhere (``1_000``): Python's ``float`` and
DuckDB's cast read it as programming languages do, other SQL engines and the load do not. The
queries refuse it beside their casts (``kundresa.store.warehouse``, the journey's numeric
conditions in ``kundresa.analytics.touchpoints``)."""


def plain_number(value: object) -> float | None:
    """``value`` (a JSON number or a property's text) as the load and every query read it: a
    float, ``inf`` and ``nan`` included, or None where they read no number. Python alone
    also reads an underscore (``1_000``) and other scripts' digits (``١٢``, ``１２``), so such
    text is none here; so is a bool, None or any other type; an integer beyond a double is
    ``inf`` (or ``-inf``).

    >>> plain_number(" 12.5 "), plain_number("1_000"), plain_number("１２"), plain_number(True)
    (12.5, None, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and (NO_NUMBER_MARK in value or not value.isascii()):
        return None
    if not isinstance(value, str | int | float):
        return None
    try:
        return float(value)
    except ValueError:
        return None
    except OverflowError:  # an int beyond a double
        return math.inf if int(value) > 0 else -math.inf
