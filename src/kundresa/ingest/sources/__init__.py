"""Sources: the exports people really have, mapped onto Kundresa's event columns.

A :class:`Source` knows one export format (GA4's BigQuery export, Segment's raw JSON, a
HubSpot contact export…). It recognises a file from its columns and first records
(:meth:`Source.detect`) and turns every batch the readers produce into **canonical columns**
(:meth:`Source.transform`), which the warehouse then parses, checks and stores exactly as it
does for a plain events file. Adding a source touches one module: write a subclass in a module
of this package and decorate it with :func:`register`.

Canonical columns a source produces (all strings, null where unknown):

``customer_id``
    The known (signed-in, CRM, user) id of the person.
``anonymous_id``
    A device, cookie or pseudonymous id (GA4 ``user_pseudo_id``, Segment ``anonymousId``,
    Amplitude ``device_id``). A row needs one of the two ids; when both are present the row
    links them (identity stitching, docs/identity.md).
``timestamp``
    ISO 8601 text (with or without an offset) or a Unix epoch in s, ms, µs or ns.
``event``, ``channel``, ``value``, ``event_id``, ``session_id``
    As in a plain events file (README, "Loading events").
``_kind``
    Null or ``event`` for an event. ``identify`` for a row that only links
    ``anonymous_id`` and ``customer_id`` (Segment ``identify``/``alias``): not an event; its
    other columns are traits of the customer.
any other column
    An event property (a trait on an ``identify`` row).

Examples
--------
>>> from kundresa.ingest.sources import SOURCES, get_source
>>> "events" in SOURCES
True
>>> get_source("events").name
'events'
"""

from __future__ import annotations

from kundresa.ingest.sources._base import (
    ANONYMOUS_ID,
    KIND,
    KIND_EVENT,
    KIND_IDENTIFY,
    SOURCES,
    Sample,
    Source,
    SourceError,
    detect_source,
    get_source,
    read_sample,
    register,
    source_names,
)

__all__ = [
    "ANONYMOUS_ID",
    "KIND",
    "KIND_EVENT",
    "KIND_IDENTIFY",
    "SOURCES",
    "Sample",
    "Source",
    "SourceError",
    "detect_source",
    "get_source",
    "read_sample",
    "register",
    "source_names",
]
