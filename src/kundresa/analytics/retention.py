"""Retention: do customers come back, and do they buy again? As Ibis expressions.

Three views of the same activity, each per calendar period (``day``, ``week`` or ``month``,
in the project time zone: the journey's ``timezone:``, UTC by default; a week is an ISO week,
Monday to Sunday, so a week that starts in December belongs wholly to the week that starts on
that Monday):

- :func:`retention`: cohorts of customers by the period of their first event (or first
  purchase), and the share of each cohort active again 0, 1, 2, … whole periods later
  (PostHog's retention table with "first time" cohorts and "on" return criteria; Amplitude's
  N-day retention on calendar periods). :func:`retention_matrix` turns it into the familiar
  cohort × period triangle.
- :func:`repeat_purchase_rate`: how many purchasers bought at least twice.
- :func:`lifecycle`: per period, the customers who are new, returning, resurrecting or dormant
  (PostHog's Lifecycle insight).

What a purchase is comes from the caller as a funnel step text (``purchase``,
``order|purchase``, ``touchpoint:first_purchase``, ``stage:decision``, see
:func:`kundresa.analytics.funnel.parse_step`); touchpoints and stages are found with
:func:`kundresa.analytics.touchpoints.tag_events` and need the journey.

Every analysis first reduces the events to one row per customer and active period
(:func:`customer_periods`): a small table that the rest is computed from. A period is
numbered by a whole number (days or weeks since 1970, or months since year 0), so "k periods
later" is a subtraction, also across a year boundary.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from kundresa.analytics._ibis import cached
from kundresa.analytics._period import Period, When, local_clock, project_timezone, to_local
from kundresa.analytics._portable import count_true, flag
from kundresa.analytics.funnel import Step, parse_step
from kundresa.errors import UsageError
from kundresa.model.events import CUSTOMER, EVENT, TIMESTAMP

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "ACTIVITIES",
    "COHORTS",
    "LIFECYCLE_COLUMNS",
    "PERIODS",
    "REPEAT_COLUMNS",
    "RETENTION_COLUMNS",
    "customer_periods",
    "lifecycle",
    "repeat_purchase_rate",
    "retention",
    "retention_matrix",
]

PERIODS = ("day", "week", "month")
COHORTS = ("first_event", "first_purchase")
ACTIVITIES = ("any", "purchase")
"""What counts as activity: ``any`` event, or only a ``purchase``."""

RETENTION_COLUMNS = ("cohort", "cohort_size", "period", "customers", "rate")
REPEAT_COLUMNS = (
    "purchasers",
    "repeat_purchasers",
    "repeat_rate",
    "purchases",
    "purchases_per_purchaser",
)
LIFECYCLE_COLUMNS = ("period", "new", "returning", "resurrecting", "dormant", "active")

_EPOCH = ibis.timestamp("1970-01-01 00:00:00")
_US_PER_DAY = 86_400_000_000
_EPOCH_DATE = date(1970, 1, 1)


# -- options -----------------------------------------------------------------------------------


def _choice(value: Any, options: tuple[str, ...], option: str) -> str:
    if value not in options:
        raise UsageError(f"unknown {option} {value!r}; use one of {', '.join(options)}")
    return str(value)


def _purchase_step(purchase: str | Step, journey: Journey | None) -> Step:
    """The purchase definition, checked against the journey when it names touchpoints or
    stages."""
    try:
        step = parse_step(purchase)
    except ValueError as exc:
        raise UsageError(f"purchase: {exc}") from None
    if step.kind == "event":
        return step
    if journey is None:
        raise UsageError(
            f"purchase {str(step)!r} needs a journey: {step.kind}s are defined in the "
            "journey file (or name the purchase event, e.g. purchase='purchase')"
        )
    known = (
        [tp.id for tp in journey.touchpoints]
        if step.kind == "touchpoint"
        else list(journey.stage_ids)
    )
    unknown = [n for n in step.names if n not in known]
    if unknown:
        raise UsageError(
            f"purchase {str(step)!r}: the journey has no {step.kind} "
            f"{', '.join(repr(n) for n in unknown)} (it has: {', '.join(known) or 'none'})"
        )
    return step


def _periods_limit(periods: Any) -> int | None:
    if periods is None:
        return None
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
        raise UsageError(f"periods must be a whole number of at least 1, got {periods!r}")
    return periods


# -- periods -----------------------------------------------------------------------------------


def _period_number(ts: ir.TimestampValue, period: str) -> ir.IntegerValue:
    """The period of a timestamp as a whole number: days since 1970-01-01, ISO weeks since
    the week of 1970-01-01 (Monday 1969-12-29 is week 0), or months since January of year 0.

    Days count from the timestamp truncated to its day, so the division is exact on every
    engine (Ibis writes ``//`` as ``FLOOR(a / b)``). Weeks are counted from day numbers
    rather than with the engine's week truncation, whose first weekday is a setting on some
    engines (Snowflake's ``WEEK_START``): day -3 (1969-12-29) is a Monday, so
    ``(day + 3) // 7`` steps up every Monday."""
    if period == "month":
        return (ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1).cast("int64")
    days = ts.truncate("D").delta(_EPOCH, unit="microsecond") // _US_PER_DAY
    if period == "day":
        return days.cast("int64")
    return ((days + 3) // 7).cast("int64")


def _period_start(number: int, period: str) -> date:
    """The first day of period ``number`` (the inverse of :func:`_period_number`)."""
    if period == "day":
        return _EPOCH_DATE + timedelta(days=number)
    if period == "week":
        return _EPOCH_DATE + timedelta(days=7 * number - 3)
    return date(number // 12, number % 12 + 1, 1)


def _number_of(local: datetime, period: str) -> int:
    """:func:`_period_number` of a local wall time, in Python."""
    if period == "month":
        return local.year * 12 + local.month - 1
    days = (local.date() - _EPOCH_DATE).days
    return days if period == "day" else (days + 3) // 7


def _counted_numbers(span: Period, period: str) -> tuple[int | None, int | None]:
    """The first and last calendar period (numbers) that overlap ``[since, until)``."""
    lo = _number_of(to_local(span.start, span.timezone), period) if span.start else None
    hi = None
    if span.end is not None:
        hi = _number_of(to_local(span.end - timedelta(microseconds=1), span.timezone), period)
    return lo, hi


def _inside(n: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or n >= lo) and (hi is None or n <= hi)


def _span(since: When, until: When, journey: Journey | None, timezone: str | None) -> Period:
    return Period.parse(since, until, project_timezone(journey, timezone))


# -- the shared reduction ----------------------------------------------------------------------


def _purchase_flag(events: ir.Table, step: Step) -> ir.BooleanValue:
    names = list(step.names)
    column = events[EVENT] if step.kind == "event" else events[step.kind]
    fits = column == names[0] if len(names) == 1 else column.isin(names)
    return fits.fill_null(False)


def _with_purchase(
    events: ir.Table, purchase: str | Step, journey: Journey | None
) -> tuple[ir.Table, Step]:
    """The events narrowed to customer, timestamp and ``_buy`` (the event is a purchase)."""
    step = _purchase_step(purchase, journey)
    t = events
    if step.kind != "event":
        from kundresa.analytics.touchpoints import tag_events

        assert journey is not None  # checked by _purchase_step
        t = tag_events(t, journey)
    return t.select(CUSTOMER, TIMESTAMP, _buy=_purchase_flag(t, step)), step


def customer_periods(
    events: ir.Table,
    *,
    period: str = "week",
    purchase: str | Step = "purchase",
    journey: Journey | None = None,
    timezone: str | None = None,
) -> ir.Table:
    """One row per customer and period in which the customer had any event.

    Columns: ``customer_id``, ``period_number`` (whole periods: days or ISO weeks since
    1970, months since year 0), ``events`` and ``purchases`` (how many of the customer's
    events, and purchases, fall in the period). This is the table every retention view is
    computed from. Periods are calendar days, ISO weeks or months in ``timezone`` (default
    the journey's, else UTC).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a"],
    ...     "timestamp": ["2024-12-31 10:00", "2025-01-05 09:00", "2025-01-06 12:00"],
    ...     "event": ["page_view", "purchase", "purchase"],
    ... }))
    >>> customer_periods(events, period="month").order_by("period_number").to_pandas()
      customer_id  period_number  events  purchases
    0           a          24299       1          0
    1           a          24300       2          2
    """
    _choice(period, PERIODS, "period")
    t, _ = _with_purchase(events, purchase, journey)
    clock = local_clock(project_timezone(journey, timezone), t)
    t = t.mutate(_n=_period_number(clock(t[TIMESTAMP]), period))
    return (
        t.group_by([CUSTOMER, "_n"])
        .aggregate(
            events=ibis._.count(),
            purchases=count_true(t._buy),
        )
        .rename(period_number="_n")
    )


def _last_period(activity: ir.Table) -> int | None:
    value = activity.period_number.max().to_pandas()
    return None if value is None or pd.isna(value) else int(value)


def _counts(frame: pd.DataFrame, keys: list[str], value: str) -> dict[tuple[int, ...], int]:
    return {
        tuple(int(v) for v in key): int(n)
        for key, n in zip(frame[keys].itertuples(index=False, name=None), frame[value], strict=True)
    }


# -- retention ---------------------------------------------------------------------------------


def retention(
    events: ir.Table,
    *,
    cohort: str = "first_event",
    period: str = "week",
    returning: str = "any",
    purchase: str | Step = "purchase",
    periods: int | None = None,
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Cohort retention: of the customers who started in a period, how many were active
    0, 1, 2, … whole periods later.

    Parameters
    ----------
    events
        The canonical event table (any Ibis backend), e.g. a project's ``.events``.
    cohort
        ``first_event`` (default): a customer's cohort is the period of their first event of
        any kind; every customer is in one. ``first_purchase``: the period of their first
        purchase; customers who never purchased are in no cohort.
    period
        ``day``, ``week`` (ISO weeks, from Monday; default) or ``month``, in ``timezone``.
    returning
        What counts as being active in a period: ``any`` event (default), or only a
        ``purchase`` (repeat-purchase retention).
    purchase
        What a purchase is, as a funnel step text: ``purchase``, ``order|purchase``,
        ``touchpoint:ID`` or ``stage:ID`` (the last two need ``journey``).
    periods
        Show only periods ``0 .. periods-1``.
    journey
        The journey, for touchpoint and stage purchases.
    since, until
        Show only the cohorts, and the periods, that overlap ``[since, until)``. Cohorts
        come from the whole history (a customer's first event or first purchase ever), so
        a period never makes an old customer new; the numbers are the whole-history table's.
    timezone
        IANA time zone of the calendar periods and of dates; default the journey's, else UTC.

    Returns
    -------
    pandas.DataFrame
        One row per cohort and period index, in that order: ``cohort`` (the first day of the
        cohort's period, a :class:`datetime.date`), ``cohort_size``, ``period`` (0 is the
        cohort's own period, k the period k periods later), ``customers`` (cohort members
        active in that period) and ``rate`` (customers / cohort_size). Every cohort has a
        row for every period up to the last period in the data (the last period any event
        falls in), with 0 customers where nobody was active, so the triangle has no holes.
        Only periods in which some customer's cohort starts are cohorts.

    Notes
    -----
    Period 0 with ``returning="any"`` is always the whole cohort. With
    ``cohort="first_event", returning="purchase"`` it is the share who bought in their first
    period. With ``cohort="first_purchase"`` events before the first purchase are not
    counted. The last period is usually still running, so its numbers are incomplete.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "c", "c"],
    ...     "timestamp": ["2025-01-06", "2025-01-14", "2025-01-21", "2025-01-07",
    ...                   "2025-01-13", "2025-01-20"],
    ...     "event": ["page_view", "page_view", "purchase", "page_view", "page_view",
    ...               "page_view"],
    ... }))
    >>> retention(events, period="week")
           cohort  cohort_size  period  customers  rate
    0  2025-01-06            2       0          2   1.0
    1  2025-01-06            2       1          1   0.5
    2  2025-01-06            2       2          1   0.5
    3  2025-01-13            1       0          1   1.0
    4  2025-01-13            1       1          1   1.0
    >>> retention(events, period="week", returning="purchase")["customers"].tolist()
    [0, 0, 1, 0, 0]
    """
    _choice(cohort, COHORTS, "cohort")
    _choice(period, PERIODS, "period")
    _choice(returning, ACTIVITIES, "returning")
    limit = _periods_limit(periods)
    span = _span(since, until, journey, timezone)
    lo, hi = _counted_numbers(span, period)
    activity = customer_periods(
        events, period=period, purchase=purchase, journey=journey, timezone=span.timezone
    )
    with cached(activity) as a:
        starters = a if cohort == "first_event" else a.filter(a.purchases > 0)
        start = starters.group_by(CUSTOMER).aggregate(_c=starters.period_number.min())
        active = a if returning == "any" else a.filter(a.purchases > 0)
        joined = active.join(start, CUSTOMER)
        joined = joined.mutate(_k=joined.period_number - joined._c)
        kept = joined._k >= 0
        if limit is not None:
            kept = kept & (joined._k < limit)
        counts = joined.filter(kept).group_by(["_c", "_k"]).aggregate(n=ibis._.count())
        sizes = start.group_by("_c").aggregate(n=ibis._.count())
        size_of = _counts(sizes.to_pandas(), ["_c"], "n")
        active_of = _counts(counts.to_pandas(), ["_c", "_k"], "n")
        last = _last_period(a)
    rows = []
    for (c,), size in sorted(size_of.items()):
        assert last is not None  # there is a cohort, so there are events
        count_ = last - c + 1
        if not _inside(c, lo, hi):
            continue
        for k in range(min(count_, limit) if limit is not None else count_):
            if not _inside(c + k, lo, hi):
                continue
            n = active_of.get((c, k), 0)
            rows.append((_period_start(c, period), size, k, n, n / size))
    df = pd.DataFrame(rows, columns=list(RETENTION_COLUMNS))
    return df.astype(
        {"cohort_size": "int64", "period": "int64", "customers": "int64", "rate": "float64"}
    )


def retention_matrix(long: pd.DataFrame) -> pd.DataFrame:
    """The :func:`retention` table as a cohort × period matrix of rates, for display.

    Returns
    -------
    pandas.DataFrame
        ``cohort``, ``cohort_size``, then one column per period index named ``"0"``,
        ``"1"``, … holding the rate; NaN beyond the triangle (periods after the data ends).

    Examples
    --------
    >>> from datetime import date
    >>> long = pd.DataFrame({
    ...     "cohort": [date(2025, 1, 6)] * 2 + [date(2025, 1, 13)],
    ...     "cohort_size": [2, 2, 1], "period": [0, 1, 0], "customers": [2, 1, 1],
    ...     "rate": [1.0, 0.5, 1.0],
    ... })
    >>> retention_matrix(long)
           cohort  cohort_size    0    1
    0  2025-01-06            2  1.0  0.5
    1  2025-01-13            1  1.0  NaN
    """
    missing = [c for c in RETENTION_COLUMNS if c not in long.columns]
    if missing:
        raise ValueError(f"retention_matrix needs the retention() table; missing columns {missing}")
    if long.empty:
        return pd.DataFrame(
            {"cohort": pd.Series(dtype=object), "cohort_size": pd.Series(dtype="int64")}
        )
    wide = long.pivot(index=["cohort", "cohort_size"], columns="period", values="rate")
    wide = wide.reindex(columns=range(int(long["period"].max()) + 1)).astype("float64")
    wide.columns = [str(k) for k in wide.columns]
    # One cast of the whole block: a column-by-column assignment costs time in the number
    # of columns each, quadratic for a long history of day periods.
    out = wide.reset_index().sort_values("cohort", kind="stable").reset_index(drop=True)
    out["cohort_size"] = out["cohort_size"].astype("int64")
    out.columns.name = None
    return out


# -- repeat purchases --------------------------------------------------------------------------


def repeat_purchase_rate(
    events: ir.Table,
    *,
    purchase: str | Step = "purchase",
    period: str | None = None,
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """How many purchasers bought more than once.

    Parameters
    ----------
    purchase
        What a purchase is, as a funnel step text (see :func:`retention`); every event that
        fits is one purchase.
    period
        ``None`` (default): one row for all purchasers. ``day``, ``week`` or ``month``: one
        row per first-purchase cohort instead, with a leading ``cohort`` column (the first day
        of the period of the customer's first purchase). The totals are the call without
        ``period``; the cohort rows' ``purchasers``, ``repeat_purchasers`` and ``purchases``
        add up to them (each purchaser is in exactly one cohort), so the totals are kept
        out of the cohort table and its columns keep one type.
    journey
        The journey, for touchpoint and stage purchases.
    since, until
        Count the purchases in ``[since, until)`` and the customers who made them; a
        purchaser is a repeat purchaser when they had at least two purchases by the period's
        end (earlier ones included: an old customer buying again repeats). Cohorts stay the
        period of the first purchase ever.
    timezone
        IANA time zone of the cohort periods and of dates; default the journey's, else UTC.

    Returns
    -------
    pandas.DataFrame
        ``purchasers`` (customers with at least one purchase), ``repeat_purchasers`` (at
        least two), ``repeat_rate`` (repeat_purchasers / purchasers), ``purchases`` (purchase
        events) and ``purchases_per_purchaser``. Repeats are counted over all the events
        given, whenever they happened. The totals row is there even without purchases
        (zeros, and NaN rates); the cohort table is then empty.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "c"],
    ...     "timestamp": ["2025-01-06", "2025-02-03", "2025-03-03", "2025-02-10",
    ...                   "2025-02-11"],
    ...     "event": ["purchase", "purchase", "purchase", "purchase", "page_view"],
    ... }))
    >>> totals = repeat_purchase_rate(events)
    >>> totals[["purchasers", "repeat_purchasers", "repeat_rate"]]
       purchasers  repeat_purchasers  repeat_rate
    0           2                  1          0.5
    >>> totals[["purchases", "purchases_per_purchaser"]]
       purchases  purchases_per_purchaser
    0          4                      2.0
    >>> repeat_purchase_rate(events, period="month")[["cohort", "purchasers", "repeat_rate"]]
           cohort  purchasers  repeat_rate
    0  2025-01-01           1          1.0
    1  2025-02-01           1          0.0
    """
    if period is not None:
        _choice(period, PERIODS, "period")
    span = _span(since, until, journey, timezone)
    t, _ = _with_purchase(events, purchase, journey)
    bought = t.filter(t._buy)
    if span.end is not None:
        bought = bought.filter(span.before_end(bought[TIMESTAMP]))
    inside = flag(span.contains(bought[TIMESTAMP]))
    aggs_c: dict[str, Any] = {"_all": ibis._.count(), "_k": inside.sum()}
    if period is not None:
        clock = local_clock(span.timezone, bought)
        aggs_c["_c"] = _period_number(clock(bought[TIMESTAMP]), period).min()
    per = bought.group_by(CUSTOMER).aggregate(**aggs_c)
    per = per.filter(per._k > 0)
    aggs = {
        "purchasers": per.count(),
        "repeat_purchasers": count_true(per._all >= 2),
        "purchases": per._k.sum(),
    }
    if period is None:
        df = per.aggregate(**aggs).to_pandas()
    else:
        df = per.group_by("_c").aggregate(**aggs).order_by("_c").to_pandas()
        df.insert(0, "cohort", [_period_start(int(n), period) for n in df.pop("_c")])
    for c in ("purchasers", "repeat_purchasers", "purchases"):
        df[c] = df[c].fillna(0).astype("int64")
    with_buyers = df["purchasers"].where(df["purchasers"] > 0)
    df["repeat_rate"] = (df["repeat_purchasers"] / with_buyers).astype("float64")
    df["purchases_per_purchaser"] = (df["purchases"] / with_buyers).astype("float64")
    columns = (["cohort"] if period is not None else []) + list(REPEAT_COLUMNS)
    return df[columns].reset_index(drop=True)


# -- lifecycle ---------------------------------------------------------------------------------


def lifecycle(
    events: ir.Table,
    *,
    period: str = "week",
    active: str = "any",
    purchase: str | Step = "purchase",
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """New, returning, resurrecting and dormant customers per period (PostHog's Lifecycle).

    The definitions follow PostHog's Lifecycle insight
    (https://posthog.com/docs/product-analytics/lifecycle: new users did the action in the
    interval they were created in; returning users were active in the previous interval and
    this one; resurrecting users were not active in the previous interval and became active
    again; dormant users were active in the previous interval but not this one, drawn below
    the zero line). Kundresa has no "created" time for a customer, so *new* here means the
    customer's first active period; the rest is as in PostHog. For a customer and a period p:

    - ``new``: p is the customer's first active period;
    - ``returning``: active in p and in p-1;
    - ``resurrecting``: active in p, not in p-1, but in some period before p-1;
    - ``dormant``: active in p-1 but not in p. A positive count: charts draw it below zero
      (plot ``-dormant``);
    - ``active`` = new + returning + resurrecting: every customer active in p.

    Parameters
    ----------
    period
        ``day``, ``week`` (ISO weeks, from Monday; default) or ``month``, in ``timezone``.
    active
        What makes a customer active in a period: ``any`` event (default), or a
        ``purchase``.
    purchase
        What a purchase is, as a funnel step text (see :func:`retention`).
    journey
        The journey, for touchpoint and stage purchases.
    since, until
        Show only the periods that overlap ``[since, until)``. The states come from the
        whole history: *new* is the customer's first active period ever, and an earlier
        period before ``since`` still makes a customer returning or resurrecting.
    timezone
        IANA time zone of the calendar periods and of dates; default the journey's, else UTC.

    Returns
    -------
    pandas.DataFrame
        One row per period, from the first period anyone was active to the last period in
        the data (the last period any event falls in), periods without activity included:
        ``period`` (its first day, a :class:`datetime.date`), ``new``, ``returning``,
        ``resurrecting``, ``dormant``, ``active``. The last period is usually still running.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b", "a"],
    ...     "timestamp": ["2025-01-01", "2025-02-01", "2025-02-10", "2025-03-05",
    ...                   "2025-04-20"],
    ...     "event": ["page_view"] * 5,
    ... }))
    >>> lifecycle(events, period="month")
           period  new  returning  resurrecting  dormant  active
    0  2025-01-01    1          0             0        0       1
    1  2025-02-01    1          1             0        0       2
    2  2025-03-01    0          1             0        1       1
    3  2025-04-01    0          0             1        1       1
    """
    _choice(period, PERIODS, "period")
    _choice(active, ACTIVITIES, "active")
    span = _span(since, until, journey, timezone)
    lo, hi = _counted_numbers(span, period)
    activity = customer_periods(
        events, period=period, purchase=purchase, journey=journey, timezone=span.timezone
    )
    with cached(activity) as a:
        act = a if active == "any" else a.filter(a.purchases > 0)
        n = act.period_number
        w = ibis.window(group_by=act[CUSTOMER], order_by=n)
        act = act.mutate(_prev=n.lag().over(w), _next=n.lead().over(w))
        state = ibis.cases(
            (act._prev.isnull(), "new"),
            (act._prev == act.period_number - 1, "returning"),
            else_="resurrecting",
        )
        labelled = act.select(_n=act.period_number, _s=state)
        gone = act.filter(act._next.isnull() | (act._next > act.period_number + 1))
        dormant = gone.select(_n=gone.period_number + 1, _s=ibis.literal("dormant"))
        both = ibis.union(labelled, dormant)
        counts = both.group_by(["_n", "_s"]).aggregate(c=ibis._.count()).to_pandas()
        counts = counts.rename(columns={"_n": "n", "_s": "s"})
        last = _last_period(a)
    first = counts.loc[counts["s"] == "new", "n"].min() if len(counts) else None
    columns = list(LIFECYCLE_COLUMNS)
    if first is None or pd.isna(first) or last is None:
        df = pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
        df["period"] = df["period"].astype(object)
        return df
    got = {(int(r.n), str(r.s)): int(r.c) for r in counts.itertuples(index=False)}
    rows = []
    for p in range(int(first), last + 1):
        if not _inside(p, lo, hi):
            continue
        new, ret, res, dor = (
            got.get((p, s), 0) for s in ("new", "returning", "resurrecting", "dormant")
        )
        rows.append((_period_start(p, period), new, ret, res, dor, new + ret + res))
    df = pd.DataFrame(rows, columns=columns)
    return df.astype({c: "int64" for c in columns[1:]})
