"""Small portable Ibis building blocks shared by the analyses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import ibis
import ibis.expr.types as ir

from kundresa.analytics.touchpoints import EVENT_ORDER
from kundresa.model.events import CUSTOMER

__all__ = ["US_PER_DAY", "US_PER_SECOND", "cached", "customer_window", "epoch_us", "exact_median"]

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
_EPOCH = ibis.timestamp("1970-01-01 00:00:00")


def epoch_us(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 as an exact ``int64``.

    Durations are differences of these, turned into seconds or days only at the end:
    ``epoch_seconds()`` is a float on DuckDB, where two instants 1 ms apart differ by
    0.0009999275 s.
    """
    return ts.delta(_EPOCH, unit="microsecond").cast("int64")


@contextmanager
def cached(t: ir.Table) -> Iterator[ir.Table]:
    """``t`` computed once and kept (a temporary table on DuckDB, a cached view on Spark)
    while several queries read it; released afterwards."""
    c = t.cache()
    try:
        yield c
    finally:
        with suppress(Exception):  # the connection may be gone already
            c.release()


def customer_window(
    t: ir.Table, *, cumulative: bool = False, order: tuple[str, ...] = EVENT_ORDER
) -> Any:
    """A window over each customer's rows in ``order`` (by default the event order)."""
    keys = [t[c] for c in order]
    if cumulative:
        return ibis.cumulative_window(group_by=t[CUSTOMER], order_by=keys)
    return ibis.window(group_by=t[CUSTOMER], order_by=keys)


def mean_parts(us: ir.IntegerColumn) -> dict[str, ir.Scalar]:
    """The aggregations an exact mean of the durations ``us`` (whole microseconds, not
    negative) needs: the sums of their two parts and their count (``_high``, ``_low``, ``_n``;
    :func:`kundresa.analytics._means.means_of_parts` divides them once)."""
    from kundresa.analytics._means import PART_BITS

    return {
        "_high": (us // (1 << PART_BITS)).sum(),
        "_low": (us % (1 << PART_BITS)).sum(),
        "_n": us.count(),
    }


def exact_median(t: ir.Table, column: str, keys: list[str], name: str = "median") -> ir.Table:
    """Exact median of ``column`` per group of ``keys``: the middle value, or the mean of the
    two middle ones. Engines' own medians differ (DuckDB interpolates, Spark approximates);
    this one is the same everywhere. Null values are left out."""
    t = t.filter(t[column].notnull())
    ordered = ibis.window(group_by=[t[c] for c in keys], order_by=t[column])
    whole = ibis.window(group_by=[t[c] for c in keys])
    ranked = t.mutate(_r=ibis.row_number().over(ordered), _n=t[column].count().over(whole))
    low = (ranked._n - 1) // 2
    high = ranked._n // 2
    middle = ranked.filter((ranked._r == low) | (ranked._r == high))
    return middle.group_by(keys).aggregate(**{name: middle[column].mean()})
