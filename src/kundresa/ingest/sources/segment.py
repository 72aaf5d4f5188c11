"""Segment (and RudderStack, which follows the same spec): raw messages and warehouse tables.

Raw messages follow the Segment Spec (segment.com/docs/connections/spec: common fields,
``track``, ``page``, ``screen``, ``identify``, ``alias``, ``group``), one JSON message per line
as written by Segment's S3/archive destinations, webhooks or the HTTP API, or a batch envelope
``{"batch": [...]}`` per line. Warehouse tables are Segment's warehouse schema (``tracks``,
``pages``, ``screens``, ``identifies``, ``aliases``, ``groups``, and one table per track
event) exported to CSV, Parquet or JSON Lines: snake-case columns such as ``user_id``,
``anonymous_id``, ``event_text``, ``context_page_url``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kundresa.ingest.sources._base import KIND_IDENTIFY, Sample, register
from kundresa.ingest.sources._records import (
    PROPS,
    BadRow,
    RecordSource,
    Row,
    blank,
    first,
    first_id,
    flatten,
    iter_batch_messages,
    member,
    parse_json,
    utc_text,
)

VALUE_FIELDS = ("revenue", "total", "value")

# Raw message: context fields copied to properties under plain names.
_PAGE = ("url", "path", "referrer", "title", "search")
_CAMPAIGN = {
    "source": "source",
    "medium": "medium",
    "name": "campaign",
    "term": "term",
    "content": "content",
}
_CONTEXT_RECORDS = ("app", "device", "os", "location", "screen", "network")

# Warehouse tables: Segment's bookkeeping columns, not properties.
_WAREHOUSE_SKIP = {
    "id",
    "received_at",
    "sent_at",
    "original_timestamp",
    "timestamp",
    "uuid",
    "uuid_ts",
    "loaded_at",
    "user_id",
    "anonymous_id",
    "previous_id",
    "event",
    "event_text",
    "context_ip",
    "context_library_name",
    "context_library_version",
}
_WAREHOUSE_RENAMES = {
    "context_page_url": "url",
    "context_page_path": "path",
    "context_page_referrer": "referrer",
    "context_page_title": "title",
    "context_page_search": "search",
    "context_campaign_source": "source",
    "context_campaign_medium": "medium",
    "context_campaign_name": "campaign",
    "context_campaign_term": "term",
    "context_campaign_content": "content",
    "context_user_agent": "user_agent",
    "channel": "segment_channel",
}


SPEC_TYPES = frozenset({"track", "page", "screen", "identify", "alias", "group"})
"""The message types of the Segment Spec."""


def _messages_in(batch: str) -> bool:
    """Whether a ``batch`` field's text is a JSON array holding a Segment message (an
    object with a ``messageId`` or a ``type`` of the spec).

    Examples
    --------
    >>> _messages_in('[{"type": "track", "event": "e"}]'), _messages_in('[1, 2]')
    (True, False)
    """
    try:
        messages = json.loads(batch)
    except (ValueError, RecursionError):
        return False
    return isinstance(messages, list) and any(
        isinstance(m, dict) and ("messageId" in m or str(m.get("type", "")).lower() in SPEC_TYPES)
        for m in messages
    )


def _value(props: Row) -> object:
    for field in VALUE_FIELDS:
        if not blank(props.get(field)):
            return props.pop(field) if field == "value" else props[field]
    return None


def message_row(msg: Row) -> Row:
    """One Segment Spec message (``track``, ``page``, ``screen``, ``identify``, ``alias``,
    ``group``) as a canonical row: the one mapping shared by the ``segment`` file source and
    the HTTP collector (:mod:`kundresa.live.collector`).

    Nested fields may be objects or their JSON text. Properties are under :data:`PROPS`.

    Raises
    ------
    BadRow
        When the message cannot be mapped; the message names the field.

    Examples
    --------
    >>> row = message_row({"type": "page", "anonymousId": "a1", "name": "Pricing",
    ...                    "timestamp": "2025-05-01T10:00:00Z", "messageId": "m1"})
    >>> row["event"], row["event_id"], row["_props"]
    ('page_view', 'm1', {'name': 'Pricing'})
    >>> message_row({"type": "track", "userId": "u1", "timestamp": "2025-05-01T10:00:00Z"})
    Traceback (most recent call last):
    ...
    kundresa.ingest.sources._records.BadRow: missing event (a track call)
    """
    kind = first(msg, "type")
    if kind is None:
        raise BadRow("missing type")
    kind = str(kind).lower()
    ts = utc_text(first(msg, "timestamp", "originalTimestamp", "sentAt", "receivedAt"))
    if ts is None:
        raise BadRow("missing timestamp (and originalTimestamp, sentAt, receivedAt)")
    user, anonymous = first_id(msg, "userId"), first_id(msg, "anonymousId")
    if kind == "alias":
        previous = first_id(msg, "previousId")
        if previous is None or user is None:
            raise BadRow("alias needs previousId and userId")
        return {
            "customer_id": user,
            "anonymous_id": previous,
            "timestamp": ts,
            "event_id": first(msg, "messageId"),
            "_kind": KIND_IDENTIFY,
            PROPS: {},
        }
    if user is None and anonymous is None:
        raise BadRow("missing userId and anonymousId")
    context = parse_json(msg, "context") or {}
    row: Row = {
        "customer_id": user,
        "anonymous_id": anonymous,
        "timestamp": ts,
        "event_id": first(msg, "messageId"),
    }
    if kind in ("identify", "group"):
        traits = parse_json(msg, "traits") or context.get("traits") or {}
        props = flatten(traits, depth=1)
        if kind == "group":
            props = {f"group.{k}": v for k, v in props.items()}
            props["group_id"] = first(msg, "groupId")
        row["_kind"] = KIND_IDENTIFY
        row[PROPS] = props
        return row
    props = {}
    if kind == "track":
        event = first(msg, "event")
        if event is None:
            raise BadRow("missing event (a track call)")
        row["event"] = event
    elif kind in ("page", "screen"):
        row["event"] = f"{kind}_view"
        for field in ("name", "category"):
            if not blank(msg.get(field)):
                props[field] = msg[field]
    else:
        raise BadRow(f"unknown type {kind!r} (field 'type')")
    page = member(context, "page")
    for field in _PAGE:
        if page.get(field) is not None:
            props[field] = page[field]
    campaign = member(context, "campaign")
    for field, name in _CAMPAIGN.items():
        if campaign.get(field) is not None:
            props[name] = campaign[field]
    for rec in _CONTEXT_RECORDS:
        flatten(member(context, rec), f"{rec}.", props, 0)
    for field, name in (("userAgent", "user_agent"), ("locale", "locale")):
        if context.get(field) is not None:
            props[name] = context[field]
    if not blank(msg.get("channel")):
        props["segment_channel"] = msg["channel"]
    flatten(parse_json(msg, "properties") or {}, "", props, depth=1)
    row["value"] = _value(props)
    row[PROPS] = props
    return row


@register
class SegmentSource(RecordSource):
    """Segment raw messages or warehouse tables → canonical columns.

    ``track`` → its ``event``; ``page`` → ``page_view`` and ``screen`` → ``screen_view``
    (page/screen ``name`` as the ``name`` property); ``identify``, ``alias`` and ``group``
    → identify rows (``_kind`` = ``identify``: ids and traits, not events); ``messageId``
    (warehouse ``id``) → event_id; ``timestamp`` (else ``originalTimestamp``, ``sentAt``,
    ``receivedAt``) → timestamp; ``properties.*`` → properties; ``properties.revenue``
    (else ``total``, ``value``) → value; ``context.campaign.*`` → ``source``/``medium``/
    ``campaign``; ``context.page.*`` → ``url``/``path``/``referrer``/``title``.
    """

    name = "segment"
    title = "Segment export"
    required = (
        ("type",),
        ("batch",),
        ("id", "timestamp", "anonymous_id"),
        ("id", "timestamp", "user_id"),
        ("id", "received_at", "anonymous_id"),
        ("id", "received_at", "user_id"),
    )

    def detect(self, sample: Sample) -> int:
        # Batch envelopes ({"batch": [...]} lines) count whatever the other lines hold:
        # a file may mix them with plain messages, whose columns then come with them.
        batches = sample.has("batch") and any(_messages_in(v) for v in sample.values("batch")[:20])
        if sample.has("type") and (sample.has("messageId") or sample.has("anonymousId")):
            # A file of one's own may have a "type" column meaning something else.
            kinds = {k.lower() for k in sample.values("type")}
            if kinds and kinds <= SPEC_TYPES:
                return 90
            return 80 if batches else 0
        if batches:
            return 80
        if (
            sample.has("id")
            and (sample.has("received_at") or sample.has("uuid_ts"))
            and (sample.has("anonymous_id") or sample.has("user_id"))
        ):
            return 70
        return 0

    def records(self, record: Row) -> Iterable[Row]:
        messages = iter_batch_messages(record)
        if messages is not None:
            return [self._message(m) for m in messages]
        if {"type", "messageId"} & self.batch_columns:
            return [self._message(record)]
        return [self._warehouse(record)]

    # -- raw messages (camelCase, nested objects) ---------------------------------------------

    def _message(self, msg: Row) -> Row:
        return message_row(msg)

    # -- warehouse tables (snake_case, flat) ---------------------------------------------------

    def _warehouse(self, rec: Row) -> Row:
        ts = utc_text(first(rec, "timestamp", "original_timestamp", "sent_at", "received_at"))
        if ts is None:
            raise BadRow("missing timestamp (and original_timestamp, sent_at, received_at)")
        user, anonymous = first_id(rec, "user_id"), first_id(rec, "anonymous_id")
        row: Row = {"timestamp": ts, "event_id": first(rec, "id")}
        props: Row = {}
        for key, value in rec.items():
            if key in _WAREHOUSE_SKIP or blank(value):
                continue
            props[_WAREHOUSE_RENAMES.get(key, key)] = value
        cols = self.batch_columns
        if "previous_id" in cols:
            previous = first_id(rec, "previous_id")
            if previous is None or user is None:
                raise BadRow("alias needs previous_id and user_id")
            return {
                **row,
                "customer_id": user,
                "anonymous_id": previous,
                "_kind": KIND_IDENTIFY,
                PROPS: {},
            }
        if user is None and anonymous is None:
            raise BadRow("missing user_id and anonymous_id")
        row.update(customer_id=user, anonymous_id=anonymous)
        if "event" in cols or "event_text" in cols:
            event = first(rec, "event_text", "event")
            if event is None:
                raise BadRow("missing event_text and event")
            row["event"] = event
        elif cols & {"url", "path", "context_page_url", "title", "referrer"}:
            row["event"] = "page_view"
        elif "name" in cols:
            row["event"] = "screen_view"
        else:
            row["_kind"] = KIND_IDENTIFY
        if row.get("event") is not None:
            row["value"] = _value(props)
        row[PROPS] = props
        return row


@register
class RudderStackSource(SegmentSource):
    """RudderStack's events, which follow the Segment Spec (same mapping as ``segment``)."""

    name = "rudderstack"
    title = "RudderStack export"

    def detect(self, sample: Sample) -> int:
        if sample.has("rudderId") or sample.has("rudder_id"):
            return 95
        return 0
