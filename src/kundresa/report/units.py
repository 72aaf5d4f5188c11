"""Units of result columns and how a value of each unit is written, in one place.

Every analysis declares the unit of its columns (:mod:`kundresa.analyses`); tables in the
terminal, the web pages and exports write a value through :func:`format_value`, so a rate reads
``56.8%`` everywhere, not ``0.568`` in one place and ``56.8%`` in another. Numbers follow the
language's conventions through Babel (CLDR data): ``20,000`` and ``56.8%`` in English,
``20 000`` and ``56,8 %`` in Swedish, ``20.000`` and ``56,8 %`` in Danish. JSON and CSV keep raw
numbers (rates as fractions 0-1, durations in seconds).

Units
-----
``count``
    A whole number of customers, events, moves: ``20,000``.
``rate``
    A fraction 0-1 (conversion, share, probability, removal effect): ``56.8%``.
``pp``
    A difference of two rates, as a fraction: ``+3.2 pp`` (percentage points; Swedish
    ``p.e.``, *procentenheter*; Danish ``pct.-point``, *procentpoint*).
``seconds``
    A duration in seconds: ``42 s``, ``12 min``, ``4 h 12 min``, ``9.3 d``.
``days``
    A duration in days: ``9.3 d``.
``money``
    An amount (the events' ``value``): ``1,234.50``.
``p_value``
    A p-value: ``0.032``, ``<0.001``.
``number``
    Any other number (an odds ratio, credited conversions): ``1.25``.
``label``
    Text: ids, labels, names; written as they are.
``time``
    A date or an instant: a date (or an instant at midnight, the start of a period) is
    written in the language's medium date format (``Nov 30, 2026``, ``30 nov. 2026``), other
    instants in ISO 8601.

Charts draw with the same conventions: :func:`chart_format` gives the symbols and names
the page's chart script formats its axes with.

Examples
--------
>>> format_value(0.568, "rate", "en"), format_value(20000, "count", "en")
('56.8%', '20,000')
>>> format_value(0.568, "rate", "sv").replace("\\xa0", " ")
'56,8 %'
>>> format_value(15120, "seconds", "en"), format_value(9.3 * 86400, "seconds", "en")
('4 h 12 min', '9.3 d')
>>> format_value(-0.032, "pp", "en"), format_value(0.0004, "p_value", "en")
('-3.2 pp', '<0.001')
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

__all__ = [
    "PP_UNIT",
    "UNITS",
    "chart_format",
    "format_count",
    "format_date",
    "format_days",
    "format_duration",
    "format_moment",
    "format_money",
    "format_number",
    "format_p_value",
    "format_pp",
    "format_rate",
    "format_value",
    "guess_unit",
    "is_numeric_unit",
]

UNITS = ("count", "rate", "pp", "seconds", "days", "money", "p_value", "number", "label", "time")

MISSING = "–"

#: How a difference of two percentages is written in each language: percentage points,
#: Swedish *procentenheter* (p.e.), Danish *procentpoint* (pct.-point).
PP_UNIT = {"en": "pp", "sv": "p.e.", "da": "pct.-point"}


def _locale(lang: str | None) -> str:
    return lang if lang in ("sv", "da", "en") else "en"


@cache
def _percent_pattern(lang: str) -> str:
    """The language's percent pattern with one decimal (``#,##0.0 %`` in Swedish)."""
    from babel import Locale

    pattern = Locale.parse(lang).percent_formats[None].pattern.split(";")[0]
    return re.sub(r"0(?![0-9.])", "0.0", pattern, count=1)


#: From here up a count, number or amount is written in scientific notation (``1.5E308``;
#: Swedish ``1,5×10^308``): its digits would be more than a double knows and more than the
#: decimal arithmetic that writes them holds (28 digits).
HUGE = 1e21


def _huge(value: float, lang: str | None) -> str | None:
    """``value`` in scientific notation with up to four significant digits when it is at
    least :data:`HUGE` in size, else None."""
    if not math.isfinite(value) or abs(value) < HUGE:
        return None
    from babel.numbers import format_scientific

    return format_scientific(value, format="0.###E0", locale=_locale(lang))


def format_count(value: float, lang: str | None = "en") -> str:
    """A count with the language's thousands separator: ``20,000`` (en), ``20 000`` (sv)."""
    from babel.numbers import format_decimal

    if (huge := _huge(value, lang)) is not None:
        return huge
    return format_decimal(round(value), format="#,##0", locale=_locale(lang))


def format_number(value: float, lang: str | None = "en", decimals: int = 2) -> str:
    """A number with ``decimals`` decimals (none from a million up): ``1,234.50``."""
    from babel.numbers import format_decimal

    if (huge := _huge(value, lang)) is not None:
        return huge
    if abs(value) >= 1e6:
        decimals = 0
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=_locale(lang))


def format_money(value: float, lang: str | None = "en") -> str:
    """An amount with two decimals: ``1,234.50`` (no currency: the events do not say one)."""
    from babel.numbers import format_decimal

    if (huge := _huge(value, lang)) is not None:
        return huge
    return format_decimal(value, format="#,##0.00", locale=_locale(lang))


def format_rate(value: float, lang: str | None = "en") -> str:
    """A fraction 0-1 as a percentage with one decimal: ``56.8%`` (en), ``56,8 %`` (sv)."""
    from babel.numbers import format_percent

    loc = _locale(lang)
    return format_percent(value, format=_percent_pattern(loc), locale=loc)


def format_pp(value: float, lang: str | None = "en") -> str:
    """A difference of two rates (a fraction) in percentage points: ``+3.2 pp`` (en),
    ``+3,2 p.e.`` (sv, procentenheter), ``+3,2 pct.-point`` (da, procentpoint)."""
    from babel.numbers import format_decimal

    loc = _locale(lang)
    text = format_decimal(abs(value) * 100, format="#,##0.0", locale=loc)
    sign = "+" if value > 0 else "-" if value < 0 and text.strip("0.,") else ""
    return f"{sign}{text}\u00a0{PP_UNIT[loc]}" if loc != "en" else f"{sign}{text} pp"


def format_days(days: float, lang: str | None = "en") -> str:
    """Days with one decimal: ``9.3 d``."""
    from babel.numbers import format_decimal

    return f"{format_decimal(days, format='#,##0.0', locale=_locale(lang))} d"


def format_duration(seconds: float, lang: str | None = "en") -> str:
    """Seconds in the unit a reader takes in at a glance: ``42 s``, ``12 min``,
    ``4 h 12 min``, ``9.3 d``."""
    s = float(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 60:
        return f"{sign}{round(s)} s"
    if s < 3600:
        return f"{sign}{round(s / 60)} min"
    if s < 86400:
        minutes = round(s / 60)
        h, m = divmod(minutes, 60)
        return f"{sign}{h} h {m} min" if m else f"{sign}{h} h"
    return sign + format_days(s / 86400, lang)


@cache
def chart_format(lang: str | None = "en") -> dict[str, Any]:
    """What a chart needs to write numbers, percentages and dates as the tables do (CLDR data
    through Babel): the decimal and group symbols, the text around a percentage, the
    percentage-point unit, the abbreviated month names, the medium date pattern, the short
    time pattern and the names of the two halves of the day.

    Examples
    --------
    >>> f = chart_format("sv")
    >>> f["decimal"], f["group"], f["percent_suffix"], f["months"][10], f["date"], f["time"]
    (',', '\xa0', '\xa0%', 'nov.', 'd MMM y', 'HH:mm')
    """
    from babel import Locale

    loc = _locale(lang)
    locale = Locale.parse(loc)
    sample = format_rate(0.125, loc)
    start, end = sample.index("1"), sample.rindex("5") + 1
    months = locale.months["format"]["abbreviated"]
    return {
        "decimal": format_number(0.5, loc, 1)[1],
        "group": format_count(1000, loc)[1],
        "percent_prefix": sample[:start],
        "percent_suffix": sample[end:],
        "pp": PP_UNIT[loc],
        "months": [str(months[m]) for m in range(1, 13)],
        "date": locale.date_formats["medium"].pattern,
        "time": locale.time_formats["short"].pattern,
        "am_pm": [str(locale.day_periods["format"]["abbreviated"][p]) for p in ("am", "pm")],
    }


def format_p_value(value: float, lang: str | None = "en") -> str:
    """A p-value with three decimals, ``<0.001`` below that."""
    from babel.numbers import format_decimal

    loc = _locale(lang)
    if value < 0.001:
        return "<" + format_decimal(0.001, format="0.000", locale=loc)
    return format_decimal(value, format="0.000", locale=loc)


#: ISO 8601 text of a day, or of an instant at midnight (the start of a period).
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?")

_NUMERIC = {"count", "rate", "pp", "seconds", "days", "money", "p_value", "number"}


def _moment(value: Any) -> datetime | date | None:
    """A date or instant from a datetime, a date or ISO 8601 text (``None`` if not one)."""
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    try:
        text = str(value).strip()
        return datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        return None


def format_date(value: Any, lang: str | None = "en") -> str:
    """A date (or the date of an instant) as the language writes it (CLDR's medium date
    format through Babel): ``30 nov. 2026`` in Swedish, ``Nov 30, 2026`` in English. Text
    that is not ISO 8601 is returned as it is; missing values are ``–``.

    Examples
    --------
    >>> format_date("2026-11-30", "sv"), format_date("2026-11-30T14:15:10.123456", "en")
    ('30 nov. 2026', 'Nov 30, 2026')
    """
    from babel.dates import format_date as babel_date

    moment = _moment(value)
    if moment is None:
        return MISSING if _plain(value) is None else str(value)
    return str(babel_date(moment, format="medium", locale=_locale(lang)))


def format_moment(value: Any, lang: str | None = "en", timezone: str | None = None) -> str:
    """An instant as the language writes it, to the second (CLDR's medium date and time
    formats through Babel): ``30 nov. 2026 14:15:10`` in Swedish. A naive time is UTC (as
    Kundresa stores timestamps); with ``timezone`` (an IANA name, the journey's) it is shown
    in that zone. A plain date is written as :func:`format_date` writes it.

    Examples
    --------
    >>> format_moment("2026-11-30T14:15:10.123456", "sv")
    '30 nov. 2026 14:15:10'
    >>> format_moment("2026-11-30 14:15:10", "da", "Europe/Copenhagen")
    '30. nov. 2026 15.15.10'
    """
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime

    moment = _moment(value)
    if not isinstance(moment, datetime):
        return format_date(value, lang)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    zone = ZoneInfo(timezone or "UTC")
    return str(
        format_datetime(moment.replace(microsecond=0), "medium", tzinfo=zone, locale=_locale(lang))
    )


def is_numeric_unit(unit: str) -> bool:
    """Whether values of the unit are numbers (right-aligned in tables)."""
    return unit in _NUMERIC


def _plain(value: Any) -> Any:
    if value is None:
        return None
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    return value


def format_value(value: Any, unit: str, lang: str | None = "en") -> str:
    """``value`` written for a reader as a value of ``unit`` (see the module's list), in
    ``lang`` (``sv``, ``da`` or ``en``); missing values (None, NaN) are ``–``.

    A bool is ``yes``/``no``; text is returned as it is.
    """
    v = _plain(value)
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime | date):
        if unit == "time" and (not isinstance(v, datetime) or v.time() == datetime.min.time()):
            return format_date(v, lang)
        return v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
    if unit == "time" and isinstance(v, str) and _ISO_DAY.fullmatch(v):
        return format_date(v[:10], lang)
    if isinstance(v, timedelta):
        return format_duration(v.total_seconds(), lang)
    if not isinstance(v, int | float):
        if hasattr(v, "isoformat"):
            return str(v.isoformat())
        return str(v)
    if unit == "count":
        return format_count(v, lang) if float(v).is_integer() else format_number(v, lang)
    if unit == "rate":
        return format_rate(v, lang)
    if unit == "pp":
        return format_pp(v, lang)
    if unit == "seconds":
        return format_duration(v, lang)
    if unit == "days":
        return format_days(v, lang)
    if unit == "money":
        return format_money(v, lang)
    if unit == "p_value":
        return format_p_value(v, lang)
    if isinstance(v, int):
        return format_count(v, lang)
    return format_number(v, lang)


def guess_unit(column: str, value: Any = None) -> str:
    """The unit of a column no analysis declared, from its name and a value.

    ``conversion_from_previous`` is a rate; ``conversions`` (a count of conversions credited)
    and ``total_conversion_value`` are not.

    Examples
    --------
    >>> [guess_unit(c) for c in ("conversion_from_start", "share", "conversions", "p_value")]
    ['rate', 'rate', 'number', 'p_value']
    """
    if column == "p_value" or column.endswith("_p_value"):
        return "p_value"
    if "seconds" in column:
        return "seconds"
    if "conversions" in column or "conversion_value" in column:
        return "number"
    if any(w in column for w in ("conversion", "share", "probability")) or (
        column.startswith("rate") or column.endswith("_rate")
    ):
        return "rate"
    v = _plain(value)
    if isinstance(v, int) and not isinstance(v, bool):
        return "count"
    if isinstance(v, str):
        return "label"
    return "number"
