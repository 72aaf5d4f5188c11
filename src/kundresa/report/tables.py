"""Analysis results as terminal tables, JSON arrays of objects or CSV.

JSON follows the contract in DESIGN.md: an array of objects, one per row, with ``null`` where
a value is undefined (NaN, NaT, None) and timestamps in ISO 8601.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FORMATS", "records", "to_csv", "to_json", "to_rich_table"]

FORMATS = ("table", "json", "csv")


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: None for missing, ISO text for times."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta | pd.Timedelta):
        return pd.Timedelta(value).total_seconds()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a DataFrame as JSON-ready dicts.

    Examples
    --------
    >>> records(pd.DataFrame({"stage": ["a"], "rate": [float("nan")]}))
    [{'stage': 'a', 'rate': None}]
    """
    cols = [str(c) for c in df.columns]
    return [
        {c: _plain(v) for c, v in zip(cols, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]


def to_json(df: pd.DataFrame) -> str:
    return json.dumps(records(df), ensure_ascii=False, indent=2)


def to_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _is_rate(column: str) -> bool:
    """Whether a column holds a rate (shown as a percentage).

    ``conversion_from_previous`` is a rate; ``conversions`` (a count, e.g. conversions
    credited to a channel) and ``total_conversion_value`` are not.

    Examples
    --------
    >>> [_is_rate(c) for c in ("conversion_from_start", "share", "conversions", "value")]
    [True, True, False, False]
    """
    if "conversions" in column or "conversion_value" in column:
        return False
    return any(w in column for w in ("conversion", "share", "probability")) or (
        column.startswith("rate") or column.endswith("_rate")
    )


def _cell(value: Any, column: str) -> str:
    v = _plain(value)
    if v is None:
        return "–"
    if isinstance(v, float):
        if _is_rate(column):
            return f"{v:.1%}"
        return f"{v:,.2f}" if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def to_rich_table(
    df: pd.DataFrame,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    rates: Sequence[str] = (),
) -> Any:
    """A :class:`rich.table.Table` with numbers right-aligned and rates as percentages
    (columns named like rates, and those in ``rates``, such as a matrix's cells)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    cols = list(columns) if columns is not None else [str(c) for c in df.columns]
    for c in cols:
        numeric = pd.api.types.is_numeric_dtype(df[c]) if c in df.columns else False
        table.add_column(c, justify="right" if numeric else "left")
    for row in df[cols].itertuples(index=False, name=None):
        table.add_row(
            *(_cell(v, "rate" if c in rates else c) for v, c in zip(row, cols, strict=True))
        )
    return table
