"""Google Analytics 4's BigQuery export (``events_YYYYMMDD`` tables as JSON Lines or Parquet).

Field names and shapes follow Google's "[GA4] BigQuery Export schema" (Analytics Help, answer
7029846): one row per event, ``event_params`` a repeated record of ``{key, value:
{string_value, int_value, float_value, double_value}}``, traffic source records per event
(``collected_traffic_source``), per session (``session_traffic_source_last_click``) and per
user (``traffic_source``, the user's first visit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    text,
)

# Records whose fields become properties as ``record.field`` (device.category, geo.country…).
_FLATTENED = ("device", "geo", "app_info", "privacy_info", "user_ltv", "publisher")
_CONSUMED = {
    "event_timestamp",
    "event_name",
    "user_id",
    "user_pseudo_id",
    "event_params",
    "ecommerce",
    "collected_traffic_source",
    "traffic_source",
    "session_traffic_source_last_click",
    "user_properties",
    "items",
    "event_bundle_sequence_id",
    "batch_event_index",
    *_FLATTENED,
}


def _param_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for kind in ("string_value", "int_value", "double_value", "float_value"):
        v = value.get(kind)
        if v is not None:
            return v
    return None


def _key_values(record: Row, field: str) -> Row:
    """A GA4 key/value array (``event_params``, ``user_properties``) as a dict."""
    entries = parse_json(record, field, list) or []
    out: Row = {}
    for entry in entries:
        if not isinstance(entry, dict) or blank(entry.get("key")):
            raise BadRow(f"{field!r} has an entry without a key")
        v = _param_value(entry.get("value"))
        if v is not None:
            out[str(entry["key"])] = v
    return out


@register
class GA4Source(RecordSource):
    """GA4 BigQuery export → canonical columns.

    ``event_timestamp`` (µs) → timestamp, ``event_name`` → event, ``user_id`` →
    customer_id, ``user_pseudo_id`` → anonymous_id, ``event_params`` → properties
    (``user_pseudo_id:ga_session_id`` → session_id), ``ecommerce.purchase_revenue`` (else
    the ``value`` param) → value, traffic source → ``source``/``medium``/``campaign``,
    GA4's session default channel group (where exported) → channel in snake case.
    GA4 has no event id: the id is ``ga4:`` + user_pseudo_id, event_bundle_sequence_id,
    event_timestamp, event_name (and batch_event_index where the export has it), stable
    across re-exports.
    """

    name = "ga4"
    title = "GA4 BigQuery export"
    required = (("event_timestamp", "event_name", "user_pseudo_id"),)

    def detect(self, sample: Sample) -> int:
        if not sample.has("event_timestamp", "event_name"):
            return 0
        score = 40
        if sample.has("user_pseudo_id"):
            score += 40
        if sample.has("event_params"):
            score += 15
        if sample.has("event_bundle_sequence_id"):
            score += 5
        return score if score >= 80 else 0

    def records(self, record: Row) -> Iterable[Row]:
        ts = first(record, "event_timestamp")
        if ts is None:
            raise BadRow("missing event_timestamp")
        name = first(record, "event_name")
        if name is None:
            raise BadRow("missing event_name")
        pseudo, user = first_id(record, "user_pseudo_id"), first_id(record, "user_id")
        if pseudo is None and user is None:
            raise BadRow("missing user_pseudo_id and user_id")
        params = _key_values(record, "event_params")
        props: Row = {
            key: value for key, value in record.items() if key not in _CONSUMED and not blank(value)
        }
        for rec in _FLATTENED:
            flatten(parse_json(record, rec), f"{rec}.", props, depth=1)
        for key, value in _key_values(record, "user_properties").items():
            props[f"user.{key}"] = value
        # ga_session_id is the session's start in seconds, unique only per user: the
        # session id is user_pseudo_id:ga_session_id, as GA4's own session counts do.
        session = params.pop("ga_session_id", None)
        if session is None:  # a flattened export (one column per parameter)
            session = props.pop("ga_session_id", None)
        if session is not None:
            session = f"{text(pseudo or user)}:{text(session)}"
        # A flattened export may also carry Kundresa's own columns: they keep their meaning.
        own = {
            k: props.pop(k) for k in ("channel", "value", "event_id", "session_id") if k in props
        }
        session = session if session is not None else own.get("session_id")
        ecommerce = parse_json(record, "ecommerce") or {}
        value = ecommerce.get("purchase_revenue")
        param_value = params.pop("value", None)
        if value is None:
            value = param_value if param_value is not None else own.get("value")
        props.update(params)
        for key, v in ecommerce.items():
            if v is not None:
                props[f"ecommerce.{key}"] = v
        items = parse_json(record, "items", list)
        if items:
            props["items"] = items
        props.update(self._traffic(record))
        # GA4's own grouping of the session (newer exports) is the channel as GA4 reports it.
        session_source = parse_json(record, "session_traffic_source_last_click") or {}
        group = member(session_source, "cross_channel_campaign").get("default_channel_group")
        channel = own.get("channel")
        if not blank(group):
            channel = "_".join(str(group).lower().replace("-", " ").split())
        event_id = own.get("event_id")
        bundle = first(record, "event_bundle_sequence_id")
        if bundle is not None and event_id is None:
            parts = [pseudo or user, bundle, ts, name]
            index = first(record, "batch_event_index")
            if index is not None:
                parts.append(index)
            event_id = "ga4:" + ":".join(text(p) or "" for p in parts)
        return [
            {
                "customer_id": user,
                "anonymous_id": pseudo,
                "timestamp": ts,
                "event": name,
                "channel": channel,
                "value": value,
                "event_id": event_id,
                "session_id": session,
                PROPS: props,
            }
        ]

    def _traffic(self, record: Row) -> Row:
        """source/medium/campaign (and gclid) of the event: what the event itself collected,
        else the session's last click, else the user's first visit."""
        out: Row = {}
        collected = parse_json(record, "collected_traffic_source") or {}
        if collected.get("gclid"):
            out["gclid"] = collected["gclid"]
        for key in ("manual_term", "manual_content", "manual_source_platform"):
            if collected.get(key):
                out[key.removeprefix("manual_")] = collected[key]
        if collected.get("manual_source") or collected.get("manual_medium"):
            out["source"] = collected.get("manual_source")
            out["medium"] = collected.get("manual_medium")
            out["campaign"] = collected.get("manual_campaign_name")
            return out
        if out.get("gclid"):
            return out
        session = parse_json(record, "session_traffic_source_last_click") or {}
        for part in ("cross_channel_campaign", "manual_campaign"):
            campaign = member(session, part)
            if campaign.get("source") or campaign.get("medium"):
                out["source"] = campaign.get("source")
                out["medium"] = campaign.get("medium")
                out["campaign"] = campaign.get("campaign_name")
                return out
        user = parse_json(record, "traffic_source") or {}
        if user.get("source") or user.get("medium"):
            out["source"] = user.get("source")
            out["medium"] = user.get("medium")
            out["campaign"] = user.get("name")
        return out
