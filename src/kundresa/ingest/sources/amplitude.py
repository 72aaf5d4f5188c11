"""Amplitude's export (the Export API, ``/api/2/export``): a zip of gzipped JSON Lines files,
one event per line (Amplitude docs, "Export API": ``event_type``, ``user_id``,
``device_id``, ``event_time`` in UTC, ``$insert_id``, ``session_id``, ``event_properties``,
``user_properties``, ``revenue``, ``price``, ``quantity``…). Read the zip as it is:
``kundresa ingest export.zip``.
"""

from __future__ import annotations

from collections.abc import Iterable

from kundresa.ingest.sources._base import Sample, register
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
    text,
    utc_text,
)

# Mapped fields and Amplitude's processing bookkeeping: not properties.
_SKIP = {
    "event_type",
    "user_id",
    "device_id",
    "event_time",
    "$insert_id",
    "insert_id",
    "uuid",
    "session_id",
    "event_properties",
    "user_properties",
    "group_properties",
    "groups",
    "data",
    "revenue",
    "server_received_time",
    "server_upload_time",
    "client_upload_time",
    "processed_time",
    "client_event_time",
    "amplitude_attribution_ids",
    "$schema",
    "sample_rate",
    "is_attribution_event",
}


@register
class AmplitudeSource(RecordSource):
    """Amplitude export → canonical columns.

    ``event_type`` → event; ``event_time`` (UTC) → timestamp; ``user_id`` → customer_id;
    ``device_id`` → anonymous_id; ``$insert_id`` (else ``insert_id``, ``uuid``) →
    event_id; ``device_id:session_id`` → session_id (Amplitude's session id is the session's
    start in ms, unique per device; ``-1`` is no session); ``revenue`` (else ``price`` ×
    ``quantity``) → value; ``event_properties`` → properties, ``user_properties`` →
    ``user.NAME`` properties; other fields (``platform``, ``country``…) kept. Amplitude's
    own ``event_id`` (a per-device counter) is kept as ``amplitude_event_id``.
    """

    name = "amplitude"
    title = "Amplitude export"
    required = (("event_type", "event_time", "device_id"), ("event_type", "event_time", "user_id"))

    def detect(self, sample: Sample) -> int:
        if not sample.has("event_type"):
            return 0
        if sample.has("amplitude_id") or (sample.has("device_id") and sample.has("event_time")):
            return 90
        return 0

    def records(self, record: Row) -> Iterable[Row]:
        event = first(record, "event_type")
        if event is None:
            raise BadRow("missing event_type")
        ts = first(record, "event_time", "client_event_time")
        if ts is None:
            raise BadRow("missing event_time")
        user, device = first_id(record, "user_id"), first_id(record, "device_id")
        if user is None and device is None:
            raise BadRow("missing user_id and device_id")
        props: Row = {k: v for k, v in record.items() if k not in _SKIP and not blank(v)}
        if "event_id" in props:
            props["amplitude_event_id"] = props.pop("event_id")
        for key, value in flatten(parse_json(record, "user_properties") or {}, depth=0).items():
            props[f"user.{key}"] = value
        flatten(parse_json(record, "event_properties") or {}, "", props, depth=1)
        value = first(record, "revenue")
        if value is None and not blank(record.get("price")):
            try:
                value = float(record["price"]) * float(record.get("quantity") or 1)
            except ValueError as exc:
                raise BadRow(f"price {record['price']!r} is not a number") from exc
        session = text(first(record, "session_id"))
        session = None if session in ("-1", None) else f"{text(device or user)}:{session}"
        return [
            {
                "customer_id": user,
                "anonymous_id": device,
                "timestamp": utc_text(ts),
                "event": event,
                "value": value,
                "event_id": first(record, "$insert_id", "insert_id", "uuid"),
                "session_id": session,
                PROPS: props,
            }
        ]
