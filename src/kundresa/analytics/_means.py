"""Mean durations, exact: the same float on every path, engine and run.

A mean of durations summed as floats depends on the order of the sum: numpy sums pairwise,
pandas and an engine's ``AVG`` in the order their threads meet the rows, which changes with a
file's row groups and from run to run (a mean of 410457.25002875 seconds on one path,
410457.25002875004 on another). The durations are whole microseconds (event times are kept
to the microsecond), so their sum is an integer: summed exactly and divided once
(:func:`mean_seconds`, or :func:`seconds_from_parts` of sums an engine made,
:data:`PART_BITS`), the mean is the true mean rounded once to the nearest float, whatever the
order. The parts keep every sum within 64 bits: durations within the years 1900-2099 (under
2**63 / 2**20 of them would overflow neither part).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PART_BITS",
    "mean_from_parts",
    "mean_seconds",
    "means_of_parts",
    "parts",
    "seconds_from_parts",
]

PART_BITS = 20
"""A duration ``d`` (microseconds, not negative) is summed as ``d >> PART_BITS`` and
``d & (2**PART_BITS - 1)``: ``sum(d) == (sum(high) << PART_BITS) + sum(low)``."""

_US_PER_SECOND = 1_000_000


def seconds_from_parts(high: Any, low: Any, n: Any) -> float | None:
    """The mean in seconds of ``n`` durations whose parts (:data:`PART_BITS`) sum to ``high``
    and ``low``: :func:`mean_from_parts` in seconds.

    >>> seconds_from_parts(0, 3_000_001, 2)
    1.5000005
    """
    return mean_from_parts(high, low, n, _US_PER_SECOND)


def mean_from_parts(high: Any, low: Any, n: Any, per: int) -> float | None:
    """The mean of ``n`` durations (microseconds) whose parts (:data:`PART_BITS`) sum to
    ``high`` and ``low``, in units of ``per`` microseconds: the exact total divided once
    (Python's integer division rounds to the nearest float); None for no durations or a
    missing sum."""
    if n is None or high is None or low is None or _missing(n) or int(n) == 0:
        return None
    if _missing(high) or _missing(low):
        return None
    total = (int(high) << PART_BITS) + int(low)
    return total / (int(n) * per)


def means_of_parts(frame: Any, per: int) -> npt.NDArray[np.float64]:
    """:func:`mean_from_parts` of each row of ``frame`` (a data frame with the columns
    ``_high``, ``_low`` and ``_n`` that :func:`kundresa.analytics._ibis.mean_parts` sums), in
    units of ``per`` microseconds; NaN where there is no duration."""
    means = map(mean_from_parts, frame["_high"], frame["_low"], frame["_n"], [per] * len(frame))
    return np.array([np.nan if m is None else m for m in means], np.float64)


def parts(us: npt.NDArray[np.integer[Any]]) -> tuple[int, int]:
    """The sums of the parts (:data:`PART_BITS`) of the durations ``us`` (microseconds, not
    negative)."""
    d = np.asarray(us, np.int64)
    high = int(np.sum(d >> PART_BITS, dtype=np.int64))
    low = int(np.sum(d & ((1 << PART_BITS) - 1), dtype=np.int64))
    return high, low


def mean_seconds(us: npt.NDArray[np.integer[Any]]) -> float | None:
    """The mean in seconds of the durations ``us`` (whole microseconds, not negative), exact
    as :func:`seconds_from_parts`; None for none.

    >>> mean_seconds(np.array([1, 2, 4_000_000]))
    1.3333343333333334
    """
    if not len(us):
        return None
    return seconds_from_parts(*parts(us), len(us))


def _missing(x: Any) -> bool:
    try:
        return bool(x != x)  # NaN, pandas' NA
    except TypeError:
        return True
