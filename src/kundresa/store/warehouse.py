"""The event warehouse: an embedded DuckDB database holding events, quarantine and the ingest log.

An ingest runs in one transaction. Files are first streamed into staging tables (all text),
then parsed, checked, deduplicated and inserted with set-based SQL, so a 10-million-row file
never has to fit in Python's memory. Whatever goes wrong — a bad header in the third file, an
interrupt, a killed process — the transaction does not commit and the warehouse is exactly as
it was.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import re
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kundresa._interrupts import transaction
from kundresa.errors import InputError
from kundresa.ingest.channels import assign_channels
from kundresa.ingest.columns import (
    EPOCH_MIN,
    MAX_OFFSET_HOURS,
    MISSING_NUMBERS,
    PLACEHOLDER_IDS,
    TIME_RANGE,
    ColumnError,
    ColumnMap,
    map_columns,
)
from kundresa.ingest.readers import RawBatch, ReadError, archive_size, iter_parts, read_header
from kundresa.model.events import NO_NUMBER_MARK
from kundresa.store import layout, resources
from kundresa.store._decoded import remember
from kundresa.store.identity import materialise_id_map
from kundresa.store.in_place import own_events

__all__ = [
    "HANDOVER_WAIT",
    "TAGGED_TABLE",
    "IdentityError",
    "IngestError",
    "IngestReport",
    "Warehouse",
    "handover_asked",
    "listen_for_handover",
]

SCHEMA_VERSION = "3"
"""Version 2 added identity stitching: ``events.anonymous_id``, ``identity_links``,
``customer_traits`` and ``id_map``; version 3 the journey-ordered store (``events._c``,
``events._e``, ``customer_codes``, ``event_codes``; see :mod:`kundresa.store.layout`). Older
warehouses gain them when opened for writing; their next write puts the events in order."""

_DDL = (
    """
    CREATE TABLE IF NOT EXISTS events (
        customer_id VARCHAR NOT NULL,
        "timestamp" TIMESTAMP NOT NULL,
        event VARCHAR NOT NULL,
        channel VARCHAR,
        value DOUBLE,
        event_id VARCHAR,
        session_id VARCHAR,
        properties MAP(VARCHAR, VARCHAR),
        _key UHUGEINT NOT NULL,
        _ingest INTEGER NOT NULL,
        anonymous_id VARCHAR
    )
    """,
    # Schema 1 → 2: the anonymous id an event carried beside its known id.
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS anonymous_id VARCHAR",
    """
    CREATE TABLE IF NOT EXISTS identity_links (
        anonymous_id VARCHAR NOT NULL,
        known_id VARCHAR NOT NULL,
        first_seen TIMESTAMP NOT NULL,
        ingest INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS customer_traits (
        id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR,
        "timestamp" TIMESTAMP NOT NULL,
        ingest INTEGER NOT NULL
    )
    """,
    # Every id whose person is named by another id (see kundresa.store.identity); ids that
    # name themselves are not listed, so a project without links has an empty map.
    "CREATE TABLE IF NOT EXISTS id_map (id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL)",
    """
    CREATE TABLE IF NOT EXISTS quarantine (
        ingest INTEGER NOT NULL,
        source VARCHAR NOT NULL,
        line BIGINT,
        reason VARCHAR NOT NULL,
        record VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS ingests (
        id INTEGER PRIMARY KEY,
        started TIMESTAMP NOT NULL,
        finished TIMESTAMP NOT NULL,
        sources VARCHAR[] NOT NULL,
        rows_read BIGINT NOT NULL,
        loaded BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        quarantined BIGINT NOT NULL,
        options VARCHAR
    )
    """,
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    *layout.DDL,
)

_PARSED_DDL = (
    "CREATE OR REPLACE TEMP TABLE _parsed (_source VARCHAR, _line BIGINT, "
    'customer_id VARCHAR, "timestamp" TIMESTAMP, event VARCHAR, channel VARCHAR, '
    "value DOUBLE, event_id VARCHAR, session_id VARCHAR, "
    "properties MAP(VARCHAR, VARCHAR), _reason VARCHAR, _key UHUGEINT, "
    "_raw VARCHAR, anonymous_id VARCHAR, _kind VARCHAR)"
)
"""An ingest's rows, parsed: canonical columns, the quarantine reason (null for a good row),
the deduplication key and the raw record (for the quarantine)."""

EVENT_SELECT = 'customer_id, "timestamp", event, channel, value, event_id, session_id, properties'

TAGGED_TABLE = "tagged_events"
"""The events tagged with one journey's touchpoints and stages, kept in the warehouse
(:meth:`Warehouse.store_tagged`) so that a fresh process need not tag them again."""
_TAGGED_KEY = "tagged_events.made_for"


class IngestError(InputError):
    """An ingest that could not run; the warehouse is unchanged."""


class IdentityError(LookupError):
    """An id the warehouse has never seen (in events, links or traits)."""


@dataclass
class IngestReport:
    """What an ingest did."""

    ingest_id: int
    sources: list[str]
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_quarantined: int = 0
    rejected: int = 0
    # Identify rows loaded (links and traits, not events) and identity links new to the
    # warehouse (or seen earlier than before).
    identified: int = 0
    links: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    # The source each file was read as (``events``, ``ga4``, …), by file.
    recognised: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ingest_id": self.ingest_id,
            "sources": self.sources,
            "read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "already_quarantined": self.already_quarantined,
            "identified": self.identified,
            "links": self.links,
            "reasons": self.reasons,
            "columns": self.columns,
            "recognised": self.recognised,
        }


def _q(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + text.replace("'", "''") + "'"


def _clean(col: str) -> str:
    return f"NULLIF(trim({_q(col)}), '')"


def _none_if(col: str, words: Sequence[str]) -> str:
    """SQL: ``col`` trimmed, or NULL when it is blank or one of ``words`` (case-insensitive,
    spaces around allowed). One regular expression is about twice as fast as
    ``lower(trim(x)) IN (…)`` on millions of rows (measured: DuckDB 1.x, RE2), close to the
    plain ``NULLIF(trim(x), '')``."""
    alternatives = "|".join(re.escape(v) for v in words if v)
    blank = _lit(rf"\s*(?i:{alternatives})?\s*")
    return f"CASE WHEN regexp_full_match({_q(col)}, {blank}) THEN NULL ELSE trim({_q(col)}) END"


def number_rows_column(col: str) -> str:
    """The staging table's column marking which values of ``col`` were numbers in the
    file (:attr:`~kundresa.ingest.readers.RawBatch.number_rows`; BOOLEAN, true for a JSON
    number), beside its text; no file's column is named so (a unit separator starts it)."""
    return f"\x1fnumber\x1f{col}"


def _value_text(col: str | None) -> str:
    """The text of a value or time column, trimmed, with empty text and the markers of a
    missing value (:data:`~kundresa.ingest.columns.MISSING_NUMBERS`: ``NA``, ``NaN``,
    ``#N/A``…) as NULL."""
    return "NULL::VARCHAR" if col is None else _none_if(col, MISSING_NUMBERS)


def _id_sql(columns: Sequence[str]) -> str:
    """The first present id of ``columns``, placeholders (``null``, ``0``…) counting as none."""
    if not columns:
        return "NULL::VARCHAR"
    ids = [_none_if(c, PLACEHOLDER_IDS) for c in columns]
    return ids[0] if len(ids) == 1 else f"coalesce({', '.join(ids)})"


# Numbers in the time column are Unix epochs; their magnitude tells the unit, the same rule
# analytics tools use: seconds up to 1e11 (year 5138), then milliseconds, microseconds and
# nanoseconds.
_EPOCH_MICROS = """CASE
    WHEN abs(CAST(_t AS DOUBLE)) < 1e11 THEN CAST(_t AS DOUBLE) * 1e6
    WHEN abs(CAST(_t AS DOUBLE)) < 1e14 THEN CAST(_t AS DOUBLE) * 1e3
    WHEN abs(CAST(_t AS DOUBLE)) < 1e17 THEN CAST(_t AS DOUBLE)
    ELSE CAST(_t AS DOUBLE) / 1e3 END"""


# Epochs in seconds before 1973-03-03 (1e8) are no plausible event time: such a number is a
# spreadsheet's date serial (45658 is 2025-01-01 in Excel) or a count, never a time (README,
# "Loading events"). An 8-digit number that is a date YYYYMMDD in 1900-2099 is that date.
# (EPOCH_MIN.) A text's UTC offset may be at most MAX_OFFSET_HOURS either way: DuckDB reads
# any offset (+25:00 shifted the time by 25 hours).
_EPOCH_MIN = str(EPOCH_MIN)
_MAX_OFFSET_HOURS = MAX_OFFSET_HOURS
# A time with a zone of its own: an offset or ``Z`` or a zone name after a time of day
# (the ``AM``/``PM`` of a 12-hour time is no zone).
_ZONED_RE = (
    r":[0-9]{2}([.,][0-9]+)?\s*([Zz]|[+-][0-9]{1,2}(:?[0-9]{2}){0,2}|[A-Za-z][A-Za-z_/+0-9:-]*)$"
)
_AMPM_RE = r"(?i)[0-9]\s*[ap]\.?m\.?$"
_OFFSET_RE = r"[+-]([0-9]{1,2})(:?[0-9]{2}){0,2}$"
# (``UTC+14:30``, which DuckDB reads as +14:30, is an offset too.)
_NUMERIC_OFFSET_RE = r":[0-9]{2}([.,][0-9]+)?\s*((?i:utc|gmt))?[+-][0-9]{1,2}(:?[0-9]{2}){0,2}$"
# A zone written as a word after a time of day (``10:00:00 CET``, ``10:00 Europe/Stockholm``):
# the word. DuckDB reads any zone ID its ICU knows, legacy three-letter ones included (``BST``
# as Bangladesh, ``IST`` as India, ``AST`` as Alaska), so only an IANA name (with a ``/``) is
# read; an abbreviation names different zones in different countries and is quarantined.
# ``UTC``, ``GMT`` and ``Z`` are UTC; ``AM``/``PM`` are no zone.
_ZONE_WORD_RE = r":[0-9]{2}(?:[.,][0-9]+)?\s*([A-Za-z][A-Za-z0-9_/+:-]*)$"
_NO_ZONE_WORDS = ("UTC", "GMT", "Z", "AM", "PM")


@functools.lru_cache(maxsize=1)
def _icu_zones() -> tuple[str, ...]:
    """The time zone names DuckDB knows (its ICU's), lower case: ``timezone`` fails the
    whole statement on another one."""
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT DISTINCT lower(name) FROM pg_timezone_names()").fetchall()
    finally:
        con.close()
    return tuple(sorted(r[0] for r in rows))


@functools.lru_cache(maxsize=8)
def _change_days(tz: str) -> str | None:
    """The UTC days in 1900-2099 on or next to which ``tz`` changes its UTC offset (a
    daylight-saving change, or a change of its standard time), as the text of a list of
    dates; None when Python's zone database does not know ``tz``."""
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    day = datetime(1899, 12, 30, tzinfo=UTC)
    last = day.astimezone(zone).utcoffset()
    days: set[str] = set()
    while day.year < 2101:
        day += timedelta(days=1)
        offset = day.astimezone(zone).utcoffset()
        if offset != last:
            days.update(str((day + timedelta(days=d)).date()) for d in (-2, -1, 0))
            last = offset
    return "[" + ", ".join(sorted(days)) + "]"


_OFFSET_OK_RE = r"[+-]14(:?00){0,2}$"


# Day-first dates written with dots or dashes (Europe: 01.02.2025 10:00 is 1 February) and
# slashed dates in either order; ISO 8601 text and epochs are tried first.
_DMY_DOTTED = tuple(
    f"%d{sep}%m{sep}%Y{time}"
    for sep in (".", "-")
    for time in (" %H:%M:%S", " %H:%M", "", " %H:%M:%S.%f")
)
_TIMES = (" %H:%M:%S", " %H:%M", "", " %H:%M:%S.%f", " %I:%M:%S %p", " %I:%M %p")
_SLASHED = {
    "dmy": tuple(f"%d/%m/%Y{t}" for t in _TIMES),
    "mdy": tuple(f"%m/%d/%Y{t}" for t in _TIMES),
}
DATE_ORDERS = ("dmy", "mdy")
"""The words ``--date-format`` accepts besides a strptime pattern."""
_SLASH_RE = "^([0-9]{1,2})/([0-9]{1,2})/[0-9]{4}"


def _formats(fmts: Sequence[str]) -> str:
    return "[" + ", ".join(_lit(f) for f in fmts) + "]"


def _number_sql(col: str, decimal: str) -> str:
    """SQL reading the text ``col`` as a number with ``decimal`` as the decimal mark.

    Thousands separators are dropped only where they group digits by three after a first
    group that does not start with ``0``: spaces (also no-break and narrow no-break spaces),
    and ``,`` with a decimal point or ``.`` with a decimal comma. ``1 234,50``, ``1.234,50``
    (decimal ``,``) and ``1,234.50`` (decimal ``.``) are all 1234.5; with a decimal point
    ``1,5`` and ``0,125`` are no number, and with a decimal comma ``19.99`` and ``0.125``
    are none (one mark per column: :func:`decimal_mark`). Text with an underscore
    (``1_000``, which DuckDB's cast reads as programming languages do) is no number, as in
    :func:`kundresa.model.events.plain_number`.
    """
    mark = _lit(NO_NUMBER_MARK)
    return f"CASE WHEN NOT contains({col}, {mark}) THEN {_number_parts_sql(col, decimal)} END"


def _number_parts_sql(col: str, decimal: str) -> str:
    """:func:`_number_sql` of text without an underscore."""
    spaces = " \u00a0\u202f\u2009"
    if decimal == ",":
        grouped = f"[+-]?[1-9][0-9]{{0,2}}([.{spaces}][0-9]{{3}})+(,[0-9]*)?"
        return f"""CASE
            WHEN NOT regexp_matches({col}, {_lit(f"[.,{spaces}]")}) THEN try_cast({col} AS DOUBLE)
            WHEN regexp_full_match({col}, {_lit(grouped)})
                THEN try_cast(replace(regexp_replace({col}, {_lit(f"[.{spaces}]")}, '', 'g'),
                    ',', '.') AS DOUBLE)
            WHEN regexp_full_match({col}, '[+-]?[0-9]*,[0-9]+([eE][+-]?[0-9]+)?')
                THEN try_cast(replace({col}, ',', '.') AS DOUBLE)
            END"""
    grouped = f"[+-]?[1-9][0-9]{{0,2}}([,{spaces}][0-9]{{3}})+([.][0-9]*)?"
    # A plain number (the common case) is one cast; only text that is not one is matched.
    return f"""coalesce(try_cast({col} AS DOUBLE), CASE
        WHEN regexp_full_match({col}, {_lit(grouped)})
            THEN try_cast(regexp_replace({col}, {_lit(f"[,{spaces}]")}, '', 'g') AS DOUBLE)
        END)"""


# ISO 8601 forms DuckDB's cast does not read, written in the extended form it does before
# any rule looks at a time (:func:`_iso_extended`): a decimal comma in the seconds
# (``2024-05-01T10:00:00,5Z``; ISO 8601 prefers the comma) and the basic format
# (``20240501T100000Z``, ``20240501T1000+0200``, ``20240501T100000,5Z``).
_ISO_COMMA = (r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}),([0-9]+)", r"\1.\2")
_ISO_OFFSET = r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
_ISO_BASIC_DATE_TIME = r"^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})"
_ISO_BASIC = (  # with seconds and a fraction, with seconds, to the minute
    (
        _ISO_BASIC_DATE_TIME + r"([0-9]{2})[.,]([0-9]+)" + _ISO_OFFSET,
        r"\1-\2-\3T\4:\5:\6.\7\8",
    ),
    (_ISO_BASIC_DATE_TIME + r"([0-9]{2})" + _ISO_OFFSET, r"\1-\2-\3T\4:\5:\6\7"),
    (_ISO_BASIC_DATE_TIME + _ISO_OFFSET, r"\1-\2-\3T\4:\5:00\6"),
)


def _iso_extended(t: str) -> str:
    """SQL of the time text ``t`` with the ISO 8601 forms of :data:`_ISO_COMMA` and
    :data:`_ISO_BASIC` written in the extended form with a decimal point; any other text as
    it is. Only text whose first ``T`` is its ninth character or that holds a comma is
    matched: a time written the usual way costs two cheap tests (about 18 ms of CPU per
    million rows, 1-2% of the parse; ``substr(t, 9, 1) = 'T'`` took twice as long)."""
    rewritten = t
    for pattern, replacement in (_ISO_COMMA, *_ISO_BASIC):
        rewritten = f"regexp_replace({rewritten}, {_lit(pattern)}, {_lit(replacement)})"
    return f"CASE WHEN strpos({t}, 'T') = 9 OR contains({t}, ',') THEN {rewritten} ELSE {t} END"


def _time_sql(
    date_format: str | None, slash_order: str | None, *, naive: bool = False, t: str = "_t"
) -> str:
    """SQL parsing the text ``t`` (a column or expression, ``_t`` by default) into a UTC
    timestamp (null when it is no time).

    Order: ISO 8601 (a space before a ``+HHMM``/``+HH:MM`` offset allowed); day-first
    dotted or dashed dates; slashed dates in ``date_format`` or ``slash_order``
    (``dmy``/``mdy``), or per row when the day is > 12. A strptime pattern in
    ``date_format`` is tried before everything else, epochs included (:func:`_parse_sql`).
    With ``naive`` the time as written instead (no zone applied: for a text without an
    offset, the local wall-clock time that the daylight-saving check compares).
    """

    def utc(expr: str) -> str:
        return expr if naive else f"timezone('UTC', CAST({expr} AS TIMESTAMPTZ))"

    def cast(expr: str) -> str:
        if naive:
            return f"try_cast({expr} AS TIMESTAMP)"
        return f"timezone('UTC', try_cast({expr} AS TIMESTAMPTZ))"

    tries = []
    iso = rf"regexp_replace({t}, ' ([+-][0-9]{{2}}):?([0-9]{{2}})$', '\1\2')"
    # COALESCE evaluates an argument only for the rows still null: plain ISO text, by far
    # the most common, costs one cast.
    tries.append(cast(t))
    tries.append(cast(iso))
    # ISO 8601 to the minute (``2026-01-01T10:00Z``, ``10:00+01:00``): DuckDB's cast wants the
    # seconds whenever an offset follows.
    minutes = (
        rf"regexp_replace({iso}, '^([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ][0-9]{{2}}:[0-9]{{2}})"
        rf"(Z|z|[+-][0-9]{{2}}(:?[0-9]{{2}})?|[+-][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}})?$', "
        r"'\1:00\2')"
    )
    tries.append(cast(minutes))
    tries.append(utc(f"try_strptime({t}, {_formats(_DMY_DOTTED)})"))
    order = date_format if date_format in DATE_ORDERS else slash_order
    if order is not None:
        tries.append(utc(f"try_strptime({t}, {_formats(_SLASHED[order])})"))
    else:
        dmy = utc(f"try_strptime({t}, {_formats(_SLASHED['dmy'])})")
        mdy = utc(f"try_strptime({t}, {_formats(_SLASHED['mdy'])})")
        tries.append(f"CASE WHEN _sa > 12 THEN {dmy} WHEN _sb > 12 THEN {mdy} END")
    return "coalesce(" + ", ".join(tries) + ")"


def slash_order(con: Any, stage: str, time_col: str) -> str | None:
    """Whether a staged file's slashed dates are day-first (``dmy``) or month-first
    (``mdy``), told from values whose first or second number is above 12; None when no
    value decides it or values contradict each other."""
    t = _clean(time_col)
    row = con.execute(
        f"SELECT bool_or(a > 12), bool_or(b > 12) FROM (SELECT "
        f"TRY_CAST(regexp_extract({t}, {_lit(_SLASH_RE)}, 1) AS INTEGER) AS a, "
        f"TRY_CAST(regexp_extract({t}, {_lit(_SLASH_RE)}, 2) AS INTEGER) AS b "
        f"FROM {stage} WHERE contains({t}, '/') AND regexp_matches({t}, {_lit(_SLASH_RE)}))"
    ).fetchone()
    day_first, month_first = (bool(row[0]), bool(row[1])) if row else (False, False)
    if day_first and not month_first:
        return "dmy"
    if month_first and not day_first:
        return "mdy"
    return None


def decimal_mark(
    con: Any, stage: str, value_col: str, default: str = ".", number_rows: bool = False
) -> str:
    """The decimal mark of a staged file's value column, one for the whole column.

    A value that is a number with one mark and not with the other is evidence for that mark:
    ``349,90``, ``1,5``, ``0,125`` and ``1.234,50`` for a decimal comma; ``19.99``, ``1.5``,
    ``0.125`` and ``1,234.50`` for a decimal point (a group after a leading ``0`` is never a
    thousands group). The mark with more such values among the first 100,000 values holding
    a ``,`` or a ``.`` wins; without any, or as many of each, ``default`` (``,`` for a file
    delimited by ``;``). Values read only with the other mark are quarantined naming
    ``--decimal`` (:func:`_parse_sql`), never read 1000 times too large. With
    ``number_rows`` (the stage has :func:`number_rows_column` for the column), the values
    that were numbers in the file (JSON's ``1.5``) are no evidence: only texts have a mark.
    """
    v = _clean(value_col)
    texts = f" AND {_q(number_rows_column(value_col))} IS NOT TRUE" if number_rows else ""
    row = con.execute(
        f"SELECT count(*) FILTER (c IS NOT NULL AND p IS NULL), "
        f"count(*) FILTER (p IS NOT NULL AND c IS NULL) FROM (SELECT "
        f"{_number_sql('v', ',')} AS c, {_number_sql('v', '.')} AS p FROM ("
        f"SELECT {v} AS v FROM {stage} WHERE regexp_matches({v}, '[.,]'){texts} "
        f"LIMIT 100000))"
    ).fetchone()
    comma, point = (int(row[0]), int(row[1])) if row else (0, 0)
    if comma == point:
        return default
    return "," if comma > point else "."


# An event's deduplication key: its id, else every field (over canonical columns), the
# properties as JSON sorted by name: one event's properties in another order (two exports of
# one JSON event, keys reordered) are the same event, and a value holding ``, `` or ``=``
# cannot pass for two properties (a map's text, ``{a=1, b=2}``, did both).
_KEY_SQL = """CASE WHEN event_id IS NOT NULL THEN md5_number('id' || chr(31) || event_id)
            ELSE md5_number(concat_ws(chr(31), customer_id,
                strftime("timestamp", '%Y-%m-%dT%H:%M:%S.%f'), event, coalesce(channel, ''),
                coalesce(CAST(value AS VARCHAR), ''), coalesce(session_id, ''),
                to_json(list_sort(map_entries(properties)))))
        END"""

_KEY_RULE = "2"
"""The rule of the stored keys (``meta.key_rule``): 2, :data:`_KEY_SQL`; before it (none), the
properties as DuckDB's text of the map in the order read. The first write of a warehouse
keyed by an older rule rekeys its events without an event id (:meth:`Warehouse._rekeyed`)."""


def _raw_sql(columns: Sequence[str], prefix: str = "") -> str:
    """SQL for a staged row as the JSON object the quarantine keeps (``record``);
    ``prefix`` qualifies the columns (``b.``)."""
    return "json_object(" + ", ".join(f"{_lit(c)}, {prefix}{_q(c)}" for c in columns) + ")"


def _parse_sql(
    stage: str,
    cmap: ColumnMap,
    columns: Sequence[str],
    *,
    decimal: str = ".",
    date_format: str | None = None,
    slash_order: str | None = None,
    tz: str | None = None,
    raw: bool = True,
    number_rows: bool = False,
) -> str:
    """SQL that parses one staged file into canonical columns plus a quarantine reason.

    ``decimal`` is the value column's decimal mark; ``date_format`` a strptime pattern or
    ``dmy``/``mdy`` (README, "Files as people save them"); ``slash_order`` the order of
    slashed dates told from the file (:func:`slash_order`). Without ``raw`` the raw record
    (``_raw``, for the quarantine) is left null, to be filled for the bad rows only
    (:func:`_raw_sql`). ``tz`` is the zone of times written without an offset (the
    session's ``TimeZone``, set by the caller): such a time that does not exist or happens
    twice there at a daylight-saving change is quarantined. With ``number_rows`` the stage
    marks the value column's numbers (:func:`number_rows_column`): those are read as the
    numbers they are (``1.234``), and only texts with ``decimal``.
    """

    def opt(col: str | None) -> str:
        return _clean(col) if col is not None else "NULL::VARCHAR"

    known = _id_sql(cmap.customer)
    anonymous = _id_sql(cmap.anonymous)
    kind = f"lower(trim({_q(cmap.kind)}))" if cmap.kind is not None else "NULL::VARCHAR"
    props = sorted(cmap.properties)
    if props:
        entries = ", ".join(f"struct_pack(key := {_lit(p)}, value := {_clean(p)})" for p in props)
        properties = f"map_from_entries(list_filter([{entries}], e -> e.value IS NOT NULL))"
    else:
        properties = "MAP()::MAP(VARCHAR, VARCHAR)"
    props_check = ""
    # With a JSON column, ``s0`` gives the plain columns' map as ``_pcols``, ``s`` the JSON
    # column's map as ``_pm`` (from ``_pj``, the JSON text, trimmed, parsed once) and ``p``
    # the properties, both merged.
    json_properties = json_merge = ""
    if cmap.properties_json is not None:
        # Each key with its value as text (a string unquoted, any other value as JSON text),
        # keys whose value is null left out. One cast parses the object; only text holding
        # ``null`` can hold a null value, so only there are entries filtered. About ten times
        # as fast as extracting every key with ``->>`` in a lambda (issue 12), and the same
        # maps, except for keys that ``->>`` read as a path (``/a``, ``$a``, an empty key):
        # now their own values.
        as_map = "CAST(CAST(_pj AS JSON) AS MAP(VARCHAR, VARCHAR))"
        from_json = (
            f"CASE WHEN contains(_pj, 'null') THEN map_from_entries(list_filter("
            f"map_entries({as_map}), e -> e.value IS NOT NULL)) ELSE {as_map} END"
        )
        # Keys of the JSON column win over same-named plain columns (``map_concat``, costly
        # even with an empty map: only when there are plain ones).
        # ``_pm``: the JSON column's own map (NULL when the text is no JSON object: plain
        # text, an array, a number). The trimmed text is an object exactly when it starts
        # with ``{`` and is valid JSON; json_type would fail the whole statement on text
        # that is no JSON at all (``str``), since AND does not stop at a false left side.
        json_properties = (
            f"CASE WHEN starts_with(_pj, '{{') AND json_valid(_pj) THEN {from_json} END AS _pm,"
        )
        json_merge = (
            "CASE WHEN _pj IS NULL THEN _pcols WHEN _pm IS NULL THEN NULL "
            "WHEN cardinality(_pcols) = 0 THEN _pm "
            "ELSE map_concat(_pcols, _pm) END AS properties,"
        )
        # A key written twice (``{"a":1,"a":2}``) would keep one of the values silently.
        twice = "list_filter(map_keys(_pm), (k, i) -> list_position(map_keys(_pm), k) < i)[1]"
        props_check = (
            f"WHEN _pj IS NOT NULL AND properties IS NULL THEN "
            f"{_lit(f'column {cmap.properties_json!r} is not a JSON object')} "
            f"WHEN _pm IS NOT NULL AND len(list_distinct(map_keys(_pm))) < cardinality(_pm) "
            f"THEN {_lit(f'column {cmap.properties_json!r} has the key ')} || "
            f"to_json({twice}) || ' more than once'"
        )
    raw_record = _raw_sql(columns) if raw else "NULL::VARCHAR"
    # True for a value that was a number in the file (a JSON number): read with a point.
    value_kind = (
        f"coalesce({_q(number_rows_column(cmap.value))}, false)"
        if number_rows and cmap.value
        else "false"
    )
    customer_src = " or ".join(repr(c) for c in (*cmap.customer, *cmap.anonymous))
    ts_src = repr(cmap.timestamp)
    # A value must sum: ``inf``, ``1e400`` (a double's infinity) and ``NaN`` are refused, as
    # the collector refuses them (README, "Loading events": a non-numeric value).
    marks = {",": "a decimal comma", ".": "a decimal point"}
    other = "." if decimal == "," else ","
    other_mark = _lit(
        f" is a number only with {marks[other]}, and this file's values are read with "
        f"{marks[decimal]}: name the mark with --decimal , or --decimal . (column {cmap.value!r})"
    )
    value_check = (
        f"WHEN _v IS NOT NULL AND value IS NULL AND NOT _vnumber "
        f"AND {_number_sql('_v', other)} IS NOT NULL "
        f"THEN 'value ' || _v || {other_mark} "
        f"WHEN _v IS NOT NULL AND value IS NULL THEN "
        f"'value ' || _v || {_lit(f' is not a number (column {cmap.value!r})')} "
        f"WHEN NOT isfinite(value) THEN "
        f"'value ' || _v || {_lit(f' is not a finite number (column {cmap.value!r})')}"
        if cmap.value
        else ""
    )
    missing_customer = _lit(f"missing customer id (column {customer_src})")
    missing_time = _lit(f"missing timestamp (column {ts_src})")
    bad_time = _lit(f" (column {ts_src})")
    ambiguous = _lit(
        f" (column {ts_src}): day and month could be either way round; "
        "name the order with --date-format dmy or --date-format mdy"
    )
    not_after_epoch = _lit(f" is not after 1970-01-01 (column {ts_src})")
    too_small = _lit(
        f" is too small for a Unix epoch (before 1973-03-03) and may be a spreadsheet's "
        f"date serial: save the column as dates, or name its format with --date-format "
        f"(column {ts_src})"
    )
    bad_offset = _lit(
        f" is beyond ±{_MAX_OFFSET_HOURS:02d}:00, the widest in use (column {ts_src})"
    )
    gap_tail = (
        ": the clocks skip it at a daylight-saving change; "
        f"give the time with its UTC offset (column {ts_src})"
    )
    twice_tail = (
        ": the clocks repeat it at a daylight-saving change; "
        f"give the time with its UTC offset (column {ts_src})"
    )
    if tz is not None:
        gap = _lit(f" does not exist in {tz}{gap_tail}")
        twice = _lit(f" happens twice in {tz}{twice_tail}")
    abbreviation = _lit(
        " names different zones in different countries (IST: India, Israel or Ireland); "
        f"write a UTC offset (+01:00) or an IANA zone name (Europe/Stockholm) (column {ts_src})"
    )
    out_of_range = _lit(
        f" is not between {TIME_RANGE[0][:4]} and {int(TIME_RANGE[1][:4]) - 1}: "
        f"a placeholder date, not when something happened (column {ts_src})"
    )
    # ``31.05.25``, ``05/06/25``: read as the year 25, which no century rule should guess.
    two_digit_year = _lit(
        f" has a two-digit year; write the year in full (2025, not 25) (column {ts_src})"
    )
    short_year = _lit(r"^[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2}([^0-9]|$)")
    pattern = ""
    if date_format is not None and date_format not in DATE_ORDERS:
        # The user's pattern first, so that e.g. %Y%m%d wins over reading 20250601 as an epoch.
        pattern = (
            f"coalesce(timezone('UTC', CAST(try_strptime(_tw, {_lit(date_format)}) "
            "AS TIMESTAMPTZ)), "
        )
    ambiguous_check = ""
    if date_format is None and slash_order is None:
        ambiguous_check = f"""WHEN "timestamp" IS NULL AND _sa <= 12 AND _sb <= 12
                THEN 'ambiguous date ' || _tw || {ambiguous}"""
    missing_event = _lit(
        f"missing event name (column {cmap.event!r})"
        if cmap.event is not None
        else "missing event name (no event column)"
    )
    bad_kind = (
        f"WHEN _kind NOT IN ('event', 'identify') THEN 'unknown row kind ' || "
        f"_kind || {_lit(f' (column {cmap.kind!r}: expected event or identify)')}"
        if cmap.kind is not None
        else ""
    )
    # The zone word of a time (:data:`_ZONE_WORD_RE`), looked for only in a text that does
    # not end in ``Z`` and (unless a pattern may read a shorter one) is longer than
    # ``2025-06-01 10:00:00``, and that ends in a letter or holds ``UTC`` or ``GMT``: a few
    # cheap tests for every other text.
    maybe_zone = "_t[-1] BETWEEN 'A' AND 'Y' OR _t[-1] BETWEEN 'a' AND 'y' OR " + " OR ".join(
        f"contains(_t, {_lit(w)})" for w in ("UTC", "GMT", "utc", "gmt")
    )
    zone_word = (
        f"CASE WHEN {'' if pattern else 'strlen(_t) > 19 AND '}NOT ends_with(_t, 'Z') "
        f"AND NOT ends_with(_t, 'z') THEN CASE WHEN {maybe_zone} "
        f"THEN NULLIF(regexp_extract(_t, {_lit(_ZONE_WORD_RE)}, 1), '') END END"
    )
    # The text that DuckDB's cast reads (``_tp``): never one with a zone word, since the cast
    # reads every later time without a zone of its own in the same vector of 2,048 rows in
    # the last zone it read by name (DuckDB 1.5: ``10:00:00 Asia/Tokyo`` then ``10:00:00``
    # stored both at 01:00 UTC, and with ``--tz`` a ``10:00:00 UTC`` made the next rows UTC).
    # ``UTC``/``GMT`` (with an offset or not) are written as ``Z`` or the offset; a time in
    # an IANA zone as its wall time with ``Z``, converted from the zone by ``timezone``; an
    # abbreviation is read as no time (quarantined by its zone, ``abbreviation_check``).
    utc_word = _lit(r"\s*(?i:utc|gmt)([+-][0-9:]+)?$")
    utc_sign = _lit(r"\s*(?i:utc|gmt)([+-])")
    # ``-3`` as ``-03`` (DuckDB's cast reads an offset's hours with two digits).
    one_digit = _lit(r":([0-9]{2}(?:[.,][0-9]+)?)([+-])([0-9])((?::?[0-9]{2})?)$")
    as_offset = (
        f"regexp_replace(regexp_replace(_t, {utc_sign}, '\\1'), {one_digit}, ':\\1\\20\\3\\4')"
    )
    name_word = _lit(r"\s*[A-Za-z][A-Za-z0-9_/+:-]*$")
    no_zone = ", ".join(_lit(w) for w in _NO_ZONE_WORDS)
    parsed_text = f"""CASE WHEN _zone IS NULL OR upper(_zone) IN ('AM', 'PM') THEN _t
                WHEN regexp_full_match(_zone, {_lit(r"(?i:utc|gmt)")})
                    THEN regexp_replace(_t, {utc_word}, 'Z')
                WHEN regexp_full_match(_zone, {_lit(r"(?i:utc|gmt)[+-][0-9:]+")})
                    THEN {as_offset}
                WHEN contains(_zone, '/')
                    THEN regexp_replace(_t, {name_word}, 'Z')
            END"""
    abbreviation_check = f"""WHEN _zone IS NOT NULL AND NOT contains(_zone, '/')
                AND upper(_zone) NOT IN ({no_zone})
                AND NOT regexp_full_match(_zone, {_lit(r"(?i:utc|gmt)([+-][0-9:]+)?")})
                THEN 'time zone abbreviation ' || _zone || ' in timestamp ' || _tw
                    || {abbreviation}"""
    # A time in an IANA zone (DuckDB's names, any case; another name is no time): its wall
    # time (``_tp`` read as UTC) in that zone, or (a pattern with ``%Z``) as the pattern reads
    # the text.
    named_wall = _time_sql(date_format, slash_order, t="_tp")
    zone_names = ", ".join(_lit(z) for z in _icu_zones())
    named_time = (
        f"CASE WHEN lower(_zone) IN ({zone_names}) "
        f"THEN timezone('UTC', timezone(_zone, {named_wall})) END"
    )
    if pattern:
        named_wall_t = f"regexp_replace(_tw, {_lit('[A-Za-z][A-Za-z0-9_/+:-]*$')}, 'UTC')"
        named_wall = (
            f"coalesce(timezone('UTC', CAST(try_strptime({named_wall_t}, "
            f"{_lit(date_format or '')}) AS TIMESTAMPTZ)), {named_wall})"
        )

    # Near a change of that zone's offset: the same test as for ``tz`` below, with the
    # row's zone.
    def zone_offset(at: str) -> str:
        return f"(timezone(_zone, {at}) - timezone('UTC', {at}))"

    def zone_reads_back(off: str) -> str:
        return f"(timezone(_zone, timezone('UTC', _zwall - {off})) = _zwall)::INTEGER"

    at_named = "timezone('UTC', \"timestamp\")"
    before = zone_offset(f"{at_named} - INTERVAL 6 HOUR")
    after = zone_offset(f"{at_named} + INTERVAL 6 HOUR")
    named = f"""
    , n AS (
        SELECT *,
            CASE WHEN _zwall IS NOT NULL
                THEN {zone_reads_back(before)} + {zone_reads_back(after)} END AS _zreadings
        FROM (SELECT *,
            CASE WHEN contains(_zone, '/') AND "timestamp" IS NOT NULL
                THEN CASE WHEN {before} <> {after} THEN {named_wall} END
            END AS _zwall FROM p)
    )"""
    named_check = f"""WHEN _zreadings = 0
                THEN 'local time ' || _tw || ' does not exist in ' || _zone || {_lit(gap_tail)}
            WHEN _zreadings = 2
                THEN 'local time ' || _tw || ' happens twice in ' || _zone || {_lit(twice_tail)}"""
    dst = dst_check = ""
    if tz is not None and not (date_format and ("%z" in date_format or "%Z" in date_format)):
        # A local time near a change of the zone's offset (the offsets six hours before and
        # after differ): the wall time as written (``_wall``) read with either offset; it
        # exists when exactly one reading gives it back, does not when none does (the
        # clocks skipped it) and happens twice when both do (the clocks repeated it).
        wall = _time_sql(date_format, slash_order, naive=True)
        if pattern:
            wall = f"coalesce(try_strptime(_tw, {_lit(date_format or '')}), {wall})"
        z = _lit(tz)

        def offset(at: str) -> str:
            return f"(timezone({z}, {at}) - timezone('UTC', {at}))"

        def reads_back(off: str) -> str:
            return f"(timezone({z}, timezone('UTC', _wall - {off})) = _wall)::INTEGER"

        at = "timezone('UTC', \"timestamp\")"
        # Only rows on the UTC days around a change of the zone's offset are checked (the
        # check costs four zone conversions a row): the days as Python's zone database
        # tells them, or every row for a zone it does not know.
        days = _change_days(tz)
        near = (
            ""
            if days is None
            else f' AND CAST("timestamp" AS DATE) IN (SELECT unnest(CAST({_lit(days)} AS DATE[])))'
        )
        dst = f"""
    , z0 AS (
        SELECT *,
            CASE WHEN "timestamp" IS NOT NULL{near}
                THEN CASE WHEN NOT regexp_matches(_t, {_lit(_ZONED_RE)})
                    OR regexp_matches(_t, {_lit(_AMPM_RE)}) THEN CASE
                    WHEN {offset(f"{at} - INTERVAL 6 HOUR")} <> {offset(f"{at} + INTERVAL 6 HOUR")}
                    THEN [{offset(f"{at} - INTERVAL 6 HOUR")}, {offset(f"{at} + INTERVAL 6 HOUR")}]
                END END
            END AS _offsets
        FROM n
    ), z AS (
        SELECT *,
            CASE WHEN _offsets IS NOT NULL
                THEN {reads_back("_offsets[1]")} + {reads_back("_offsets[2]")} END AS _readings
        FROM (SELECT *, CASE WHEN _offsets IS NOT NULL THEN
            CASE WHEN _epoch THEN _compact ELSE {wall} END END AS _wall FROM z0)
    )"""
        dst_check = f"""WHEN _readings = 0 THEN 'local time ' || _tw || {gap}
            WHEN _readings = 2 THEN 'local time ' || _tw || {twice}"""
    return f"""
    WITH s0 AS (
        SELECT _line,
            coalesce({known}, {anonymous}) AS customer_id,
            {anonymous} AS anonymous_id,
            NULLIF({kind}, '') AS _kind,
            {_value_text(cmap.timestamp)} AS _tw,
            {opt(cmap.event)} AS event,
            {opt(cmap.channel)} AS channel,
            {_value_text(cmap.value)} AS _v,
            {value_kind} AS _vnumber,
            {opt(cmap.event_id)} AS event_id,
            {opt(cmap.session_id)} AS session_id,
            {properties} AS {"_pcols" if json_properties else "properties"},
            {opt(cmap.properties_json)} AS _pj,
            {raw_record} AS _raw
        FROM {stage}
    ), sn AS (
        -- ``_tw``: the time as written (what a quarantine reason shows); ``_t``: the same
        -- with an ISO 8601 decimal comma or basic format written as DuckDB reads it.
        SELECT *, {_iso_extended("_tw")} AS _t FROM s0
    ), s AS (
        SELECT *,
            {json_properties}
            regexp_full_match(_t, '[+-]?[0-9]+([.][0-9]+)?') AS _epoch,
            {zone_word} AS _zone,
            CASE WHEN length(_t) = 8 AND regexp_full_match(_t, '[0-9]{{8}}')
                THEN try_strptime(_t, '%Y%m%d') END AS _compact,
            CASE WHEN contains(_t, '/')
                THEN TRY_CAST(regexp_extract(_t, {_lit(_SLASH_RE)}, 1) AS INTEGER) END AS _sa,
            CASE WHEN contains(_t, '/')
                THEN TRY_CAST(regexp_extract(_t, {_lit(_SLASH_RE)}, 2) AS INTEGER) END AS _sb
        FROM sn
    ), s1 AS (
        SELECT *, {parsed_text} AS _tp
        FROM s
    ), p AS (
        SELECT *,
            {json_merge}
            {pattern}CASE WHEN _epoch
                THEN CASE WHEN _compact >= TIMESTAMP {_lit(TIME_RANGE[0])}
                        AND _compact < TIMESTAMP {_lit(TIME_RANGE[1])}
                        THEN timezone('UTC', CAST(_compact AS TIMESTAMPTZ))
                    WHEN CAST(_t AS DOUBLE) >= {_EPOCH_MIN} AND abs({_EPOCH_MICROS}) < 9.2e18
                    THEN make_timestamp(CAST(round({_EPOCH_MICROS}) AS BIGINT)) END
                WHEN contains(_zone, '/') THEN {named_time}
                ELSE {_time_sql(date_format, slash_order, t="_tp")}
            END{")" if pattern else ""} AS "timestamp",
            CASE WHEN (contains(_t, '+') OR (length(_t) > 16 AND contains(substr(_t, 12), '-')))
                AND regexp_matches(_t, {_lit(_NUMERIC_OFFSET_RE)})
                THEN TRY_CAST(regexp_extract(_t, {_lit(_OFFSET_RE)}, 1) AS INTEGER)
                END AS _offset_hours,
            -- + 0: a negative zero is zero (the store's sort makes it so, and the event key
            -- must see the value the store keeps: rows of 0.0 and -0.0 are one event).
            (CASE WHEN _vnumber THEN try_cast(_v AS DOUBLE)
                ELSE {_number_sql("_v", decimal)} END) + CAST(0 AS DOUBLE) AS value
        FROM s1
    ){named}{dst}
    SELECT _line, customer_id, "timestamp", event, channel, value, event_id, session_id,
        properties,
        CASE
            {bad_kind}
            WHEN customer_id IS NULL THEN {missing_customer}
            WHEN _t IS NULL THEN {missing_time}
            {abbreviation_check}
            WHEN _epoch AND CAST(_t AS DOUBLE) <= 0 AND "timestamp" IS NULL
                THEN 'epoch timestamp ' || _tw || {not_after_epoch}
            WHEN _epoch AND "timestamp" IS NULL AND CAST(_t AS DOUBLE) < {_EPOCH_MIN}
                THEN 'number ' || _tw || {too_small}
            WHEN "timestamp" IS NOT NULL AND _offset_hours >= {_MAX_OFFSET_HOURS}
                AND NOT regexp_matches(_t, {_lit(_OFFSET_OK_RE)})
                THEN 'UTC offset of timestamp ' || _tw || {bad_offset}
            {named_check}
            {dst_check}
            {ambiguous_check}
            WHEN "timestamp" IS NULL THEN 'unparseable timestamp ' || _tw || {bad_time}
            WHEN "timestamp" < TIMESTAMP '0100-01-01'
                AND regexp_matches(trim(_t), {short_year})
                THEN 'timestamp ' || _tw || {two_digit_year}
            WHEN "timestamp" < TIMESTAMP {_lit(TIME_RANGE[0])}
                OR "timestamp" >= TIMESTAMP {_lit(TIME_RANGE[1])}
                THEN 'timestamp ' || _tw || {out_of_range}
            WHEN event IS NULL AND _kind IS DISTINCT FROM 'identify' THEN {missing_event}
            {value_check}
            {props_check}
        END AS _reason,
        {_KEY_SQL} AS _key,
        _raw,
        anonymous_id,
        _kind
    FROM {"z" if dst else "n"}
    """


class Warehouse:
    """The events of one project (or of one file, in memory) in DuckDB.

    Parameters
    ----------
    path
        The database file; ``None`` keeps everything in memory.
    read_only
        Open an existing database without taking the write lock.

    Examples
    --------
    >>> wh = Warehouse(None)
    >>> wh.event_count()
    0
    """

    # The rewrite running beside the loads (start_rewrite), its connection, and how the last
    # one ended: rows rewritten (None: nothing to do, or failed) and its error, if any.
    _rewriter: threading.Thread | None = None
    _rewrite_con: Any = None
    rewrite_result: int | None = None
    rewrite_error: BaseException | None = None

    def __init__(self, path: str | os.PathLike[str] | None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        # The Parquet file ``events`` reads in place (kundresa.store.in_place), if any.
        self.in_place: str | None = None
        self._keys_current = False
        """Whether the stored keys were seen to follow :data:`_KEY_RULE` (committed): then
        :meth:`_rekeyed` asks no more (a collector writes every few seconds)."""
        if self.path is not None and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = str(self.path) if self.path is not None else ":memory:"
        try:
            self.con = duckdb.connect(target, read_only=read_only)
        except duckdb.IOException as exc:
            self.con = _connect_when_handed_over(target, read_only, exc)
        self.con.execute("SET TimeZone = 'UTC'")
        # Bounded memory: staging tables of a large ingest and big analyses spill to this
        # process's temporary folder instead of growing the process (see store.resources).
        try:
            resources.configure(self.con)
        except Exception:
            self.con.close()
            raise
        self.con.execute("SET preserve_insertion_order = false")
        # DuckDB imports pandas on the first Python value bound to a statement (below); a
        # Ctrl-C that lands inside that import is lost there (DuckDB takes the failed import
        # for "no pandas" and the command runs on). Imported here, Ctrl-C stops the process
        # at once; a write also checks for one lost elsewhere (kundresa._interrupts).
        import pandas  # noqa: F401

        if not read_only:
            for ddl in _DDL:
                self.con.execute(ddl)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
            )
            if layout.ordered_ingest(self.con) is None and not self.event_count():
                # A new (or empty) store is in order: its first ingest becomes the main part.
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('store_ordered_ingest', '0')")
        # A read-only warehouse written by an older version has no identity tables yet.
        self._identity_tables = bool(
            self.con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'id_map' "
                "AND database_name = current_database()"
            ).fetchone()[0]  # type: ignore[index]
        )

    def close(self) -> None:
        """Close the connection; a rewrite running beside the loads is stopped first and
        rolled back (:meth:`start_rewrite`)."""
        self.finish_rewrite(interrupt=True)
        remember(self.con, None)  # a file's decoded columns, if any, go with the connection
        self.con.close()

    def reader(self) -> Warehouse:
        """A read-only handle on this warehouse, for another thread: a new DuckDB connection
        to the same database (``cursor()``: it sees what this one has committed). A process
        that writes a warehouse file cannot also open it read-only; the web app reads
        through this while the collector's loader keeps the write connection open.
        :attr:`read_only` is true, so nothing of the project writes through it; closing it
        leaves this one open.

        Examples
        --------
        >>> wh = Warehouse(None)
        >>> view = wh.reader()
        >>> view.read_only, view.event_count()
        (True, 0)
        >>> view.close(); wh.event_count()
        0
        """
        view = Warehouse.__new__(Warehouse)
        view.path = self.path
        view.read_only = True
        view.in_place = self.in_place
        view.con = self.con.cursor()
        view.con.execute("SET TimeZone = 'UTC'")
        view._identity_tables = self._identity_tables
        return view

    # -- reading -----------------------------------------------------------------------------

    def event_count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM events").fetchone()
        return int(row[0]) if row else 0

    def quarantine_count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM quarantine").fetchone()
        return int(row[0]) if row else 0

    def _layout(self) -> dict[str, Any]:
        """:func:`kundresa.store.layout.layout_summary`, plus ``read_in_place``: the Parquet
        file the events are read from in place (not journey-ordered), or None."""
        if self.in_place is not None:
            n = self.event_count()
            return {
                "ordered_rows": 0,
                "tail_rows": n,
                "customer_codes": 0,
                "event_codes": 0,
                "ordered_through_ingest": None,
                "reorganised": None,
                "current": False,
                "read_in_place": self.in_place,
            }
        return {**layout.layout_summary(self.con), "read_in_place": None}

    def summary(self) -> dict[str, Any]:
        """Event, customer and quarantine counts, date range and the last ingest."""
        # Customers are persons: ids stitched together count once.
        customer = (
            "coalesce((SELECT m.customer_id FROM id_map m WHERE m.id = e.customer_id), "
            "e.customer_id)"
            if self.has_links()
            else "customer_id"
        )
        ev = self.con.execute(
            f'SELECT count(*), count(DISTINCT {customer}), min("timestamp"), max("timestamp"), '
            "count(DISTINCT event) FROM events e"
        ).fetchone()
        assert ev is not None
        last = self.con.execute(
            "SELECT id, finished, sources, rows_read, loaded, duplicates, quarantined "
            "FROM ingests ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return {
            "events": int(ev[0]),
            "customers": int(ev[1]),
            "first_event": ev[2],
            "last_event": ev[3],
            "event_names": int(ev[4]),
            "quarantined": self.quarantine_count(),
            "layout": self._layout(),
            "ingests": int(self.con.execute("SELECT count(*) FROM ingests").fetchone()[0]),  # type: ignore[index]
            "last_ingest": None
            if last is None
            else {
                "id": last[0],
                "finished": last[1],
                "sources": list(last[2]),
                "read": last[3],
                "loaded": last[4],
                "duplicates": last[5],
                "quarantined": last[6],
            },
        }

    def ingest_log(self) -> list[dict[str, Any]]:
        cur = self.con.execute("SELECT * FROM ingests ORDER BY id")
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def quarantined(self, limit: int = 100) -> list[dict[str, Any]]:
        cur = self.con.execute(
            "SELECT ingest, source, line, reason, record FROM quarantine "
            "ORDER BY ingest, source, line LIMIT ?",
            [limit],
        )
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # -- writing -----------------------------------------------------------------------------

    def ingest(
        self,
        files: Sequence[str | os.PathLike[str]],
        *,
        customer_col: str | None = None,
        time_col: str | None = None,
        event_col: str | None = None,
        tz: str | None = None,
        source: str = "auto",
        source_options: dict[str, str | None] | None = None,
        encoding: str | None = None,
        decimal: str | None = None,
        date_format: str | None = None,
        value_col: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> IngestReport:
        """Load event files; all or nothing.

        ``source`` names the export format (``auto``: recognised from each file's columns;
        see :mod:`kundresa.ingest.sources`), ``source_options`` are passed to it.
        ``encoding`` forces the text encoding (a Python codec name; else sniffed),
        ``decimal`` the value column's decimal mark (``,`` or ``.``; else told from its values,
        as :func:`decimal_mark`), ``date_format`` the time column's format
        (a strptime pattern such as ``%m/%d/%Y %H:%M``, or ``dmy``/``mdy`` for slashed
        dates) and ``value_col`` the value column (README, "Files as people save them").
        ``progress(file, bytes_done, bytes_total)`` is called while files are read.
        Raises :class:`IngestError` (with the file and the problem) when a file cannot be
        loaded at all; rows that are merely bad go to quarantine instead.
        """
        from kundresa.ingest.readers import sniff_text_file
        from kundresa.ingest.sources import (
            Source,
            SourceError,
            detect_source,
            get_source,
            read_sample,
        )

        if not files:
            raise IngestError("no files to ingest")
        _check_tz(tz)
        _check_encoding(encoding)
        if decimal not in (None, ",", "."):
            raise IngestError(f"--decimal {decimal!r}: use , or .")
        self._check_date_format(date_format)
        paths = [Path(f) for f in files]
        maps: dict[str, ColumnMap] = {}
        chosen: dict[str, Source] = {}
        formats: dict[str, _FileFormat] = {}
        options = source_options or {}
        explicit_columns = any(c is not None for c in (customer_col, time_col, event_col))
        # Check every file's columns before touching the warehouse, so that a bad third
        # file is reported at once instead of after loading the first two.
        for p in paths:
            try:
                delimiter = ","
                if p.exists() and not p.name.lower().endswith((".parquet", ".pq")):
                    delimiter = sniff_text_file(p, encoding).delimiter
                if source != "auto":
                    src = get_source(source, **options)
                elif explicit_columns:
                    src = get_source("events", **options)
                else:
                    try:
                        src = detect_source(read_sample(p, encoding=encoding), **options)
                    except SourceError:
                        # Read as a plain events file: its column check names what is missing.
                        src = get_source("events", **options)
                header = src.columns(read_header(p, encoding))
                if source != "auto" and src.confirms:
                    src.confirm(read_sample(p, encoding=encoding))
            except ReadError as exc:
                raise IngestError(str(exc)) from exc
            except SourceError as exc:
                text = str(exc)
                raise IngestError(text if text.startswith(str(p)) else f"{p}: {text}") from exc
            unused = [
                k for k, v in options.items() if v is not None and k not in _option_names(src)
            ]
            if unused:
                raise IngestError(
                    f"{p}: --event does not apply to this file (read as {src.title}); it "
                    "names the event of survey answers (--source survey)"
                    if unused[0] == "event"
                    else f"{p}: the {src.name} source takes no option {unused[0]!r}"
                )
            chosen[str(p)] = src
            formats[str(p)] = _FileFormat(decimal, date_format, "," if delimiter == ";" else ".")
            maps[str(p)] = _column_map(header, str(p), customer_col, time_col, event_col, value_col)

        def parts(p: Path) -> list[tuple[str, Any]]:
            # A zip is read member by member, each staged as its own part so that
            # quarantined rows name the member (``export.zip:member.json.gz``).
            size = p.stat().st_size
            scale = size / max(archive_size(p), 1)
            cb = (lambda done: progress(str(p), int(done * scale), size)) if progress else None
            src = chosen[str(p)]
            out = []
            for label, batches in iter_parts(p, cb, encoding=encoding):
                formats.setdefault(label, formats[str(p)])
                out.append((label, (assign_channels(src.transform(b)) for b in batches)))
            return out

        try:
            staged = [part for p in paths for part in parts(p)]
        except ReadError as exc:
            raise IngestError(str(exc)) from exc
        report = self._ingest(
            staged,
            customer_col=customer_col,
            time_col=time_col,
            event_col=event_col,
            value_col=value_col,
            tz=tz,
            recognised={str(p): chosen[str(p)].name for p in paths},
            files=[str(p) for p in paths],
            formats=formats,
        )
        return report

    def _check_date_format(self, date_format: str | None) -> None:
        if date_format is None or date_format in DATE_ORDERS:
            return
        if "%" not in date_format:
            raise IngestError(
                f"--date-format {date_format!r}: give dmy, mdy or a strptime pattern "
                "such as '%m/%d/%Y %H:%M'"
            )
        try:
            self.con.execute(f"SELECT try_strptime('', {_lit(date_format)})")
        except duckdb.Error as exc:
            raise IngestError(f"--date-format {date_format!r}: {exc}") from exc

    def ingest_arrow(
        self,
        table: pa.Table,
        *,
        source: str = "<dataframe>",
        customer_col: str | None = None,
        time_col: str | None = None,
        event_col: str | None = None,
        tz: str | None = None,
    ) -> IngestReport:
        """Load an Arrow table (e.g. from a DataFrame) like a file; rows are numbered from 1."""
        _check_tz(tz)
        from kundresa.ingest.readers import named_columns, text_batch

        def batches() -> Any:
            row = 1
            for batch in table.to_batches(max_chunksize=200_000):
                yield assign_channels(text_batch(named_columns(batch, source, row), row))
                row += batch.num_rows

        return self._ingest(
            [(source, batches())],
            customer_col=customer_col,
            time_col=time_col,
            event_col=event_col,
            tz=tz,
        )

    def ingest_batches(
        self,
        source: str,
        batches: Iterable[RawBatch],
        *,
        before_commit: Callable[[duckdb.DuckDBPyConnection, IngestReport], None] | None = None,
    ) -> IngestReport:
        """Load batches of canonical columns (:mod:`kundresa.ingest.sources`) in one
        transaction, as one row of the ingest log whose ``sources`` is ``[source]``; empty
        channels are filled from campaign fields and referrers as for files.

        ``before_commit(con, report)`` runs inside that transaction after the events, links
        and traits are written (so what it writes commits or rolls back with them); an
        exception it raises rolls the whole load back and is raised again. The live
        collector's loader records its log position this way (:mod:`kundresa.live.loader`).
        """
        return self._ingest(
            [(source, (assign_channels(b) for b in batches))],
            customer_col=None,
            time_col=None,
            event_col=None,
            tz=None,
            before_commit=before_commit,
        )

    def ingest_checked(
        self,
        source: str,
        batches: Iterable[RawBatch],
        *,
        before_commit: Callable[[duckdb.DuckDBPyConnection, IngestReport], None] | None = None,
        tail_fraction: float | None = layout.TAIL_FRACTION,
    ) -> IngestReport:
        """:meth:`ingest_batches` for rows mapped and checked when they arrived — the live
        collector's (:func:`kundresa.live.collector.check_message`) — with the same result,
        in less work.

        Each batch is parsed where it is (an Arrow table) instead of being copied into a text
        staging table first, nothing is sniffed (a checked row's number is read with a
        decimal point, and its time is ISO 8601 or an epoch, never a slashed date), and the
        raw record is built only for the rows that go to quarantine. The rest is
        :meth:`ingest_batches`' own code: the same parsing SQL, quarantine, deduplication
        key and anti-join, store order, identities and ingest log row, in one transaction
        (:meth:`writing_events`); ``before_commit`` as there. ``tail_fraction``: the
        journey-ordered store is rewritten in order when its tail passes this fraction of all
        rows (:func:`kundresa.store.layout.settle`); None: never here (the ingest only
        appends, and may run beside a rewrite of :meth:`start_rewrite`: the collector's
        loader).

        For rows that do not meet those conditions (a value with a decimal comma, a date
        with slashes) the result can differ from :meth:`ingest_batches`, which tells the
        decimal mark and the order of slashed dates from the values.

        Raises
        ------
        IngestError
            When DuckDB fails; the warehouse is unchanged.
        """
        started = datetime.now(UTC).replace(tzinfo=None)
        report = IngestReport(0, [source])
        columns: dict[str, None] = {}
        try:
            with self.writing_events(beside_rewrite=tail_fraction is None) as con:
                report.ingest_id = self.next_ingest_id()
                con.execute(_PARSED_DDL)
                for batch in batches:
                    batch = assign_channels(batch)
                    self._reject(source, batch, report)
                    names = list(batch.columns)
                    columns.update(dict.fromkeys(names))  # as the generic path's staging table
                    if len(batch.lines) == 0:
                        continue
                    cmap = _column_map(names, source, None, None, None, None)
                    sql = _parse_sql("_batch", cmap, names, raw=False)
                    table = batch.table()
                    con.register("_batch", table)
                    try:
                        con.execute(f"INSERT INTO _parsed SELECT {_lit(source)}, * FROM ({sql})")
                        # The raw records of the bad rows only (rare: the rows were checked).
                        con.execute(
                            f"UPDATE _parsed p SET _raw = {_raw_sql(names, 'b.')} FROM _batch b "
                            "WHERE p._reason IS NOT NULL AND p._raw IS NULL AND p._line = b._line"
                        )
                    finally:
                        con.unregister("_batch")
                    report.rows_read += table.num_rows
                if columns:
                    cmap = _column_map(list(columns), source, None, None, None, None)
                    report.columns[source] = cmap.describe()
                self._store_parsed(
                    report,
                    started,
                    ingest_options(report),
                    before_commit,
                    tail_fraction,
                )
        except BaseException as exc:
            if isinstance(exc, duckdb.Error):
                raise self._failed("ingest", exc) from exc
            raise
        return report

    def _ingest(
        self,
        sources: list[tuple[str, Any]],
        *,
        customer_col: str | None,
        time_col: str | None,
        event_col: str | None,
        tz: str | None,
        value_col: str | None = None,
        recognised: dict[str, str] | None = None,
        files: list[str] | None = None,
        formats: dict[str, _FileFormat] | None = None,
        before_commit: Callable[[Any, IngestReport], None] | None = None,
    ) -> IngestReport:
        # ``sources`` are the parts staged one by one (a zip's members); ``files`` what the
        # user named, which the report and the ingest log list.
        started = datetime.now(UTC).replace(tzinfo=None)
        report = IngestReport(0, files or [s for s, _ in sources])
        report.recognised = dict(recognised or {})
        try:
            with self.writing_events() as con:
                report.ingest_id = self.next_ingest_id()
                con.execute(f"SET TimeZone = {_lit(tz or 'UTC')}")
                con.execute(_PARSED_DDL)
                for index, (source, batches) in enumerate(sources):
                    stage = f"_stage_{index}"
                    columns, numbers, marked = self._stage(stage, source, batches, report)
                    if not columns:
                        continue
                    cmap = _column_map(
                        columns, source, customer_col, time_col, event_col, value_col
                    )
                    report.columns[source] = cmap.describe()
                    fmt = (formats or {}).get(source, _FileFormat())
                    if cmap.value in numbers and fmt.decimal != ".":
                        # Numbers in the file (a Parquet double, a JSON number) are written
                        # with a point whatever the mark of other files' text: 1.234 is no
                        # thousand.
                        fmt = _FileFormat(".", fmt.date_format)
                    if fmt.decimal is None:
                        mark = (
                            decimal_mark(
                                con,
                                stage,
                                cmap.value,
                                fmt.default_decimal,
                                number_rows=cmap.value in marked,
                            )
                            if cmap.value
                            else "."
                        )
                        fmt = _FileFormat(mark, fmt.date_format)
                    order = (
                        slash_order(con, stage, cmap.timestamp) if fmt.date_format is None else None
                    )
                    sql = _parse_sql(
                        stage,
                        cmap,
                        columns,
                        decimal=fmt.decimal or ".",
                        date_format=fmt.date_format,
                        slash_order=order,
                        tz=tz if tz not in (None, "UTC") else None,
                        raw=False,
                        number_rows=cmap.value in marked,
                    )
                    con.execute(f"INSERT INTO _parsed SELECT {_lit(source)}, * FROM ({sql})")
                    # The raw records of the bad rows only: building one for every row cost
                    # time and held a second copy of the file's text (issue 12).
                    bad = con.execute(
                        "SELECT EXISTS (SELECT 1 FROM _parsed WHERE _source = ? "
                        "AND _reason IS NOT NULL)",
                        [source],
                    ).fetchone()
                    if bad and bad[0]:
                        con.execute(
                            f"UPDATE _parsed p SET _raw = {_raw_sql(columns, 'b.')} "
                            f"FROM {stage} b WHERE p._source = {_lit(source)} "
                            "AND p._reason IS NOT NULL AND p._line = b._line"
                        )
                    con.execute(f"DROP TABLE {stage}")
                self._store_parsed(
                    report,
                    started,
                    ingest_options(
                        report,
                        {
                            k: {"decimal": f.decimal, "date_format": f.date_format}
                            for k, f in (formats or {}).items()
                        },
                        customer_col=customer_col,
                        time_col=time_col,
                        event_col=event_col,
                        value_col=value_col,
                        tz=tz,
                    ),
                    before_commit,
                )
        except BaseException as exc:
            # Interrupts included: nothing of a half-done ingest may stay behind (rolled back).
            self.con.execute("SET TimeZone = 'UTC'")
            if isinstance(exc, ReadError):
                raise IngestError(str(exc)) from exc
            if isinstance(exc, duckdb.Error):
                raise self._failed("ingest", exc) from exc
            raise
        return report

    def _rekeyed(self) -> None:
        """Bring the stored events' deduplication keys to :data:`_KEY_RULE` (inside the
        ingest's transaction, before new rows are matched against them): only events without
        an event id have keys of every field, so only theirs are computed again."""
        if self._keys_current:
            return
        con = self.con
        rule = con.execute("SELECT value FROM meta WHERE key = 'key_rule'").fetchone()
        if rule is not None and rule[0] == _KEY_RULE:
            # (Not set after the update below: its transaction may yet be rolled back.)
            self._keys_current = True
            return
        con.execute(f"UPDATE events SET _key = {_KEY_SQL} WHERE event_id IS NULL")
        con.execute("INSERT OR REPLACE INTO meta VALUES ('key_rule', ?)", [_KEY_RULE])

    def _store_parsed(
        self,
        report: IngestReport,
        started: datetime,
        options: dict[str, Any],
        before_commit: Callable[[Any, IngestReport], None] | None,
        tail_fraction: float | None = layout.TAIL_FRACTION,
    ) -> None:
        """Store the rows of ``_parsed`` (inside the ingest's transaction): bad rows to
        quarantine, new events in the store order, identities, the ingest log row with
        ``options``; then the store's layout (:func:`kundresa.store.layout.settle` with
        ``tail_fraction``) and ``before_commit``."""
        con = self.con
        # A bad row already quarantined by an earlier ingest of the same file is not
        # stored again: loading a file twice adds nothing anywhere.
        con.execute(
            "INSERT INTO quarantine SELECT ?, p._source, p._line, p._reason, p._raw "
            "FROM _parsed p WHERE p._reason IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM quarantine q WHERE q.source = p._source AND q.line = p._line "
            "AND q.record = p._raw AND q.ingest <> ?)",
            [report.ingest_id, report.ingest_id],
        )
        valid = con.execute(
            "SELECT count(*) FROM _parsed "
            "WHERE _reason IS NULL AND _kind IS DISTINCT FROM 'identify'"
        ).fetchone()
        assert valid is not None
        # One row per key: the first occurrence in this ingest, and only if the
        # warehouse does not hold that key already; coded, appended in the store order
        # (the tail of the journey-ordered store, see kundresa.store.layout).
        good = "_reason IS NULL AND _kind IS DISTINCT FROM 'identify'"
        # Without two rows of one key in this ingest (the usual case, told by a count over the
        # keys alone) every row is its key's first: no window over the whole rows, which cost
        # a third of a 10-million-row ingest and held every column (issue 12).
        once = con.execute(
            f"SELECT count(*) = count(DISTINCT _key), NOT EXISTS (SELECT 1 FROM events) "
            f"FROM _parsed WHERE {good}"
        ).fetchone()
        assert once is not None
        first = (
            ""
            if once[0]
            else "QUALIFY row_number() OVER (PARTITION BY _key ORDER BY _source, _line) = 1"
        )
        self._rekeyed()
        # Into an empty store (``--events FILE``) with no key twice, the new rows are the good
        # rows as they are: a view, not a third copy of the file beside _parsed and events.
        kind = "VIEW" if once[0] and once[1] else "TABLE"
        con.execute(
            f"CREATE OR REPLACE TEMP {kind} _new AS SELECT p.* FROM ("
            f"SELECT * FROM _parsed WHERE {good} {first}) p ANTI JOIN events e ON p._key = e._key"
        )
        layout.assign_codes(con, "_new")
        # Stored in the store order by the INSERT's own ORDER BY, which DuckDB keeps whatever
        # ``preserve_insertion_order`` is: that setting is the database's, and switching it
        # here would switch it under a reader on another connection (analytics._ordered).
        con.execute(
            f"""
            INSERT INTO events ({EVENT_SELECT}, _key, _ingest, anonymous_id, _c, _e)
            SELECT {EVENT_SELECT}, _key, ?, anonymous_id, _c, _e FROM (
                SELECT p.*, c.code AS _c, v.code AS _e FROM _new p
                JOIN customer_codes c ON c.customer_id = p.customer_id
                JOIN event_codes v ON v.event = p.event
            )
            ORDER BY {layout.STORE_ORDER}
            """,
            [report.ingest_id],
        )
        con.execute(f"DROP {kind} _new")
        self._store_identities(report)
        loaded = con.execute(
            "SELECT count(*) FROM events WHERE _ingest = ?", [report.ingest_id]
        ).fetchone()
        assert loaded is not None
        report.loaded = int(loaded[0])
        report.duplicates = int(valid[0]) - report.loaded
        for reason, n in con.execute(
            "SELECT _reason, count(*) FROM _parsed WHERE _reason IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall():
            report.reasons[_reason_kind(reason)] = report.reasons.get(_reason_kind(reason), 0) + n
        q = con.execute(
            "SELECT count(*) FROM quarantine WHERE ingest = ?", [report.ingest_id]
        ).fetchone()
        bad = con.execute("SELECT count(*) FROM _parsed WHERE _reason IS NOT NULL").fetchone()
        assert q is not None and bad is not None
        report.quarantined = int(bad[0]) + report.rejected
        report.already_quarantined = report.quarantined - int(q[0])
        self.log_ingest(report, started, options)
        con.execute("DROP TABLE _parsed")
        con.execute("SET TimeZone = 'UTC'")
        layout.settle(con, report.ingest_id, tail_fraction)
        if before_commit is not None:
            before_commit(con, report)

    def _store_identities(self, report: IngestReport) -> None:
        """Links, traits and the id map from this ingest's valid rows (in its transaction)."""
        con = self.con
        row = con.execute(
            "SELECT count(*) FILTER (_kind = 'identify'), "
            "count(*) FILTER (anonymous_id <> customer_id) FROM _parsed WHERE _reason IS NULL"
        ).fetchone()
        assert row is not None
        report.identified = int(row[0])
        if row[0] == 0 and row[1] == 0:
            return
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _new_links AS "
            'SELECT anonymous_id, customer_id AS known_id, min("timestamp") AS first_seen '
            "FROM _parsed "
            "WHERE _reason IS NULL AND anonymous_id <> customer_id GROUP BY ALL"
        )
        # A link seen earlier than the warehouse knew (a backfill) moves its time back: which
        # known id an anonymous id was linked to first decides whose it is.
        earlier = con.execute(
            "UPDATE identity_links l SET first_seen = n.first_seen FROM _new_links n "
            "WHERE l.anonymous_id = n.anonymous_id AND l.known_id = n.known_id "
            "AND n.first_seen < l.first_seen"
        ).fetchone()
        con.execute(
            "INSERT INTO identity_links SELECT n.*, ? FROM _new_links n "
            "ANTI JOIN identity_links l ON l.anonymous_id = n.anonymous_id "
            "AND l.known_id = n.known_id",
            [report.ingest_id],
        )
        added = con.execute(
            "SELECT count(*) FROM identity_links WHERE ingest = ?", [report.ingest_id]
        ).fetchone()
        report.links = int(added[0]) if added else 0
        if report.links or (earlier and earlier[0]):
            # Only the persons of this ingest's link ids can change (materialise_id_map).
            materialise_id_map(
                con,
                "(SELECT anonymous_id AS id FROM _new_links "
                "UNION ALL SELECT known_id FROM _new_links)",
            )
        con.execute("DROP TABLE _new_links")
        if report.identified:
            con.execute(
                """
                INSERT INTO customer_traits
                SELECT DISTINCT t.id, t.key, t.value, t."timestamp", ?
                FROM (
                    SELECT customer_id AS id, e.key AS key, e.value AS value, "timestamp"
                    FROM (SELECT customer_id, "timestamp", unnest(map_entries(properties)) AS e
                          FROM _parsed WHERE _reason IS NULL AND _kind = 'identify')
                ) t
                ANTI JOIN customer_traits c ON c.id = t.id AND c.key = t.key
                    AND c.value IS NOT DISTINCT FROM t.value AND c."timestamp" = t."timestamp"
                """,
                [report.ingest_id],
            )

    # -- identities --------------------------------------------------------------------------

    def has_links(self) -> bool:
        """Whether any id is stitched to another (the event table then needs the id map)."""
        if not self._identity_tables:
            return False
        row = self.con.execute("SELECT EXISTS (SELECT 1 FROM id_map)").fetchone()
        return bool(row and row[0])

    def _ids_sql(self) -> str:
        """Every id the warehouse holds, one row each (column ``id``)."""
        parts = ["SELECT customer_id AS id FROM events"]
        if self._identity_tables:
            parts += [
                "SELECT anonymous_id FROM events",
                "SELECT anonymous_id FROM identity_links",
                "SELECT known_id FROM identity_links",
                "SELECT id FROM customer_traits",
            ]
        return f"SELECT DISTINCT id FROM ({' UNION ALL '.join(parts)}) WHERE id IS NOT NULL"

    def _conflicts(self, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Anonymous ids linked to more than one known id, with the one they belong to."""
        if not self._identity_tables:
            return []
        where = "" if ids is None else "WHERE l.anonymous_id IN (SELECT unnest(?))"
        rows = self.con.execute(
            f"""
            SELECT l.anonymous_id, coalesce(m.customer_id, first(l.known_id ORDER BY
                    l.first_seen, l.known_id)) AS customer_id,
                list(struct_pack(known_id := l.known_id, first_seen := l.first_seen)
                     ORDER BY l.first_seen, l.known_id) AS links
            FROM identity_links l LEFT JOIN id_map m ON m.id = l.anonymous_id
            {where}
            GROUP BY l.anonymous_id, m.customer_id
            HAVING count(DISTINCT l.known_id) > 1
            ORDER BY l.anonymous_id
            """,
            [] if ids is None else [list(ids)],
        ).fetchall()
        return [
            {"anonymous_id": a, "customer_id": c, "linked_to": [dict(x) for x in links]}
            for a, c, links in rows
        ]

    def identity_summary(self) -> dict[str, Any]:
        """Ids, persons, links, persons with several ids, and conflicts (listed).

        ``conflicting_ids`` lists each anonymous id linked to more than one known id, the
        known ids it was linked to in order of ``first_seen``, and the ``customer_id`` it
        belongs to (the first).
        """
        row = self.con.execute(f"SELECT count(*) FROM ({self._ids_sql()})").fetchone()
        ids = int(row[0]) if row else 0
        mapped = links = several = 0
        if self._identity_tables:
            counts = self.con.execute(
                "SELECT (SELECT count(*) FROM id_map), (SELECT count(*) FROM identity_links), "
                "(SELECT count(DISTINCT customer_id) FROM id_map)"
            ).fetchone()
            assert counts is not None
            mapped, links, several = (int(c) for c in counts)
        conflicts = self._conflicts()
        return {
            "ids": ids,
            "persons": ids - mapped,
            "links": links,
            "persons_with_several_ids": several,
            "conflicts": len(conflicts),
            "conflicting_ids": conflicts,
        }

    def resolve_id(self, id: str) -> str:
        """The customer id naming the person ``id`` belongs to (``id`` itself when it is not
        stitched to another id, or unknown)."""
        key = id.strip()
        if not self.has_links():
            return key
        row = self.con.execute("SELECT customer_id FROM id_map WHERE id = ?", [key]).fetchone()
        return str(row[0]) if row else key

    def person_ids(self, id: str) -> tuple[str, list[str]]:
        """The customer id naming the person ``id`` belongs to, and all the person's ids
        (that customer id first).

        Raises
        ------
        IdentityError
            When the warehouse has never seen ``id``.
        """
        key = id.strip()
        found = self.con.execute(
            f"SELECT EXISTS (SELECT 1 FROM ({self._ids_sql()}) WHERE id = ?)", [key]
        ).fetchone()
        if not (found and found[0]):
            raise IdentityError(f"{key!r}: no such id in the warehouse")
        if not self._identity_tables:
            return key, [key]
        row = self.con.execute("SELECT customer_id FROM id_map WHERE id = ?", [key]).fetchone()
        person = row[0] if row else key
        others = [
            r[0]
            for r in self.con.execute(
                "SELECT id FROM id_map WHERE customer_id = ? ORDER BY id", [person]
            ).fetchall()
        ]
        return person, [person, *others]

    def identity(self, id: str) -> dict[str, Any]:
        """One person: customer id, every id with its role, first/last seen and event count,
        the person's event count, latest traits and conflicts.

        An id's ``events`` counts the events that carried it (as the known or the anonymous
        id of the row); ``first_seen``/``last_seen`` also count the times of its links. An
        id's ``role`` is ``known`` when it was ever used as a known id.

        Raises
        ------
        IdentityError
            When the warehouse has never seen ``id``.
        """
        person, ids = self.person_ids(id)
        links = (
            """UNION ALL SELECT anonymous_id, first_seen, 0, 'anonymous' FROM identity_links
               WHERE anonymous_id IN (SELECT unnest($ids))
               UNION ALL SELECT known_id, first_seen, 0, 'known' FROM identity_links
               WHERE known_id IN (SELECT unnest($ids))"""
            if self._identity_tables
            else ""
        )
        # A schema-1 warehouse opened read-only has no anonymous ids.
        anonymous = "anonymous_id" if self._identity_tables else "NULL::VARCHAR"
        rows = self.con.execute(
            f"""
            WITH ev AS (SELECT customer_id, "timestamp", {anonymous} AS anonymous_id FROM events),
            seen AS (
                SELECT customer_id AS id, "timestamp" AS t, 1 AS n,
                    CASE WHEN anonymous_id IS NOT DISTINCT FROM customer_id
                        THEN 'anonymous' ELSE 'known' END AS role
                FROM ev WHERE customer_id IN (SELECT unnest($ids))
                UNION ALL SELECT anonymous_id, "timestamp", 1, 'anonymous' FROM ev
                WHERE anonymous_id IN (SELECT unnest($ids)) AND anonymous_id <> customer_id
                {links}
            )
            SELECT id, min(t), max(t), sum(n), bool_or(role = 'known')
            FROM seen GROUP BY id
            """,
            {"ids": ids},
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        entries = []
        for i in ids:
            r = by_id.get(i)
            entries.append(
                {
                    "id": i,
                    "role": "known" if r is not None and r[4] else "anonymous",
                    "first_seen": r[1] if r else None,
                    "last_seen": r[2] if r else None,
                    "events": int(r[3]) if r else 0,
                }
            )
        total = self.con.execute(
            "SELECT count(*) FROM events WHERE customer_id IN (SELECT unnest(?))", [ids]
        ).fetchone()
        traits: list[dict[str, Any]] = []
        if self._identity_tables:
            traits = [
                {"key": k, "value": v, "timestamp": t, "id": who}
                for k, v, t, who in self.con.execute(
                    """SELECT key, arg_max(value, "timestamp"), max("timestamp"),
                              arg_max(id, "timestamp")
                       FROM customer_traits WHERE id IN (SELECT unnest(?))
                       GROUP BY key ORDER BY key""",
                    [ids],
                ).fetchall()
            ]
        return {
            "customer_id": person,
            "events": int(total[0]) if total else 0,
            "ids": entries,
            "traits": traits,
            "conflicts": self._conflicts(ids),
        }

    def forget(self, id: str) -> dict[str, Any]:
        """Remove a person — every id stitched to ``id`` — in one transaction.

        Deletes the events stored under any of the person's ids, their identity links and
        traits, their live state and stage events (:mod:`kundresa.live.state`), and the
        quarantined rows that mention one of the ids (a field equal to it, or,
        for a line that could not be split into fields, a part between ``,;|`` or tabs equal
        to it); clears the ids from other people's events that carried one as their
        anonymous id (a shared device); recomputes the id map. If anything fails, nothing is
        changed.

        Returns
        -------
        dict
            ``customer_id``, and the numbers of ``ids``, ``events``, ``links``, ``traits``,
            ``live_states``, ``stage_events`` and ``quarantined`` rows removed.

        Raises
        ------
        IdentityError
            When the warehouse has never seen ``id``.
        """
        person, ids = self.person_ids(id)
        with self.writing_events() as con:
            counts: dict[str, Any] = {"customer_id": person, "ids": len(ids)}
            counts["events"] = _changed(
                con.execute(
                    "DELETE FROM events WHERE customer_id IN (SELECT unnest(?))", [ids]
                ).fetchone()
            )
            con.execute(
                "UPDATE events SET anonymous_id = NULL WHERE anonymous_id IN (SELECT unnest(?))",
                [ids],
            )
            if layout.has_layout(con):  # the person's ids leave the store's dictionary too
                con.execute(
                    "DELETE FROM customer_codes WHERE customer_id IN (SELECT unnest(?))", [ids]
                )
            counts["links"] = counts["traits"] = 0
            if self._identity_tables:
                counts["links"] = _changed(
                    con.execute(
                        "DELETE FROM identity_links WHERE anonymous_id IN (SELECT unnest($ids)) "
                        "OR known_id IN (SELECT unnest($ids))",
                        {"ids": ids},
                    ).fetchone()
                )
                counts["traits"] = _changed(
                    con.execute(
                        "DELETE FROM customer_traits WHERE id IN (SELECT unnest(?))", [ids]
                    ).fetchone()
                )
            counts["quarantined"] = _changed(
                con.execute(
                    """
                    DELETE FROM quarantine WHERE list_has_any(
                        CASE WHEN json_keys(record) = ['text']
                            THEN list_transform(
                                regexp_split_to_array(record ->> 'text', '[,;\t|]'),
                                v -> trim(v, ' "'''))
                            ELSE list_transform(json_keys(record), k -> trim(record ->> k))
                        END, ?)
                    """,
                    [ids],
                ).fetchone()
            )
            # The live customer state and the stage-entered feed hold the person too.
            from kundresa.live.tables import forget_ids

            live = forget_ids(con, ids)
            counts["live_states"] = live["customer_state"]
            counts["stage_events"] = live["stage_events"]
            if counts["links"]:
                materialise_id_map(con)
        return counts

    def _failed(self, what: str, exc: BaseException) -> IngestError:
        """The one-line error for a write that DuckDB refused and rolled back: ``"<what>
        failed, warehouse unchanged: ..."``, with the first line of DuckDB's message only
        (the lines after it quote SQL). An empty warehouse held in memory, as ``--events``
        runs and ``Project.from_events`` read a file into, is no warehouse to the person who
        named the file: the message does not speak of one.

        Examples
        --------
        >>> str(Warehouse(None)._failed("ingest", ValueError("Parser Error: x\\nLINE 1: ...")))
        'ingest failed: Parser Error: x'
        """
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        unchanged = ", warehouse unchanged"
        if self.path is None:
            try:
                if not self.event_count():
                    unchanged = ""
            except duckdb.Error:
                pass  # the message keeps its claim: the rollback left the events as they were
        return IngestError(f"{what} failed{unchanged}: {first.strip()}")

    @contextmanager
    def writing_events(
        self, what: str | None = None, *, beside_rewrite: bool = False
    ) -> Iterator[Any]:
        """The one way to write ``events`` (ingest, forget, reorganise): rows of a file read
        in place are first copied into the journey-ordered table
        (:func:`kundresa.store.in_place.own_events`), then the body runs in one transaction
        on the connection it is given, committed when it ends and rolled back when it raises.

        Parameters
        ----------
        what
            The operation's name: a DuckDB error is then raised as :class:`IngestError`
            ``"<what> failed, warehouse unchanged: ..."``; None re-raises it as it is.
        beside_rewrite
            The body only appends an ingest (a collector load, ``tail_fraction=None``): it may
            run while a rewrite of :meth:`start_rewrite` does. Otherwise that rewrite is
            waited for first.

        Examples
        --------
        >>> wh = Warehouse(None)
        >>> with wh.writing_events() as con:
        ...     _ = con.execute("DELETE FROM events")
        >>> wh.event_count()
        0
        """
        if not beside_rewrite:
            self.finish_rewrite()
        own_events(self)
        con = self.con
        try:
            with transaction(con, stored=self.path is not None):
                # The kept tagged events are of the events before this write: dropped with it
                # (and back if it rolls back), whoever writes; Project.keep_tagged makes them
                # again. A Ctrl-C, even one some library swallowed, rolls it back; one during
                # the COMMIT is raised after it (kundresa._interrupts.transaction).
                _drop_tagged(con)
                yield con
        except duckdb.Error as exc:
            if what is not None:
                raise self._failed(what, exc) from exc
            raise

    def next_ingest_id(self) -> int:
        """The id the next row of the ingest log gets (1 for the first)."""
        row = self.con.execute("SELECT coalesce(max(id), 0) + 1 FROM ingests").fetchone()
        assert row is not None
        return int(row[0])

    def log_ingest(self, report: IngestReport, started: datetime, options: dict[str, Any]) -> None:
        """Write ``report``'s row of the ingest log (``ingests``), finished now (UTC), with
        ``options`` (the column, zone and format options, the columns and sources
        recognised) as JSON; inside the caller's transaction."""
        self.con.execute(
            "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                report.ingest_id,
                started,
                datetime.now(UTC).replace(tzinfo=None),
                report.sources,
                report.rows_read,
                report.loaded,
                report.duplicates,
                report.quarantined,
                json.dumps(options),
            ],
        )

    # -- the kept tagged events --------------------------------------------------------------

    def _data_state(self) -> str:
        """What the kept tagged events must have been made from: the number of events and of
        id-map rows, and the last ingest (a second guard beside the drop in
        :meth:`writing_events`, against a writer that does not know the table)."""
        row = self.con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT coalesce(max(id), 0) FROM ingests), "
            + ("(SELECT count(*) FROM id_map)" if self._identity_tables else "0")
        ).fetchone()
        assert row is not None
        return f"{row[0]}/{row[1]}/{row[2]}"

    def store_tagged(self, sql: str, made_for: str) -> None:
        """Keep the rows of ``sql`` — the events tagged with a journey's touchpoints — as the
        table :data:`TAGGED_TABLE`, replacing any, in one transaction.

        Parameters
        ----------
        sql
            A DuckDB query over this warehouse's tables (the tagged events).
        made_for
            What the rows depend on besides the events (the journey's tagging rules, as
            :func:`kundresa.analytics.touchpoints.tagging_fingerprint` gives them):
            :meth:`stored_tagged` hands the table out only for the same value.

        The table is dropped by every later write of the events (:meth:`writing_events`:
        ingest, forget, reorganise, a collector load).

        Examples
        --------
        >>> wh = Warehouse(None)
        >>> wh.store_tagged("SELECT 1 AS x", "rules-1")
        >>> wh.stored_tagged("rules-1"), wh.stored_tagged("rules-2")
        ('tagged_events', None)
        >>> with wh.writing_events() as con:
        ...     _ = con.execute("DELETE FROM events")
        >>> wh.stored_tagged("rules-1") is None
        True
        """
        con = self.con
        with transaction(con, stored=self.path is not None):
            con.execute(f"CREATE OR REPLACE TABLE {TAGGED_TABLE} AS {sql}")
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [_TAGGED_KEY, f"{made_for}@{self._data_state()}"],
            )

    def stored_tagged(self, made_for: str) -> str | None:
        """The name of the kept tagged events (:meth:`store_tagged`) when they were made for
        ``made_for`` from the events as they are now, else None."""
        try:
            row = self.con.execute(
                "SELECT value FROM meta WHERE key = ? AND EXISTS (SELECT 1 FROM duckdb_tables() "
                "WHERE table_name = ? AND schema_name = 'main' "
                "AND database_name = current_database())",
                [_TAGGED_KEY, TAGGED_TABLE],
            ).fetchone()
            if row is None or row[0] != f"{made_for}@{self._data_state()}":
                return None
        except duckdb.Error:  # a warehouse of an older version, read-only: no such table
            return None
        return TAGGED_TABLE

    def layout(self) -> dict[str, Any]:
        """How the events are laid out (:func:`kundresa.store.layout.layout_summary`)."""
        return layout.layout_summary(self.con)

    def reorganise(self) -> dict[str, Any]:
        """Rewrite the events in the journey-ordered layout (codes given, tail merged into the
        main part; see :mod:`kundresa.store.layout`) in one transaction, and return the new
        :meth:`layout`. Warehouses written by older versions reach the layout this way or on
        their next ingest; a file read in place is copied in first (:meth:`writing_events`).

        Examples
        --------
        >>> wh = Warehouse(None)
        >>> wh.reorganise()["tail_rows"]
        0
        """
        with self.writing_events("reorganise") as con:
            layout.reorganise(con)
        return self.layout()

    def settle(self) -> bool:
        """Rewrite the events in the store order, in one transaction, if the journey-ordered
        store's tail holds more than :data:`~kundresa.store.layout.TAIL_FRACTION` of them
        (what an ingest does after its rows; the live collector's loads let the tail grow
        further and call this between bursts). Returns whether it rewrote them; nothing is
        written otherwise. Analyses give the same results before and after.

        Raises
        ------
        IngestError
            When DuckDB fails; the warehouse is unchanged.

        Examples
        --------
        >>> wh = Warehouse(None)
        >>> wh.settle()
        False
        """
        summary = layout.layout_summary(self.con)
        total = summary["ordered_rows"] + summary["tail_rows"]
        if summary["current"] and summary["tail_rows"] <= layout.TAIL_FRACTION * total:
            return False
        with self.writing_events("reorganise") as con:
            return layout.settle(con, self.next_ingest_id() - 1)

    def start_rewrite(self, fraction: float) -> bool:
        """Start rewriting the events in the store order beside the loads: in a thread, on a
        connection of its own (``cursor()``) and in a transaction of its own
        (:func:`kundresa.store.layout.rewrite_beside_loads`: only when the tail holds more
        than ``fraction`` of the rows), while ingests with ``tail_fraction=None`` go on
        appending through this connection. Any other write (:meth:`writing_events`) waits
        for it; :meth:`close` stops it, rolled back.

        Returns
        -------
        bool
            False when a rewrite is running already (nothing started).
        """
        if self.rewriting:
            return False
        con = self.con.cursor()
        self._rewrite_con = con
        self.rewrite_result = None
        self.rewrite_error = None

        def run() -> None:
            try:
                self.rewrite_result = layout.rewrite_beside_loads(con, fraction)
            except BaseException as exc:  # reported by finish_rewrite; the store as it was
                self.rewrite_error = exc
            finally:
                con.close()

        self._rewriter = threading.Thread(target=run, name="kundresa-rewrite", daemon=True)
        self._rewriter.start()
        return True

    @property
    def rewriting(self) -> bool:
        """Whether a rewrite of :meth:`start_rewrite` is running."""
        return self._rewriter is not None and self._rewriter.is_alive()

    def finish_rewrite(self, *, interrupt: bool = False) -> int | None:
        """Wait for the rewrite of :meth:`start_rewrite`, if one is running (``interrupt``:
        stop it first: it rolls back). Returns the rows it rewrote, None when it rewrote
        nothing or failed (its error is then :attr:`rewrite_error`)."""
        thread = self._rewriter
        if thread is None:
            return None
        while thread.is_alive():
            if interrupt:  # again and again: an interrupt between two statements is lost
                with contextlib.suppress(Exception):
                    self._rewrite_con.interrupt()
            thread.join(0.05)
        self._rewriter = self._rewrite_con = None
        return self.rewrite_result

    def _reject(self, source: str, batch: RawBatch, report: IngestReport) -> None:
        """Quarantine the records a batch's reader or source rejected (unless an earlier
        ingest holds the same record at the same line already) and count them."""
        if not batch.rejected:
            return
        self.con.executemany(
            "INSERT INTO quarantine SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS ("
            "SELECT 1 FROM quarantine WHERE source = ? AND line = ? AND record = ?)",
            [
                [report.ingest_id, source, r.line, r.reason, rec, source, r.line, rec]
                for r in batch.rejected
                for rec in [json.dumps({"text": r.text})]
            ],
        )
        report.rows_read += len(batch.rejected)
        report.rejected += len(batch.rejected)
        for r in batch.rejected:
            kind = _reason_kind(r.reason)
            report.reasons[kind] = report.reasons.get(kind, 0) + 1

    def _stage(
        self, stage: str, source: str, batches: Any, report: IngestReport
    ) -> tuple[list[str], set[str], set[str]]:
        """Stream a file's batches into a text-only staging table; return its columns, those
        whose every value was a number in the file (:attr:`RawBatch.numbers`) and those that
        hold some numbers among texts (:attr:`RawBatch.number_rows`): each of these has a
        BOOLEAN column beside it (:func:`number_rows_column`), true where the value was a
        number in the file, which is not one of the columns returned."""
        con = self.con
        columns: list[str] = []
        numbers: set[str] = set()
        texts: set[str] = set()  # a column some batch holds as text
        marked: set[str] = set()  # a column with a number_rows_column in the stage
        # The staging table's columns in its own order (``_line`` after the first batch's).
        order: list[str] = []
        for batch in batches:
            self._reject(source, batch, report)
            names = list(batch.columns)
            numbers.update(batch.numbers)
            texts.update(n for n in names if n not in batch.numbers)
            if not columns:
                columns = names
                order = [*names, "_line"]
                cols = ", ".join(f"{_q(c)} VARCHAR" for c in columns)
                con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} ({cols}, _line BIGINT)")
            for extra in names:
                if extra not in columns:  # JSON Lines: keys can appear late in the file
                    con.execute(f"ALTER TABLE {stage} ADD COLUMN {_q(extra)} VARCHAR")
                    columns.append(extra)
                    order.append(extra)
            for name in batch.number_rows:
                if name not in marked:  # earlier rows held no number there: NULL, a text
                    kind = number_rows_column(name)
                    con.execute(f"ALTER TABLE {stage} ADD COLUMN {_q(kind)} BOOLEAN")
                    marked.add(name)
                    order.append(kind)
            n = len(batch.lines)
            if n == 0:
                continue
            kinds = {number_rows_column(c): c for c in marked}
            # Appended as a relation (in the table's column order), not through a registered
            # view: a view unregistered inside the ingest's transaction keeps its Arrow batch
            # alive until the commit, which held a whole file's text in memory beside
            # DuckDB's limit (issue 12). (A replacement scan of a local variable would not,
            # but it finds the variable by inspecting the caller's frame.)
            in_order = [_staged(batch, c, kinds) for c in order]
            con.from_arrow(pa.table(in_order, names=order)).insert_into(stage)
            report.rows_read += n
        # Arrow's allocator keeps freed batches for reuse: given back before DuckDB's heavier
        # steps, so that the process holds DuckDB's limit and one batch, not both at their peak.
        pa.default_memory_pool().release_unused()
        return columns, numbers - texts, marked


def _staged(batch: RawBatch, c: str, kinds: dict[str, str]) -> pa.Array:
    """The values of the staging table's column ``c`` in ``batch``: its text, its lines, or
    (``kinds``: a :func:`number_rows_column` → its column) which values were numbers."""
    n = len(batch.lines)
    if c == "_line":
        return batch.lines
    if c not in kinds:
        return batch.columns.get(c, pa.nulls(n, pa.string()))
    name = kinds[c]
    if name in batch.number_rows:
        return batch.number_rows[name]
    if name in batch.numbers and name in batch.columns:
        return batch.columns[name].is_valid()
    return pa.nulls(n, pa.bool_())


def ingest_options(
    report: IngestReport,
    formats: dict[str, dict[str, str | None]] | None = None,
    **given: Any,
) -> dict[str, Any]:
    """The options row of the ingest log (``ingests.options``, JSON) for ``report``: the
    column and zone options as given (``customer_col``, ``time_col``, ``event_col``,
    ``value_col``, ``tz``; ``None`` when not given), each source's number and date
    ``formats``, the report's columns and recognised sources, then any ``given`` key that is
    not an option (``in_place`` for a file read in place)."""
    names = ("customer_col", "time_col", "event_col", "value_col", "tz")
    return {
        **{name: given.pop(name, None) for name in names},
        "formats": formats or {},
        "columns": report.columns,
        "recognised": report.recognised,
        **given,
    }


def _drop_tagged(con: Any) -> None:
    """Drop the kept tagged events (:meth:`Warehouse.store_tagged`), in the caller's
    transaction."""
    con.execute(f"DROP TABLE IF EXISTS {TAGGED_TABLE}")
    con.execute("DELETE FROM meta WHERE key = ?", [_TAGGED_KEY])


def _changed(row: tuple[Any, ...] | None) -> int:
    """The row count a DuckDB UPDATE or DELETE returns."""
    return int(row[0]) if row else 0


def _reason_kind(reason: str) -> str:
    """Group quarantine reasons by kind for the summary (drop the offending value)."""
    kinds = {
        "unparseable timestamp": "unparseable timestamp",
        "ambiguous date": "ambiguous date",
        "epoch timestamp": "epoch timestamp not after 1970-01-01",
        "number ": "number too small for a Unix epoch (a spreadsheet date serial?)",
        "UTC offset": f"UTC offset beyond ±{_MAX_OFFSET_HOURS:02d}:00",
        "local time": "local time that does not exist or happens twice (daylight saving)",
        "time zone abbreviation": "time zone abbreviation (write a UTC offset or an IANA name)",
        "timestamp ": "timestamp outside 1900-2099 (a placeholder date)",
        "value ": "non-numeric value",
    }
    if " is a number only with a decimal " in reason:
        return f"value read only with the other decimal mark {reason[reason.rfind('(') :]}"
    if reason.startswith("timestamp ") and " has a two-digit year;" in reason:
        return f"timestamp with a two-digit year {reason[reason.rfind('(') :]}"
    for prefix, kind in kinds.items():
        if reason.startswith(prefix):
            return f"{kind} {reason[reason.rfind('(') :]}"
    if reason.startswith("expected ") and "fields" in reason:
        return "wrong number of fields"
    if reason.startswith("invalid JSON"):
        return "invalid JSON"
    return reason


def _option_names(source: Any) -> tuple[str, ...]:
    """The source options a source uses (its ``option_names``; none by default)."""
    return tuple(getattr(type(source), "option_names", ()))


@dataclass(frozen=True)
class _FileFormat:
    """How one file writes numbers and dates."""

    decimal: str | None = None
    """``,`` or ``.``; None: told from the value column's contents."""
    date_format: str | None = None
    default_decimal: str = "."
    """The decimal mark when the values do not tell it: ``,`` for a file delimited by ``;``."""


def _column_map(
    columns: list[str],
    source: str,
    customer_col: str | None,
    time_col: str | None,
    event_col: str | None,
    value_col: str | None,
) -> ColumnMap:
    """:func:`kundresa.ingest.columns.map_columns` of a file's or part's columns; raises
    :class:`IngestError` with its message when the columns cannot be mapped."""
    try:
        return map_columns(
            columns,
            source=source,
            customer_col=customer_col,
            time_col=time_col,
            event_col=event_col,
            value_col=value_col,
        )
    except ColumnError as exc:
        raise IngestError(str(exc)) from exc


def _check_encoding(encoding: str | None) -> None:
    if encoding is None:
        return
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise IngestError(
            f"--encoding {encoding!r} is not an encoding (use e.g. utf-8, utf-16, cp1252, latin-1)"
        ) from exc


def _check_tz(tz: str | None) -> None:
    if tz is None:
        return
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise IngestError(
            f"--tz {tz!r} is not a time zone name (use e.g. UTC, Europe/Stockholm)"
        ) from exc


HANDOVER_WAIT = 10.0
"""Seconds a process waits for a warehouse file that a collecting ``kundresa serve`` keeps
open (``KUNDRESA_LOCK_WAIT`` overrides it): :func:`listen_for_handover`."""


def listen_for_handover(path: Path, listening: bool) -> None:
    """Say (``listening``) or stop saying, beside the warehouse file ``path``, that this
    process keeps it open for writing and lets go of it when another process asks: the file
    ``<name>.listening`` holds this process's id. The collector's loader does
    (:mod:`kundresa.live.loader`); another process that finds the file locked by it leaves
    ``<name>.want.<its id>`` and tries again for :data:`HANDOVER_WAIT` seconds (DuckDB lets one
    process at a time open a file for writing, or several read-only)."""
    marker = path.with_name(path.name + ".listening")
    if listening:
        marker.write_text(str(os.getpid()), encoding="ascii")
    else:
        with contextlib.suppress(OSError):
            marker.unlink()


def handover_asked(path: Path) -> bool:
    """Whether a running process waits for the warehouse file ``path`` (a
    ``<name>.want.<id>`` file; those of ended processes are removed)."""
    prefix = path.name + ".want."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return False
    asked = False
    for name in names:
        if name.startswith(prefix):
            pid = name[len(prefix) :]
            if pid.isdigit() and _alive(int(pid)):
                asked = True
            else:
                with contextlib.suppress(OSError):
                    (path.parent / name).unlink()
    return asked


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def lock_wait() -> float:
    """Seconds to wait for a warehouse file a collecting server keeps open:
    ``KUNDRESA_LOCK_WAIT`` (a finite number, at least 0), else :data:`HANDOVER_WAIT`.

    Raises
    ------
    IngestError
        ``KUNDRESA_LOCK_WAIT`` is set to something else (a one-line message naming it).

    Examples
    --------
    >>> os.environ["KUNDRESA_LOCK_WAIT"] = "2.5"
    >>> lock_wait()
    2.5
    >>> os.environ["KUNDRESA_LOCK_WAIT"] = "ten"
    >>> try:
    ...     lock_wait()
    ... except IngestError as exc:
    ...     print(exc)
    KUNDRESA_LOCK_WAIT='ten': expected a number of seconds, at least 0 (default 10)
    >>> del os.environ["KUNDRESA_LOCK_WAIT"]
    """
    raw = os.environ.get("KUNDRESA_LOCK_WAIT", "").strip()
    if not raw:
        return HANDOVER_WAIT
    try:
        wait = float(raw)
    except ValueError:
        wait = math.nan
    if not (0 <= wait < math.inf):
        raise IngestError(
            f"KUNDRESA_LOCK_WAIT={raw!r}: expected a number of seconds, at least 0 "
            f"(default {HANDOVER_WAIT:g})"
        )
    return wait


def _connect_when_handed_over(target: str, read_only: bool, exc: duckdb.IOException) -> Any:
    """A read-only connection to ``target`` once the process holding it lets go, when that
    process listens for a handover (:func:`listen_for_handover`); else, or after
    :data:`HANDOVER_WAIT` seconds, :class:`IngestError` with what to do.

    Only a process that reads is handed the file: the server reopens it read-only for its
    pages and API at once, which a process writing to it would prevent for all its run (the
    API failing, the loads waiting), so a writer is refused at once, as the docs say
    (docs/collector.md, "While the server collects")."""
    path = Path(target)
    holder = None
    with contextlib.suppress(OSError, ValueError):
        holder = int(path.with_name(path.name + ".listening").read_text(encoding="ascii"))
    named = re.search(r"\(PID (\d+)\)", str(exc))
    if (
        "Conflicting lock" not in str(exc)
        or holder is None
        or not _alive(holder)
        or (named is not None and int(named.group(1)) != holder)
    ):
        raise IngestError(f"{target}: cannot open the warehouse: {_lock_hint(exc)}") from exc
    if not read_only:
        raise IngestError(
            f"{target}: cannot open the warehouse for writing: a collecting `kundresa serve` "
            f"(PID {holder}) has it; commands that only read wait for it, but writing (an "
            "ingest, forget, reorganise; Project.open without read_only=True) needs the "
            "server stopped, or load files through the web app's Data page"
        ) from exc
    wait = lock_wait()
    want = path.with_name(f"{path.name}.want.{os.getpid()}")
    deadline = time.monotonic() + wait
    try:
        want.write_bytes(b"")
        while time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                return duckdb.connect(target, read_only=read_only)
            except duckdb.IOException as again:
                exc = again
                if "Conflicting lock" not in str(again):
                    break
    finally:
        with contextlib.suppress(OSError):
            want.unlink()
    raise IngestError(f"{target}: cannot open the warehouse: {_lock_hint(exc)}") from exc


def _lock_hint(exc: Exception) -> str:
    """DuckDB's message, or for a lock held by another process what to do about it.

    Examples
    --------
    >>> _lock_hint(OSError('IO Error: Could not set lock on file "w.duckdb": Conflicting '
    ...                    'lock is held in /usr/bin/python3 (PID 42). See also …'))[:60]
    'another process (PID 42) has it open, such as a running `kun'
    """
    text = str(exc)
    if "Conflicting lock" not in text:
        return text
    found = re.search(r"\(PID (\d+)\)", text)
    who = f"another process (PID {found.group(1)})" if found else "another process"
    return (
        f"{who} has it open, such as a running `kundresa serve` or ingest; DuckDB lets one "
        "process use a warehouse file at a time: stop that process (or load files through "
        "the web app's Data page) and try again"
    )
