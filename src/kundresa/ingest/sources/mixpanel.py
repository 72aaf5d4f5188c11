"""Mixpanel's raw event export (the Export API, ``/api/2.0/export``): JSON Lines of
``{"event": NAME, "properties": {...}}``, with the ids and the time inside ``properties``
(Mixpanel docs, "Raw Event Export API" and "Identity management").
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kundresa.ingest.sources._base import Sample, SourceError, article, register
from kundresa.ingest.sources._records import (
    PROPS,
    BadRow,
    RecordSource,
    Row,
    blank,
    first,
    first_id,
    flatten,
    parse_json,
)

DEVICE_PREFIX = "$device:"
_ID_FIELDS = ("distinct_id", "$user_id", "$device_id")


@register
class MixpanelSource(RecordSource):
    """Mixpanel raw export → canonical columns.

    ``event`` → event; ``properties.time`` (epoch s or ms) → timestamp; ``$insert_id`` →
    event_id; ``$user_id`` (else a ``distinct_id`` that is neither ``$device:…`` nor the
    ``$device_id``) → customer_id; ``$device_id`` (else the id in a ``$device:`` distinct_id)
    → anonymous_id; ``revenue`` (else ``value``) → value; ``$session_id`` (else
    ``session_id``) → session_id; every other property kept under its name (``$browser``,
    ``$current_url``, ``utm_source``…).
    """

    name = "mixpanel"
    title = "Mixpanel raw export"
    required = (("event", "properties"),)

    confirms = True

    def detect(self, sample: Sample) -> int:
        if not sample.has("event", "properties"):
            return 0
        blobs = sample.values("properties")[:20]
        hits = sum('"distinct_id"' in b and '"time"' in b for b in blobs)
        return 90 if blobs and hits * 2 >= len(blobs) else 0

    def confirm(self, sample: Sample) -> None:
        """Refuse a file whose columns fit (``event``, ``properties``: a Segment messages
        file has them too) when none of its first records holds a Mixpanel event's
        ``properties.time`` or an id (``distinct_id``, ``$user_id`` or ``$device_id``); a
        record with one of them is a Mixpanel event, and one lacking the other is
        quarantined naming it."""
        blobs = sample.values("properties")
        for blob in blobs:
            try:
                props = json.loads(blob)
            except (ValueError, RecursionError):
                continue
            if not isinstance(props, dict):
                continue
            has_id = any(not blank(props.get(k)) for k in _ID_FIELDS)
            has_time = not blank(props.get("time"))
            if has_id or has_time:
                return
        if not blobs:
            return  # no record to tell by; there is nothing to load either
        raise SourceError(
            f"not {article(self.title)}: no properties.distinct_id, properties.time in its "
            f"first {len(blobs)} records "
            f"(needs event+properties.time+properties.distinct_id; "
            f"columns: {', '.join(sample.header)})"
        )

    def records(self, record: Row) -> Iterable[Row]:
        event = first(record, "event")
        if event is None:
            raise BadRow("missing event")
        props = parse_json(record, "properties")
        if props is None:
            raise BadRow("missing properties")
        props = flatten(props, depth=0)
        ts = props.pop("time", None)
        if blank(ts):
            raise BadRow("missing properties.time")
        distinct = first_id(props, "distinct_id")
        props.pop("distinct_id", None)
        user, device = first_id(props, "$user_id"), first_id(props, "$device_id")
        if distinct and distinct.startswith(DEVICE_PREFIX):
            device = device or distinct[len(DEVICE_PREFIX) :]
        elif distinct and distinct != device:
            user = user or distinct
        if user is None and device is None:
            raise BadRow("missing properties.distinct_id ($user_id, $device_id)")
        value = first(props, "revenue", "value")
        props.pop("value", None)
        session = first(props, "$session_id", "session_id")
        props.pop("session_id", None)
        return [
            {
                "customer_id": user,
                "anonymous_id": device,
                "timestamp": ts,
                "event": event,
                "value": value,
                "event_id": first(props, "$insert_id"),
                "session_id": session,
                PROPS: props,
            }
        ]
