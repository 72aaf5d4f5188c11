"""Helpers for sources that read one table export (CRM contacts, shop orders, surveys):
finding columns whatever their spelling, building event rows, snake-case properties."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kundresa.ingest.columns import MISSING_NUMBERS
from kundresa.ingest.readers import RawBatch, Rejected

CANONICAL = ("customer_id", "anonymous_id", "timestamp", "event", "value", "event_id")


def snake(name: str) -> str:
    """A column name in snake case, as properties are named.

    Examples
    --------
    >>> snake("Became a Marketing Qualified Lead Date")
    'became_a_marketing_qualified_lead_date'
    >>> snake("LeadSource"), snake("Record ID"), snake("Order #"), snake("IsWon")
    ('lead_source', 'record_id', 'order', 'is_won')
    """
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def find(header: Sequence[str], *names: str) -> str | None:
    """The first column of ``header`` whose snake-case name is one of ``names`` (tried in
    order), or None."""
    by_snake: dict[str, str] = {}
    for c in header:
        by_snake.setdefault(snake(c), c)
    for n in names:
        found = by_snake.get(snake(n))
        if found is not None:
            return found
    return None


def _reserved() -> set[str]:
    from kundresa.ingest.columns import ALIASES

    return {a.lower() for names in ALIASES.values() for a in names} | set(CANONICAL)


def property_names(source: str, columns: Iterable[str]) -> dict[str, str]:
    """Source column → property name (snake case). A name that the warehouse would read as
    an event column (``customer``, ``time``, ``source``…) is prefixed with the source name,
    so that it stays a property."""
    reserved = _reserved()
    out: dict[str, str] = {}
    taken: set[str] = set()
    for c in columns:
        name = snake(c) or "column"
        if name in reserved:
            name = f"{source}_{name}"
        base, i = name, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        out[c] = name
    return out


def text(batch: RawBatch, column: str | None) -> pa.Array:
    """A column of ``batch`` with blank values as null (all nulls when ``column`` is None)."""
    n = len(batch.lines)
    if column is None:
        return pa.nulls(n, pa.string())
    arr = batch.columns[column].cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


_ABSENT = "|".join(re.escape(v) for v in MISSING_NUMBERS)


def present(arr: pa.Array) -> np.ndarray:
    """A boolean mask: where the text ``arr`` holds a value: not null, not blank and not a
    marker of a missing value (``N/A``, ``#N/A``, ``null``…:
    :data:`~kundresa.ingest.columns.MISSING_NUMBERS`), as a CRM export writes for a stage
    date a record never reached."""
    absent = pc.match_substring_regex(arr, rf"^\s*(?i:{_ABSENT})?\s*$")
    return np.asarray(pc.fill_null(pc.invert(absent), False).to_numpy(zero_copy_only=False))


def reject(batch: RawBatch, rows: np.ndarray, reason: str) -> list[Rejected]:
    """Quarantine entries for the ``rows`` (indices) of ``batch``, each with its line and
    the row as JSON."""
    if not len(rows):
        return []
    table = pa.table(batch.columns).take(pa.array(rows, pa.int64()))
    lines = batch.lines.take(pa.array(rows, pa.int64())).to_pylist()
    return [
        Rejected(int(line), reason, json.dumps(rec, ensure_ascii=False))
        for line, rec in zip(lines, table.to_pylist(), strict=True)
    ]


def number_marks(batch: RawBatch, column: str | None) -> pa.Array | None:
    """Which values of ``column`` were numbers in the file (a JSON number; see
    :attr:`RawBatch.number_rows`), or None when none was."""
    if column is None:
        return None
    if column in batch.number_rows:
        return batch.number_rows[column]
    if column in batch.numbers and column in batch.columns:
        return batch.columns[column].is_valid()
    return None


def events_batch(
    batch: RawBatch,
    rows: np.ndarray,
    canonical: dict[str, pa.Array],
    properties: dict[str, str],
    rejected: list[Rejected] | None = None,
    value_from: str | None = None,
) -> RawBatch:
    """An output batch: input rows ``rows`` (indices, repeated for several events per row),
    the ``canonical`` columns (already one value per output row), and the input columns
    named in ``properties`` (source column → property name) taken at ``rows``.
    ``value_from`` is the input column the canonical ``value`` was taken from at ``rows``:
    its JSON numbers stay marked as numbers (read as such, not with the decimal mark)."""
    idx = pa.array(rows, pa.int64())
    cols: dict[str, pa.Array] = dict(canonical)
    for src, name in properties.items():
        cols[name] = batch.columns[src].cast(pa.string()).take(idx)
    marks = number_marks(batch, value_from)
    return RawBatch(
        cols,
        batch.lines.take(idx),
        [*batch.rejected, *(rejected or [])],
        number_rows={} if marks is None else {"value": marks.take(idx)},
    )


def output_columns(canonical: Sequence[str], properties: dict[str, str]) -> list[str]:
    return [*canonical, *properties.values()]
