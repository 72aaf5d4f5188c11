"""Where the journey loses customers: KPI status per stage, and the bottlenecks ranked.

:func:`kpi_status` puts every stage KPI of the journey file (``kpis: [{metric, target,
direction}]``) next to its actual value, so a journey map can show whether each goal is met.

:func:`bottlenecks` looks at every step of the journey where customers can be lost — each
stage transition (previous stage → stage), and each step of an event funnel when one is given
— and ranks them three ways: by customers lost, by how far the conversion misses its KPI, and
by how much the conversion fell compared with an earlier period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd

from kundresa.analytics._period import Period, to_instant, to_local
from kundresa.analytics._stats import two_proportion_test, z_for
from kundresa.analytics.funnel import Step, event_funnel
from kundresa.analytics.journeys import time_in_stage
from kundresa.analytics.stages import parse_period, stage_funnel
from kundresa.errors import UsageError
from kundresa.model.events import TIMESTAMP

if TYPE_CHECKING:
    from kundresa.model.journey import Journey, Kpi

__all__ = [
    "BOTTLENECK_COLUMNS",
    "DEFAULT_DAYS",
    "KPI_COLUMNS",
    "bottlenecks",
    "kpi_status",
]

KPI_COLUMNS = (
    "stage",
    "label",
    "metric",
    "target",
    "direction",
    "actual",
    "met",
    "gap",
    "relative_gap",
)
BOTTLENECK_COLUMNS = (
    "kind",
    "from",
    "to",
    "label",
    "entered_from",
    "reached",
    "lost",
    "conversion",
    "kpi_target",
    "kpi_gap",
    "previous_entered_from",
    "previous_reached",
    "previous_conversion",
    "previous_lost",
    "change",
    "z",
    "p_value",
    "significant",
    "rank_lost",
    "rank_kpi",
    "rank_change",
)
DEFAULT_DAYS = 30
"""Without since/until, bottlenecks compare the last this many days of data with the same
number of days before them."""

_FUNNEL_METRICS = (
    "reached",
    "entered",
    "conversion_from_previous",
    "conversion_from_start",
    "dropped",
)

When = str | date | datetime | None


# -- KPI status --------------------------------------------------------------------------------


def kpi_status(
    project: Any,
    *,
    since: When = None,
    until: When = None,
    events: ir.Table | None = None,
    lang: str | None = None,
) -> pd.DataFrame:
    """Every stage KPI of the journey with its actual value and whether it is met.

    Parameters
    ----------
    project
        A :class:`~kundresa.Project` (its journey and events are used).
    since, until
        Only count events in ``[since, until)`` (a date is midnight in the journey's
        ``timezone``); touchpoints, stages and segments come from the whole history.
    events
        Events to use instead of the project's.
    lang
        Language of the stage labels; default the journey's.

    Returns
    -------
    pandas.DataFrame
        One row per KPI, in journey order: ``stage``, ``label``, ``metric``, ``target``,
        ``direction`` (``at_least`` or ``at_most``), ``actual`` (the stage funnel's
        ``reached``, ``entered``, ``conversion_from_previous``, ``conversion_from_start`` or
        ``dropped``; or ``median_days_in_stage``: the median days of the stage's finished
        visits, see :func:`~kundresa.analytics.journeys.time_in_stage`), ``met`` (``True``,
        ``False``, or ``None`` when there is no actual value), ``gap`` (how far the actual
        value is past the target: ``actual - target`` for ``at_least``, ``target - actual``
        for ``at_most``, so a negative gap always means the target is missed) and
        ``relative_gap`` (gap / |target|; NaN for a zero target).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import Project
    >>> from kundresa.model.parse import parse_journey
    >>> journey, _ = parse_journey('''
    ... kundresa: 1
    ... name: Shop
    ... stages:
    ...   - {id: aware, label: Aware, kpis: [{metric: reached, target: 2}]}
    ...   - id: buy
    ...     label: Buy
    ...     kpis: [{metric: conversion_from_previous, target: 0.5},
    ...            {metric: dropped, target: 0, direction: at_most}]
    ... touchpoints:
    ...   - {id: ad, stage: aware, match: {event: ad_click}}
    ...   - {id: order, stage: buy, match: {event: purchase}}
    ... ''')
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-03"],
    ...     "event": ["ad_click", "purchase", "ad_click", "ad_click"],
    ... })
    >>> project = Project.from_events(events, journey=journey)
    >>> kpi_status(project)[["stage", "metric", "target", "actual", "met", "gap"]]
       stage                    metric  target    actual    met       gap
    0  aware                   reached     2.0  3.000000   True  1.000000
    1    buy  conversion_from_previous     0.5  0.333333  False -0.166667
    2    buy                   dropped     0.0  2.000000  False -2.000000
    """
    journey: Journey = project.journey
    t = events if events is not None else project.events
    p: dict[str, Any] = {"since": since, "until": until}
    Period.parse(since, until, journey.timezone)  # a bad period fails before any query
    wanted = {k.metric for s in journey.stages for k in s.kpis}
    funnel = (
        _stage_funnel(project, events, t, since, until, lang)
        if wanted & set(_FUNNEL_METRICS)
        else None
    )
    days: dict[str, float | None] = {}
    if "median_days_in_stage" in wanted:
        tis = time_in_stage(t, journey, **p)
        days = {str(s): _num(v) for s, v in zip(tis["stage"], tis["median_days"], strict=True)}
    rows: list[dict[str, Any]] = []
    for i, stage in enumerate(journey.stages):
        for kpi in stage.kpis:
            actual: float | None = None
            if kpi.metric in _FUNNEL_METRICS and funnel is not None:
                actual = _num(funnel[kpi.metric].iloc[i])
            elif kpi.metric == "median_days_in_stage":
                actual = days.get(stage.id)
            gap = _gap(kpi, actual)
            rows.append(
                {
                    "stage": stage.id,
                    "label": journey.stage_label(stage.id, lang),
                    "metric": kpi.metric,
                    "target": float(kpi.target),
                    "direction": kpi.direction,
                    "actual": actual,
                    "met": kpi.met(actual),
                    "gap": gap,
                    "relative_gap": gap / abs(kpi.target)
                    if gap is not None and kpi.target
                    else None,
                }
            )
    df = pd.DataFrame(rows, columns=list(KPI_COLUMNS))
    for c in ("target", "actual", "gap", "relative_gap"):
        df[c] = df[c].astype("float64")
    df["met"] = df["met"].astype("object")
    return df


def _stage_funnel(
    project: Any, events: ir.Table | None, t: ir.Table, since: When, until: When, lang: str | None
) -> pd.DataFrame:
    """The stage funnel of the period: from the project's result cache when it has one
    (``project.run``, so a page showing the funnel and the KPIs computes it once), else
    computed here on the events ``t`` of the period."""
    run = getattr(project, "run", None)
    if events is None and callable(run):
        return run("stages", since=since, until=until, lang=lang).frame
    return stage_funnel(project, events=t, lang=lang, since=since, until=until)


def _gap(kpi: Kpi, actual: float | None) -> float | None:
    if actual is None:
        return None
    return actual - kpi.target if kpi.direction != "at_most" else kpi.target - actual


def _num(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


# -- bottlenecks -------------------------------------------------------------------------------


def bottlenecks(
    project: Any,
    *,
    since: When = None,
    until: When = None,
    compare_to: str | tuple[Any, Any] | None = "previous",
    steps: Sequence[str | Step] | None = None,
    window: str | float = "7d",
    order: str = "ordered",
    confidence: float = 0.95,
    events: ir.Table | None = None,
    lang: str | None = None,
) -> pd.DataFrame:
    """Every place the journey loses customers, ranked by loss, KPI gap and change.

    Parameters
    ----------
    project
        A :class:`~kundresa.Project` (its journey and events are used).
    since, until
        The period to analyse, ``[since, until)`` (a date is midnight in the journey's
        ``timezone``); touchpoints and stages come from the whole history.
    compare_to
        The period to compare with. ``previous`` (default): with ``since`` and/or ``until``
        given, the period of the same length right before ``since`` (a missing ``since`` is
        the day of the first event, a missing ``until`` the day after the last one); with
        neither, the **last 30 days of data** (ending at midnight after the day of the last
        event) are analysed and compared with the 30 days before them. ``START:END`` (or a
        pair of dates) is an explicit period; then a missing since/until means all the data.
        ``None`` (or ``"none"``): no comparison (the ``previous_*``, ``change``, ``z`` and
        ``p_value`` columns are empty).
    steps
        Funnel steps (texts as for :func:`~kundresa.analytics.funnel.event_funnel`): add one
        row per step transition of that event funnel.
    window, order
        The funnel's window and order (with ``steps`` only).
    confidence
        A change is ``significant`` when the two-proportion z-test's p-value is below
        ``1 - confidence``.
    events
        Events to use instead of the project's.
    lang
        Language of the stage labels; default the journey's.

    Returns
    -------
    pandas.DataFrame
        One row per stage transition (stages 2..n) and funnel step transition: ``kind``
        (``stage`` or ``step``), ``from``, ``to`` (stage ids or step texts), ``label``
        (``From → To``), ``entered_from`` (customers who reached ``from``), ``reached``
        (who reached ``to``), ``lost`` (entered_from - reached), ``conversion``
        (reached / entered_from), ``kpi_target`` and ``kpi_gap`` (the ``to`` stage's
        ``conversion_from_previous`` KPI and conversion minus target, negative when missed;
        see :func:`kpi_status`), the same counts in the comparison period
        (``previous_entered_from``, ``previous_reached``, ``previous_conversion``,
        ``previous_lost``), ``change`` (conversion - previous_conversion), ``z`` (two-
        proportion z-test of the two conversions; negative when it fell), ``p_value``,
        ``significant``, and ranks where 1 is the worst: ``rank_lost`` (most customers
        lost), ``rank_kpi`` (most negative KPI gap; only rows with a KPI) and
        ``rank_change`` (largest fall). Sorted by ``lost``, most first (ties in journey
        order, stages before steps). ``df.attrs`` holds ``period`` and ``previous_period``
        (``[start, end)`` pairs, ``None`` for an open end).

    Notes
    -----
    Each period counts only its own events, as the stage funnel does with ``since`` and
    ``until``; a customer active in both periods counts in both, so the z-test's samples are
    not strictly independent: read it as a guide, not an exact probability.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import Project
    >>> from kundresa.model.parse import parse_journey
    >>> journey, _ = parse_journey('''
    ... kundresa: 1
    ... name: Shop
    ... template: buyers-journey
    ... touchpoints:
    ...   - {id: ad, stage: awareness, match: {event: ad_click}}
    ...   - {id: pricing, stage: consideration, match: {event: pricing_view}}
    ...   - {id: buy, stage: decision, match: {event: purchase}}
    ... ''')
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b", "c"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-05", "2025-01-01",
    ...                   "2025-01-03", "2025-01-02"],
    ...     "event": ["ad_click", "pricing_view", "purchase", "ad_click", "pricing_view",
    ...               "ad_click"],
    ... })
    >>> project = Project.from_events(events, journey=journey)
    >>> bottlenecks(project, compare_to=None)[["from", "to", "entered_from", "lost", "rank_lost"]]
                from             to  entered_from  lost  rank_lost
    0      awareness  consideration             3     1          1
    1  consideration       decision             2     1          1
    """
    z_for(confidence)
    journey: Journey = project.journey
    source = events if events is not None else project.events
    period, previous = _periods(source, since, until, compare_to, journey.timezone)
    now = _transitions(project, source, period, steps, window, order, lang)
    then = (
        _transitions(project, source, previous, steps, window, order, lang)
        if previous is not None
        else None
    )
    kpis = {
        s.id: next((k for k in s.kpis if k.metric == "conversion_from_previous"), None)
        for s in journey.stages
    }
    rows: list[dict[str, Any]] = []
    for key, r in now.items():
        kind, to = key[0], key[3]
        kpi = kpis.get(to) if kind == "stage" else None
        conversion = r["reached"] / r["entered_from"] if r["entered_from"] else None
        row: dict[str, Any] = {
            "kind": kind,
            "from": key[2],
            "to": to,
            "label": r["label"],
            "entered_from": r["entered_from"],
            "reached": r["reached"],
            "lost": r["entered_from"] - r["reached"],
            "conversion": conversion,
            "kpi_target": float(kpi.target) if kpi is not None else None,
            "kpi_gap": _gap(kpi, conversion) if kpi is not None else None,
        }
        p = then.get(key) if then is not None else None
        if p is not None:
            test = two_proportion_test(
                p["reached"], p["entered_from"], r["reached"], r["entered_from"], confidence
            )
            before = p["reached"] / p["entered_from"] if p["entered_from"] else None
            row.update(
                previous_entered_from=p["entered_from"],
                previous_reached=p["reached"],
                previous_conversion=before,
                previous_lost=p["entered_from"] - p["reached"],
                change=(conversion - before)
                if conversion is not None and before is not None
                else None,
                z=test.z,
                p_value=test.p_value,
                significant=bool(test.p_value < 1.0 - confidence),
            )
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(BOTTLENECK_COLUMNS[:-3]))
    for c in ("entered_from", "reached", "lost"):
        df[c] = df[c].astype("int64")
    for c in ("previous_entered_from", "previous_reached", "previous_lost"):
        df[c] = df[c].astype("Int64")
    for c in ("conversion", "kpi_target", "kpi_gap", "previous_conversion", "change", "z"):
        df[c] = df[c].astype("float64")
    df["p_value"] = df["p_value"].astype("float64")
    df["significant"] = df["significant"].map(lambda v: v is True).astype("bool")
    df["rank_lost"] = df["lost"].rank(method="min", ascending=False).astype("Int64")
    df["rank_kpi"] = df["kpi_gap"].rank(method="min").astype("Int64")
    df["rank_change"] = df["change"].rank(method="min").astype("Int64")
    # Most lost first; ties keep journey order (a descending sort would reverse them).
    df = df.assign(_o=-df["lost"]).sort_values("_o", kind="stable").drop(columns="_o")
    df = df.reset_index(drop=True)
    df.attrs["period"] = period
    df.attrs["previous_period"] = previous
    return df


Span = tuple[datetime | None, datetime | None]


def _periods(
    events: ir.Table,
    since: When,
    until: When,
    compare_to: str | tuple[Any, Any] | None,
    tz: str = "UTC",
) -> tuple[Span, Span | None]:
    """The period analysed and the one compared with (see :func:`bottlenecks`), as naive
    UTC instants."""
    given = Period.parse(since, until, tz)
    start, end = given.start, given.end
    if compare_to is None or (isinstance(compare_to, str) and compare_to.strip() == "none"):
        return (start, end), None
    if not (isinstance(compare_to, str) and compare_to.strip() == "previous"):
        if not isinstance(compare_to, str | tuple | list):
            raise UsageError(
                f"compare_to {compare_to!r} is not a period (write previous, START:END or None)"
            )
        text = compare_to if isinstance(compare_to, str) else tuple(compare_to)
        return (start, end), parse_period(text, option="compare_to", tz=tz)
    if start is None or end is None:
        first, last = _data_days(events, tz)
        if first is None or last is None:
            return (start, end), None  # no events at all: nothing to compare
        if start is None and end is None:
            # The last DEFAULT_DAYS whole local days against the DEFAULT_DAYS before them
            # (local days: a daylight-saving change does not shift the midnights).
            day = to_local(last, tz).date()
            days = timedelta(days=DEFAULT_DAYS)
            start = to_instant(day - days, "since", tz)
            return (start, last), (to_instant(day - 2 * days, "since", tz), start)
        elif start is None:
            start = first
        else:
            end = last
        assert start is not None and end is not None
        if end <= start:
            raise UsageError(
                f"since {since!r}/until {until!r}: the period holds no time "
                f"(the data runs from {to_local(first, tz):%Y-%m-%d} "
                f"to {to_local(last, tz):%Y-%m-%d})"
            )
    return (start, end), parse_period(
        "previous", since=start.replace(tzinfo=UTC), until=end.replace(tzinfo=UTC), tz=tz
    )


def _data_days(events: ir.Table, tz: str = "UTC") -> tuple[datetime | None, datetime | None]:
    """Local midnight (in ``tz``) of the first event's day, and local midnight after the last
    event's day, as naive UTC instants."""
    span = events.aggregate(_lo=events[TIMESTAMP].min(), _hi=events[TIMESTAMP].max()).to_pandas()
    lo, hi = span["_lo"].iloc[0], span["_hi"].iloc[0]
    if pd.isna(lo) or pd.isna(hi):
        return None, None
    first = to_local(pd.Timestamp(lo).to_pydatetime(), tz).date()
    last = to_local(pd.Timestamp(hi).to_pydatetime(), tz).date() + timedelta(days=1)
    return to_instant(first, "since", tz), to_instant(last, "until", tz)


def _transitions(
    project: Any,
    events: ir.Table,
    period: Span,
    steps: Sequence[str | Step] | None,
    window: str | float,
    order: str,
    lang: str | None,
) -> dict[tuple[str, int, str, str], dict[str, Any]]:
    """Counts per transition, keyed by (kind, number, from, to), in journey then funnel
    order (a funnel may list the same pair of steps twice)."""
    journey: Journey = project.journey
    p: dict[str, Any] = {
        "since": period[0].replace(tzinfo=UTC) if period[0] is not None else None,
        "until": period[1].replace(tzinfo=UTC) if period[1] is not None else None,
    }
    out: dict[tuple[str, int, str, str], dict[str, Any]] = {}
    funnel = stage_funnel(project, events=events, lang=lang, **p)
    reached = [int(v) for v in funnel["reached"]]
    labels = list(funnel["label"])
    ids = list(journey.stage_ids)
    for i in range(1, len(ids)):
        out[("stage", i, ids[i - 1], ids[i])] = {
            "label": f"{labels[i - 1]} → {labels[i]}",
            "entered_from": reached[i - 1],
            "reached": reached[i],
        }
    if steps is not None:
        ef = event_funnel(events, steps, window=window, order=order, journey=journey, **p)
        names = [str(e) for e in ef["event"]]
        counts = [int(c) for c in ef["count"]]
        for j in range(1, len(names)):
            out[("step", j, names[j - 1], names[j])] = {
                "label": f"{names[j - 1]} → {names[j]}",
                "entered_from": counts[j - 1],
                "reached": counts[j],
            }
    return out
