"""Analysis results as terminal tables, JSON arrays of objects or CSV.

JSON follows the README ("Command reference"): an array of objects, one per row, with ``null`` where
a value is undefined (NaN, NaT, None) and timestamps in ISO 8601.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EXCEL_BOOLEANS",
    "FORMATS",
    "records",
    "to_csv",
    "to_excel_csv",
    "to_json",
    "to_rich_table",
]

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


def _nested_as_json(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every cell holding a mapping or a list (an event's ``properties``, a
    path) as JSON text, which a CSV reader can parse back, instead of Python's notation."""
    nested = (dict, list, tuple, np.ndarray)

    def cell(v: Any) -> Any:
        return json.dumps(_plain(v), ensure_ascii=False) if isinstance(v, nested) else v

    out = df
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        if (
            pd.api.types.is_object_dtype(col.dtype)
            and col.map(lambda v: isinstance(v, nested)).any()
        ):
            if out is df:
                out = df.copy()
            out.iloc[:, i] = col.map(cell)
    return out


def to_csv(df: pd.DataFrame) -> str:
    """CSV text (``,``, a point for decimals, ``\\n`` line ends); a cell holding a mapping
    or a list is written as JSON.

    Examples
    --------
    >>> print(to_csv(pd.DataFrame({"event": ["view"], "properties": [{"src": "x"}]})), end="")
    event,properties
    view,"{""src"": ""x""}"
    """
    buf = io.StringIO()
    _nested_as_json(df).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula, with a ``'`` in front."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# The words Excel reads as the booleans when it opens a CSV file in each language: the
# names of its TRUE and FALSE in that language (Swedish Excel's SANT()/FALSKT(), Danish
# Excel's SAND()/FALSK()); "True" or "TRUE" would stay text in a Swedish Excel.
EXCEL_BOOLEANS = {"sv": ("SANT", "FALSKT"), "da": ("SAND", "FALSK"), "en": ("TRUE", "FALSE")}


def _excel_booleans(col: pd.Series, words: tuple[str, str]) -> pd.Series:
    """A column's booleans (``bool``, NumPy's, pandas' nullable ``boolean``; in an object
    column too) as Excel's words for them; a missing value stays empty, others as they are."""
    kind = col.dtype
    if not (pd.api.types.is_bool_dtype(kind) or pd.api.types.is_object_dtype(kind)):
        return col
    if pd.api.types.is_object_dtype(kind) and not any(isinstance(v, bool | np.bool_) for v in col):
        return col
    return col.astype(object).map(
        lambda v: (words[0] if v else words[1]) if isinstance(v, bool | np.bool_) else v
    )


def to_excel_csv(df: pd.DataFrame, lang: str | None = "en") -> bytes:
    """CSV that Excel opens right in the journey's language: UTF-8 with a byte order mark
    (so Excel reads å, ä, ø), and for Swedish and Danish ``;`` between fields and a decimal
    comma (the list separator and decimal mark of those locales); ``,`` and ``.`` in English.
    Values stay raw as in :func:`to_csv` (rates as fractions, durations in seconds), except
    booleans: written as the words Excel in that language reads as its TRUE and FALSE
    (:data:`EXCEL_BOOLEANS`: ``SANT``/``FALSKT`` in Swedish, ``SAND``/``FALSK`` in Danish,
    ``TRUE``/``FALSE`` in English), where ``True`` would stay text; a missing one is empty.

    Text that Excel would run as a formula — a cell starting with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return, such as an event name ``=HYPERLINK(...)`` from a hostile
    export or tracker — gets a leading ``'`` so that it is shown as text (OWASP, "CSV
    Injection"); numbers are written as they are.

    Examples
    --------
    >>> to_excel_csv(pd.DataFrame({"stage": ["Köp"], "rate": [0.5]}), "sv")
    b'\\xef\\xbb\\xbfstage;rate\\r\\nK\\xc3\\xb6p;0,5\\r\\n'
    >>> to_excel_csv(pd.DataFrame({"event": ["=1+1"], "change": [-0.5]}))
    b"\\xef\\xbb\\xbfevent,change\\r\\n'=1+1,-0.5\\r\\n"
    >>> to_excel_csv(pd.DataFrame({"kpi": ["a", "b"], "met": [True, False]}), "sv")
    b'\\xef\\xbb\\xbfkpi;met\\r\\na;SANT\\r\\nb;FALSKT\\r\\n'
    """
    comma = lang in ("sv", "da")
    words = EXCEL_BOOLEANS.get(lang or "en", EXCEL_BOOLEANS["en"])
    texts = pd.api.types.is_object_dtype, pd.api.types.is_string_dtype
    df = (
        _nested_as_json(df)
        .rename(columns=_inert)
        .apply(lambda col: col.map(_inert) if any(t(col.dtype) for t in texts) else col)
        .apply(lambda col: _excel_booleans(col, words))
    )
    buf = io.StringIO()
    df.to_csv(
        buf,
        index=False,
        sep=";" if comma else ",",
        decimal="," if comma else ".",
        lineterminator="\r\n",
    )
    return buf.getvalue().encode("utf-8-sig")


def to_rich_table(
    df: pd.DataFrame,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    units: Mapping[str, str] | None = None,
    lang: str | None = "en",
) -> Any:
    """A :class:`rich.table.Table` with numbers right-aligned, each column's values written in
    its unit (``units``; a column not named there gets one from its name, see
    :func:`~kundresa.report.units.guess_unit`) in the language ``lang``.

    Cells and the title are shown as they are: text such as ``[bold]`` is never read as markup.
    """
    from rich.markup import escape
    from rich.table import Table

    from kundresa.report.units import format_value, guess_unit, is_numeric_unit

    table = Table(title=escape(title) if title else None, title_justify="left", header_style="bold")
    cols = list(columns) if columns is not None else [str(c) for c in df.columns]
    given = dict(units or {})
    col_units: list[str] = []
    for c in cols:
        present = c in df.columns
        first = df[c].iloc[0] if present and len(df) else None
        unit = given.get(c) or guess_unit(c, first)
        numeric = (
            present
            and pd.api.types.is_numeric_dtype(df[c])
            and not (pd.api.types.is_bool_dtype(df[c]))
        )
        col_units.append(unit)
        table.add_column(
            escape(c), justify="right" if numeric and is_numeric_unit(unit) else "left"
        )
    for row in df[cols].itertuples(index=False, name=None):
        table.add_row(
            *(
                escape(format_value(_plain(v), unit, lang))
                for v, unit in zip(row, col_units, strict=True)
            )
        )
    return table
