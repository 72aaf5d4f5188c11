"""Analyses straight on a GA4 BigQuery export table, with no ingest.

:func:`ga4_events` is the GA4 mapping of :mod:`kundresa.ingest.sources.ga4` written as an
Ibis expression over the raw export (Google's "[GA4] BigQuery Export schema", Analytics Help
answer 7029846), so it runs where the table lives (BigQuery, or DuckDB over the same rows):

- ``event_timestamp`` (µs since the epoch, UTC) → ``timestamp``; ``event_name`` → ``event``;
- ``user_id``, else the ``user_id`` seen on another event of the same ``user_pseudo_id``,
  else ``user_pseudo_id`` → ``customer_id`` (identity stitching on the pseudonymous id);
- ``event_params`` → properties (each value as text), with ``ga_session_id`` made the
  ``session_id`` (``user_pseudo_id:ga_session_id``) and ``value`` the event's value unless
  ``ecommerce.purchase_revenue`` is set;
- traffic source (the event's collected source, else the session's last click, else the
  user's first visit) → ``source``/``medium``/``campaign``/``gclid`` properties, and the
  session's default channel group (where exported) or the default channel grouping of
  :func:`kundresa.ingest.channels.default_channel` on them → ``channel``;
- ``device``, ``geo`` and ``app_info`` fields → ``device.category``… properties, other scalar
  columns (``platform``, ``event_date``…) → properties of the same name.

Properties are a key/value array (``ARRAY<STRUCT<key STRING, value STRING>>``), read by
:func:`kundresa.analytics._portable.property_value` like any other.

Differences from ingesting the export: the channel is not derived from page URLs and referrers
(only from the campaign fields and click ids), ``items`` and ``user_properties`` are left
out, and no event id is made (analyses do not use it).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from kundresa.errors import KundresaError
from kundresa.ingest.channels import CLICK_IDS, default_channel
from kundresa.model.events import (
    CHANNEL,
    CUSTOMER,
    EVENT,
    EVENT_COLUMNS,
    EVENT_ID,
    PROPERTIES,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
)

__all__ = ["GA4_TABLES", "ga4_events", "ga4_table"]

#: The daily tables of a GA4 export (``events_YYYYMMDD``, ``events_intraday_YYYYMMDD``).
GA4_TABLES = re.compile(r"^events_(intraday_)?\d{8}$")

_EPOCH = ibis.timestamp("1970-01-01 00:00:00")
_PROPERTY = dt.Struct({"key": dt.string, "value": dt.string})
_FLATTENED = ("device", "geo", "app_info")
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
    "privacy_info",
    "user_ltv",
    "publisher",
    *_FLATTENED,
}


class GA4TableError(KundresaError):
    """The GA4 table named cannot be read (missing, or not a GA4 export)."""

    http_status = 422


def _field(t: ir.Table, *path: str) -> ir.Value:
    """``t.a.b.c``, or a null string when the export has no such column or field."""
    schema_type: Any = t.schema().get(path[0])
    if schema_type is None:
        return ibis.null(dt.string)
    value: Any = t[path[0]]
    for name in path[1:]:
        if not schema_type.is_struct() or name not in schema_type.names:
            return ibis.null(dt.string)
        schema_type = schema_type[name]
        value = value[name]
    return value


def _text(value: ir.Value) -> ir.StringValue:
    """A value as the ingest writes it: text; blank text counts as missing."""
    s = value.cast("string")
    return ibis.ifelse(s.strip() == "", ibis.null(dt.string), s)


def _number_text(d: Any) -> ir.StringValue:
    """A float as the ingest writes it: whole numbers without ``.0`` (Python's ``repr``)."""
    whole = (d == d.floor()) & (d.abs() < 1e15)
    return ibis.ifelse(whole, d.cast("int64").cast("string"), d.cast("string"))


def _param_text(value: ir.StructValue) -> ir.StringValue:
    """A GA4 parameter's value (``string_value``, ``int_value``, ``double_value`` or
    ``float_value``, the first that is set) as text."""
    names = value.type().names
    parts: list[Any] = []
    for kind in ("string_value", "int_value", "double_value", "float_value"):
        if kind in names:
            v = value[kind]
            parts.append(
                _number_text(v) if kind in ("double_value", "float_value") else v.cast("string")
            )
    return ibis.coalesce(*parts)


def _param(t: ir.Table, key: str) -> ir.StringValue:
    if "event_params" not in t.schema():
        return ibis.null(dt.string)
    found = t.event_params.filter(lambda p: p.key == key).map(lambda p: _param_text(p.value))
    return found[0]


def _traffic(t: ir.Table) -> dict[str, ir.StringValue]:
    """source, medium, campaign and gclid in the order of the ingest's GA4 source."""
    collected = {
        k: _text(_field(t, "collected_traffic_source", f))
        for k, f in (
            ("source", "manual_source"),
            ("medium", "manual_medium"),
            ("campaign", "manual_campaign_name"),
            ("gclid", "gclid"),
        )
    }
    has_collected = collected["source"].notnull() | collected["medium"].notnull()
    tiers: list[tuple[ir.BooleanValue, dict[str, ir.StringValue]]] = [(has_collected, collected)]
    # A click id without campaign fields: the click id says where the visit came from.
    tiers.append((collected["gclid"].notnull(), dict.fromkeys(("source", "medium", "campaign"))))
    for part in ("cross_channel_campaign", "manual_campaign"):
        tier = {
            "source": _text(_field(t, "session_traffic_source_last_click", part, "source")),
            "medium": _text(_field(t, "session_traffic_source_last_click", part, "medium")),
            "campaign": _text(
                _field(t, "session_traffic_source_last_click", part, "campaign_name")
            ),
        }
        tiers.append((tier["source"].notnull() | tier["medium"].notnull(), tier))
    user = {
        "source": _text(_field(t, "traffic_source", "source")),
        "medium": _text(_field(t, "traffic_source", "medium")),
        "campaign": _text(_field(t, "traffic_source", "name")),
    }
    tiers.append((user["source"].notnull() | user["medium"].notnull(), user))
    out: dict[str, ir.StringValue] = {"gclid": collected["gclid"]}
    for key in ("source", "medium", "campaign"):
        cases = [
            (cond, v[key] if v[key] is not None else ibis.null(dt.string)) for cond, v in tiers
        ]
        out[key] = ibis.cases(*cases, else_=ibis.null(dt.string))
    return out


def _channel_lookup(origins: ir.Table) -> ir.Table:
    """The default channel of each distinct (source, medium, campaign, gclid) of the table,
    by the ingest's own rules (few rows: computed here, joined back where the data lives)."""
    rows = origins.distinct().to_pyarrow().to_pylist()
    click_source, click_medium = CLICK_IDS["gclid"]
    out: dict[str, list[Any]] = {"_s": [], "_m": [], "_c": [], "_g": [], "_channel": []}
    for r in rows:
        source, medium, campaign = r["_s"], r["_m"], r["_c"]
        if source is None and medium is None and r["_g"]:
            source, medium = click_source, click_medium
        for k in ("_s", "_m", "_c", "_g"):
            out[k].append(r[k])
        out["_channel"].append(default_channel(source, medium, campaign))
    schema = {"_s": "string", "_m": "string", "_c": "string", "_g": "boolean", "_channel": "string"}
    return ibis.memtable(out, schema=schema)


def ga4_events(raw: ir.Table, *, channels: bool = True) -> ir.Table:
    """The canonical events of a raw GA4 export table, as an Ibis expression on its backend.

    Parameters
    ----------
    raw
        One GA4 export table (or a union of daily ones) with at least ``event_timestamp``
        (INT64, µs), ``event_name`` and ``user_pseudo_id``.
    channels
        Derive the channel of events without GA4's default channel group from their traffic
        source (one query for the distinct sources, run now); ``False`` keeps only GA4's
        group, for an expression on an unbound table (SQL compiled without a server).

    Returns
    -------
    ibis.expr.types.Table
        The columns of :data:`kundresa.model.events.EVENT_COLUMNS`; ``properties`` is an
        array of ``{key, value}`` text pairs.

    Raises
    ------
    GA4TableError
        A required GA4 column is missing.
    """
    missing = [
        c for c in ("event_timestamp", "event_name", "user_pseudo_id") if c not in raw.schema()
    ]
    if missing:
        raise GA4TableError(f"not a GA4 export table: no {', '.join(missing)} column")
    t = raw
    pseudo = _text(t.user_pseudo_id)
    user = _text(t.user_id) if "user_id" in t.schema() else ibis.null(dt.string)
    traffic = _traffic(t)
    session = _param(t, "ga_session_id")
    revenue = _field(t, "ecommerce", "purchase_revenue")
    value = ibis.coalesce(revenue.cast("float64"), _param(t, "value").cast("float64"))
    group = _text(
        _field(
            t,
            "session_traffic_source_last_click",
            "cross_channel_campaign",
            "default_channel_group",
        )
    )
    group_id = group.lower().replace("-", " ").re_replace(r"\s+", "_").strip()
    # Properties: the event's parameters (but the two that became columns), the traffic
    # source, flattened device/geo/app fields and the other scalar columns.
    pairs: list[ir.Value] = []
    for key, v in traffic.items():
        pairs.append(ibis.struct({"key": ibis.literal(key), "value": v}))
    for rec in _FLATTENED:
        rec_type = t.schema().get(rec)
        if rec_type is not None and rec_type.is_struct():
            for name, ftype in rec_type.items():
                if ftype.is_primitive() or ftype.is_string():
                    pairs.append(
                        ibis.struct(
                            {"key": ibis.literal(f"{rec}.{name}"), "value": _text(t[rec][name])}
                        )
                    )
    for name, ctype in t.schema().items():
        if name not in _CONSUMED and (ctype.is_primitive() or ctype.is_string()):
            pairs.append(ibis.struct({"key": ibis.literal(name), "value": _text(t[name])}))
    props: Any = ibis.array(pairs).cast(dt.Array(_PROPERTY))
    if "event_params" in t.schema():
        params = t.event_params.filter(
            lambda p: (p.key != "ga_session_id") & (p.key != "value")
        ).map(lambda p: ibis.struct({"key": p.key, "value": _param_text(p.value)}))
        props = params.cast(dt.Array(_PROPERTY)).concat(props)
    props = props.filter(lambda p: p.value.notnull())
    events = t.select(
        _pseudo=pseudo,
        _user=user,
        **{
            TIMESTAMP: _EPOCH + t.event_timestamp.cast("int64").as_interval("us"),
            EVENT: t.event_name.cast("string"),
            VALUE: value,
            SESSION_ID: ibis.ifelse(
                session.notnull(), ibis.coalesce(pseudo, user) + ":" + session, ibis.null(dt.string)
            ),
            PROPERTIES: props,
        },
        _group=group_id,
        _s=traffic["source"],
        _m=traffic["medium"],
        _c=traffic["campaign"],
        _g=traffic["gclid"].notnull(),
    )
    if channels:
        lookup = _channel_lookup(events.select("_s", "_m", "_c", "_g"))
        joined = events.left_join(
            lookup,
            [
                events._s.identical_to(lookup._s),
                events._m.identical_to(lookup._m),
                events._c.identical_to(lookup._c),
                events._g == lookup._g,
            ],
        )
    else:
        joined = events.mutate(_channel=ibis.null(dt.string))
    # Identity stitching: a pseudonymous id seen with a user id is that user.
    known = ibis.window(group_by=joined._pseudo)
    customer = ibis.coalesce(joined._user, joined._user.max().over(known), joined._pseudo)
    return joined.select(
        **{
            CUSTOMER: customer,
            TIMESTAMP: joined[TIMESTAMP],
            EVENT: joined[EVENT],
            CHANNEL: ibis.coalesce(joined._group, joined._channel),
            VALUE: joined[VALUE],
            EVENT_ID: ibis.null(dt.string),
            SESSION_ID: joined[SESSION_ID],
            PROPERTIES: joined[PROPERTIES],
        }
    ).select(*EVENT_COLUMNS)


def ga4_table(backend: Any, name: str | None = None) -> ir.Table:
    """The raw GA4 export on ``backend``: table ``name`` (a ``*`` pattern is the union of the
    tables it matches, or BigQuery's own wildcard table), by default every daily
    ``events_YYYYMMDD`` table.

    Raises
    ------
    GA4TableError
        No table of that name or pattern.
    """
    if name is not None and "*" not in name:
        try:
            return backend.table(name)
        except Exception as exc:
            raise GA4TableError(f"--table {name!r}: no such table ({exc})") from exc
    pattern = name or "events_*"
    if getattr(backend, "name", "") == "bigquery":
        # BigQuery's wildcard table: a query (its schema is the union of the daily tables').
        return backend.sql(f"SELECT * FROM `{pattern}`", dialect="bigquery")
    tables = sorted(
        n
        for n in backend.list_tables()
        if (GA4_TABLES.match(n) if name is None else fnmatch.fnmatchcase(n, pattern))
    )
    if not tables:
        raise GA4TableError(f"no GA4 export table matching {pattern!r}")
    parts = [backend.table(n) for n in tables]
    if len(parts) == 1:
        return parts[0]
    # GA4 adds columns over time: the union keeps the columns every daily table has alike.
    first = parts[0].schema()
    common = [c for c in first.names if all(p.schema().get(c) == first[c] for p in parts)]
    return ibis.union(*(p.select(*common) for p in parts))
