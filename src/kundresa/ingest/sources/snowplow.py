"""Snowplow's enriched events: the ``atomic.events`` table exported with a header (TSV or CSV).

Column names follow Snowplow's canonical event model (docs.snowplow.io, "Canonical event"):
``event_id``, the timestamps ``derived_tstamp``/``collector_tstamp``/``dvce_created_tstamp``
(UTC), ``event`` (``page_view``, ``page_ping``, ``struct``, ``unstruct``, ``transaction``…),
the structured-event fields ``se_category``/``se_action``/``se_label``/``se_property``/
``se_value``, the ids ``user_id``/``domain_userid``/``network_userid``, ``domain_sessionid``,
the marketing fields ``mkt_*`` and the referrer fields ``refr_*``.
"""

from __future__ import annotations

import re
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
    member,
    parse_json,
    utc_text,
)

# Pipeline bookkeeping and fields already mapped: not properties.
_SKIP = {
    "event",
    "event_id",
    "user_id",
    "domain_userid",
    "network_userid",
    "domain_sessionid",
    "collector_tstamp",
    "derived_tstamp",
    "etl_tstamp",
    "dvce_sent_tstamp",
    "v_tracker",
    "v_collector",
    "v_etl",
    "name_tracker",
    "user_ipaddress",
    "user_fingerprint",
    "event_fingerprint",
    "etl_tags",
    "unstruct_event",
    "derived_contexts",
    "tr_total",
    "mkt_source",
    "mkt_medium",
    "mkt_campaign",
    "mkt_clickid",
    "mkt_network",
}
# Snowplow's referer parser's medium → a medium the channel rules know.
_REFR_MEDIUM = {"search": "organic", "social": "social", "email": "email", "unknown": "referral"}
# mkt_network (the ad network of a click id) → the click id's usual parameter name.
_CLICK_IDS = {
    "google": "gclid",
    "microsoft": "msclkid",
    "facebook": "fbclid",
    "tiktok": "ttclid",
    "doubleclick": "dclid",
    "twitter": "twclid",
}
_SCHEMA_NAME = re.compile(r"iglu:[^/]+/([^/]+)/")


@register
class SnowplowSource(RecordSource):
    """Snowplow ``atomic.events`` → canonical columns.

    ``derived_tstamp`` (else ``collector_tstamp``, ``dvce_created_tstamp``) → timestamp;
    ``event``, except ``struct`` events named by ``se_action`` and ``unstruct`` events by
    ``event_name`` (else the name in the self-describing event's schema URI);
    ``user_id`` → customer_id; ``domain_userid`` (else ``network_userid``) → anonymous_id;
    ``domain_sessionid`` → session_id; ``event_id`` → event_id; ``tr_total`` → value;
    ``mkt_source``/``mkt_medium``/``mkt_campaign`` (else the parsed referrer) →
    ``source``/``medium``/``campaign``; the self-describing event's data → properties.
    """

    name = "snowplow"
    title = "Snowplow atomic.events export"
    required = (
        ("event", "collector_tstamp", "domain_userid"),
        ("event", "derived_tstamp", "domain_userid"),
        ("event", "collector_tstamp", "user_id"),
        ("event", "collector_tstamp", "network_userid"),
    )

    def detect(self, sample: Sample) -> int:
        if not sample.has("collector_tstamp"):
            return 0
        score = 50
        for column in ("domain_userid", "event_id", "network_userid", "se_action"):
            if sample.has(column):
                score += 12
        return min(score, 98) if score >= 70 else 0

    def records(self, record: Row) -> Iterable[Row]:
        record = {k: v for k, v in record.items() if not blank(v) and v != "\\N"}
        ts = first(record, "derived_tstamp", "collector_tstamp", "dvce_created_tstamp")
        if ts is None:
            raise BadRow("missing derived_tstamp and collector_tstamp")
        kind = first(record, "event")
        if kind is None:
            raise BadRow("missing event")
        user = first_id(record, "user_id")
        anonymous = first_id(record, "domain_userid", "network_userid")
        if user is None and anonymous is None:
            raise BadRow("missing user_id, domain_userid and network_userid")
        props: Row = {k: v for k, v in record.items() if k not in _SKIP}
        event = kind
        if kind == "struct":
            event = first(record, "se_action")
            if event is None:
                raise BadRow("missing se_action (a struct event)")
        elif kind == "unstruct":
            envelope = parse_json(record, "unstruct_event") or {}
            inner = member(envelope, "data")
            flatten(member(inner, "data"), "", props, depth=1)
            found = _SCHEMA_NAME.match(str(inner.get("schema") or ""))
            event = first(record, "event_name") or (found.group(1) if found else None)
            if event is None:
                raise BadRow("missing event_name and unstruct_event schema (an unstruct event)")
        props.update(self._traffic(record))
        return [
            {
                "customer_id": user,
                "anonymous_id": anonymous,
                "timestamp": utc_text(ts),
                "event": event,
                "value": first(record, "tr_total"),
                "event_id": first(record, "event_id"),
                "session_id": first(record, "domain_sessionid"),
                PROPS: props,
            }
        ]

    def _traffic(self, record: Row) -> Row:
        out: Row = {}
        network = str(record.get("mkt_network") or "").lower()
        if record.get("mkt_clickid") and network in _CLICK_IDS:
            out[_CLICK_IDS[network]] = record["mkt_clickid"]
        if first(record, "mkt_source", "mkt_medium", "mkt_campaign") is not None:
            out["source"] = record.get("mkt_source")
            out["medium"] = record.get("mkt_medium")
            out["campaign"] = record.get("mkt_campaign")
            return out
        medium = str(record.get("refr_medium") or "").lower()
        if medium in _REFR_MEDIUM:
            out["source"] = first(record, "refr_source", "refr_urlhost")
            out["medium"] = _REFR_MEDIUM[medium]
        return out
