"""Shared machinery of sources that map one record at a time (GA4, Segment, Mixpanel…).

A :class:`RecordSource` turns each record of a batch (a dict of strings; nested JSON arrives
as JSON text) into zero or more canonical rows with :meth:`RecordSource.records`, or rejects
it with :class:`BadRow`, whose message names the source field; rejected records go to
quarantine with that reason. The batch it returns always has every canonical column, so that
a property named like an alias of one (``revenue``, ``uuid``) is never taken for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from kundresa.ingest.columns import ALIASES
from kundresa.ingest.columns import PLACEHOLDER_IDS as _PLACEHOLDER_IDS
from kundresa.ingest.readers import NumberText, RawBatch, Rejected, is_number_value
from kundresa.ingest.sources._base import ANONYMOUS_ID, KIND, Source, SourceError, article

CANONICAL = (
    "customer_id",
    ANONYMOUS_ID,
    "timestamp",
    "event",
    "channel",
    "value",
    "event_id",
    "session_id",
    KIND,
)

# Property names that the warehouse would read as something else (an id, a JSON column of
# properties) or that clash with a canonical column are stored as ``property.NAME``.
_RESERVED = {
    *(c.lower() for c in CANONICAL),
    *ALIASES["customer_id"],
    *ALIASES["properties"],
    "_line",
}

Row = dict[str, Any]

PROPS = "_props"
"""Key of a canonical row holding its properties (a dict), kept apart so that a property
named like a canonical column never overwrites it."""


class BadRow(ValueError):
    """A record that cannot be mapped; the message names the field and goes to quarantine."""


def text(value: Any) -> str | None:
    """A JSON value as Kundresa's text form (``None``, strings unchanged, JSON otherwise)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def check_props(props: Row) -> None:
    """:class:`BadRow` when a record's properties cannot all be stored as they are: two names
    that land on one column (the warehouse compares column names ignoring case, and a name
    like a canonical column's is stored as ``property.NAME``), which would keep one value and
    drop the other unseen, or a name that is empty but holds a value (no column can name it:
    as a JSON Lines key without a name). An empty name holding null or empty text is left out.

    Examples
    --------
    >>> check_props({"plan": "pro", "Country": "SE", "": None})
    >>> for props in ({"plan": "pro", "Plan": "free"}, {"": "v"}):
    ...     try:
    ...         check_props(props)
    ...     except BadRow as exc:
    ...         print(str(exc)[:59])
    properties: 'plan' and 'Plan' differ only in case (property
    properties: a property without a name holds a value ('v')
    """
    seen: dict[str, str] = {}
    for key, value in props.items():
        if value is None:
            continue
        if not key:
            if not blank(value):
                shown = str(text(value))[:40]
                raise BadRow(f"properties: a property without a name holds a value ({shown!r})")
            continue
        low = key.lower()
        if low in _RESERVED:
            low = f"property.{low}"
        other = seen.setdefault(low, key)
        if other == key:
            continue
        if other.lower() == key.lower():
            raise BadRow(
                f"properties: {other!r} and {key!r} differ only in case (property names are "
                "compared ignoring case): which one is meant?"
            )
        raise BadRow(
            f"properties: {other!r} and {key!r} are both stored as the property "
            f"{low!r} (a name like a column's gets 'property.' in front): which one is meant?"
        )


def blank(value: Any) -> bool:
    """Whether a value is no value: null or empty text."""
    return value is None or (isinstance(value, str) and not value.strip())


def parse_json(record: Row, field: str, kind: type = dict) -> Any:
    """The JSON value of ``record[field]`` (``None`` when absent); :class:`BadRow` naming the
    field when it is not a JSON value of ``kind`` (``dict`` or ``list``)."""
    raw = record.get(field)
    if blank(raw):
        return None
    if not isinstance(raw, str):
        value = raw
    else:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser
            value = raw
    if not isinstance(value, kind):
        what = "a JSON object" if kind is dict else "a JSON array"
        raise BadRow(f"{field!r} is not {what}")
    return value


def flatten(obj: Any, prefix: str = "", out: Row | None = None, depth: int = 1) -> Row:
    """Nested objects as dotted names (``{"a": {"b": 1}}`` → ``{"a.b": 1}``) to ``depth``
    levels; lists and deeper objects stay JSON text; nulls are dropped."""
    out = {} if out is None else out
    if not isinstance(obj, dict):
        return out
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth > 0:
            flatten(value, name + ".", out, depth - 1)
        elif value is not None:
            out[name] = value
    return out


_NAIVE = re.compile(r"\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d([.,]\d+)?)?)?")


def utc_text(value: Any) -> str | None:
    """A date-time text that the export documents as UTC, marked as such (so that
    ``--tz`` never shifts it); epochs, texts with a zone and texts that are no ISO date-time
    are returned as they are.

    Examples
    --------
    >>> utc_text("2025-05-31 00:37:00.123000"), utc_text("2025-05-31")
    ('2025-05-31 00:37:00.123000+00:00', '2025-05-31 00:00:00+00:00')
    >>> utc_text("2025-05-31T00:37:00Z"), utc_text("1748651820000")
    ('2025-05-31T00:37:00Z', '1748651820000')
    """
    s = text(value)
    if s is None or not s.strip():
        return None
    s = s.strip()
    if not _NAIVE.fullmatch(s):
        return s
    return s + "+00:00" if len(s) > 10 else s + " 00:00:00+00:00"


def member(obj: Any, key: str) -> Row:
    """``obj[key]`` when it is an object, else an empty one (nested records that may be
    missing or null)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


PLACEHOLDER_IDS = frozenset(_PLACEHOLDER_IDS)
"""Values trackers write where an id is unknown
(:data:`kundresa.ingest.columns.PLACEHOLDER_IDS`): no id (identity stitching never links on
them)."""


def first_id(record: Row, *fields: str) -> str | None:
    """The first of ``fields`` that holds a real id (not a :data:`PLACEHOLDER_IDS` value),
    as text.

    Examples
    --------
    >>> first_id({"userId": "undefined", "anonymousId": "a-1"}, "userId", "anonymousId")
    'a-1'
    """
    for f in fields:
        v = text(record.get(f))
        if v is not None and v.strip().lower() not in PLACEHOLDER_IDS:
            return v.strip()
    return None


def first(record: Row, *fields: str) -> Any:
    """The first non-blank value among ``fields`` of ``record``."""
    for f in fields:
        v = record.get(f)
        if not blank(v):
            return v
    return None


class RecordSource(Source):
    """A source that maps each record on its own (see the module docstring)."""

    #: Column sets of which a file needs one (each set all present) to be this source; the
    #: first set is named in the message when none fits.
    required: tuple[tuple[str, ...], ...] = ()

    def __init__(self, **options: str | None) -> None:
        super().__init__(**options)
        # Property names seen so far, by lower case: one spelling per column across batches.
        self._spelling: dict[str, str] = {}
        # Column name of each property key (:meth:`_name`, which never changes its answer).
        self._names: dict[str, str] = {}
        # The columns of the batch being transformed (a record holds only its non-null ones).
        self.batch_columns: set[str] = set()

    def check(self, header: list[str]) -> None:
        """:class:`SourceError` naming what a file with ``header`` lacks to be this source."""
        lower = {h.lower() for h in header}
        if not self.required or any(all(c.lower() in lower for c in s) for s in self.required):
            return
        wanted = " or ".join("+".join(s) for s in self.required)
        missing = [c for c in self.required[0] if c.lower() not in lower]
        raise SourceError(
            f"not {article(self.title)}: no {', '.join(missing)} column (needs {wanted}; "
            f"columns: {', '.join(header) or 'none'})"
        )

    def columns(self, header: list[str]) -> list[str]:
        self.check(header)
        return list(CANONICAL)

    def records(self, record: Row) -> Iterable[Row]:
        """Canonical rows for one source record: canonical names, properties under
        :data:`PROPS`."""
        raise NotImplementedError

    def transform(self, batch: RawBatch) -> RawBatch:
        names = list(batch.columns)
        self.batch_columns = set(names)
        data = [batch.columns[n].to_pylist() for n in names]
        for j, n in enumerate(names):
            # A JSON number's text stays marked as one (NumberText): mapped to the value,
            # it is read as the number it is, never with the file's decimal comma.
            marks = batch.number_rows.get(n)
            if marks is not None:
                data[j] = [
                    NumberText(v) if v is not None and m else v
                    for v, m in zip(data[j], marks.to_pylist(), strict=True)
                ]
        rows: list[Row] = []
        lines: list[int] = []
        rejected = list(batch.rejected)
        for i, line in enumerate(batch.lines.to_pylist()):
            record = {n: data[j][i] for j, n in enumerate(names) if data[j][i] is not None}
            try:
                mapped = list(self.records(record))
                for row in mapped:
                    check_props(row.get(PROPS) or {})
            except BadRow as exc:
                rejected.append(Rejected(line, str(exc), json.dumps(record, ensure_ascii=False)))
                continue
            rows.extend(mapped)
            lines.extend([line] * len(mapped))
        return self._batch(rows, lines, rejected)

    def rows_batch(self, rows: list[Row], lines: list[int]) -> RawBatch:
        """Canonical rows (as :meth:`records` gives them) as one batch of canonical columns;
        ``lines`` numbers them (a quarantined row names its line)."""
        return self._batch(rows, lines, [])

    def _name(self, key: str) -> str:
        low = key.lower()
        if low in _RESERVED:
            key = f"property.{key}"
            low = key.lower()
        return self._spelling.setdefault(low, key)

    def _batch(self, rows: list[Row], lines: list[int], rejected: list[Rejected]) -> RawBatch:
        # Column by column, and text as it is (most values are): the collector's loader
        # turns every logged row into columns here.
        n = len(rows)
        columns: dict[str, list[str | None]] = {
            key: [v if v is None or v.__class__ is str else text(v) for v in values]
            for key in CANONICAL
            for values in [[row.get(key) for row in rows]]
        }
        names = self._names
        for i, row in enumerate(rows):
            props = row.get(PROPS)
            if not props:
                continue
            for key, value in props.items():
                if not key or value is None:
                    continue
                name = names.get(key)
                if name is None:
                    name = names[key] = self._name(key)
                col = columns.get(name)
                if col is None:
                    col = columns[name] = [None] * n
                col[i] = value if value.__class__ is str else text(value)
        return RawBatch(
            {n: pa.array(v, pa.string()) for n, v in columns.items()},
            pa.array(lines, pa.int64()),
            rejected,
            number_rows=_number_rows(rows),
        )


def _number_rows(rows: list[Row]) -> dict[str, pa.Array]:
    """Which values of the canonical ``value`` were numbers in the source (a JSON number,
    parsed or as :class:`NumberText`), when some were (:attr:`RawBatch.number_rows`): only
    texts follow the file's decimal mark. (Properties are kept as text; ``value`` is the
    one column read as a number.)"""
    marks = [is_number_value(row.get("value")) for row in rows]
    return {"value": pa.array(marks)} if any(marks) else {}


def iter_batch_messages(record: Row, field: str = "batch") -> Iterator[Row] | None:
    """The messages of a batch envelope (``{"batch": [...]}``), or ``None`` for a plain
    record."""
    if set(record) - {field, "sentAt", "context", "writeKey", "integrations"}:
        return None
    messages = parse_json(record, field, list)
    if messages is None:
        return None
    return iter(m for m in messages if isinstance(m, dict))
