"""Stage analysis: per-customer stage facts and the stage funnel (seed 004's table).

Semantics (README, "Stage funnel"; docs/analytics.md, "Stage funnel"):

- ``entered(s)``: customers with at least one event in stage s;
- ``reached(s)``: customers whose highest stage is s or later (a skipped stage counts as
  passed);
- ``conversion_from_previous = reached(s) / reached(s-1)``,
  ``conversion_from_start = reached(s) / reached(1)``, ``dropped = reached(s-1) - reached(s)``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kundresa.analytics import _stage_fast
from kundresa.analytics._ibis import cached, exact_median
from kundresa.analytics._period import Period, to_instant
from kundresa.analytics._portable import count_true, property_value
from kundresa.analytics.touchpoints import EVENT_ORDER, persona_expr, staged_events
from kundresa.errors import UsageError
from kundresa.model.events import CHANNEL, CUSTOMER, TIMESTAMP

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "STAGE_COLUMNS",
    "customer_segments",
    "customer_stages",
    "filter_period",
    "parse_period",
    "stage_funnel",
    "stage_funnel_periods",
]

STAGE_COLUMNS = (
    "stage",
    "label",
    "reached",
    "entered",
    "conversion_from_previous",
    "conversion_from_start",
    "dropped",
    "median_days_from_previous",
)


def _instant(value: str | date | datetime, option: str, tz: str = "UTC") -> datetime:
    return to_instant(value, option, tz)


def parse_period(
    text: str | tuple[Any, Any],
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    option: str = "compare_to",
    tz: str = "UTC",
) -> tuple[datetime, datetime]:
    """A period ``[start, end)`` (UTC instants) from ``START:END`` (dates or ISO times, read
    in the time zone ``tz``), a pair, or ``previous``: the period of the same length right
    before ``[since, until)``.

    >>> parse_period("previous", since="2025-03-01", until="2025-03-08")
    (datetime.datetime(2025, 2, 22, 0, 0), datetime.datetime(2025, 3, 1, 0, 0))
    >>> parse_period("2025-01-01:2025-02-01")[1]
    datetime.datetime(2025, 2, 1, 0, 0)
    """
    if isinstance(text, str) and text.strip() == "previous":
        if since is None or until is None:
            raise UsageError(
                f"{option} previous needs both since and until (the period to compare)"
            )
        p = Period.parse(since, until, tz)
        assert p.start is not None and p.end is not None
        try:
            return p.start - (p.end - p.start), p.start
        except OverflowError:
            raise UsageError(
                f"{option} previous: the period of the same length before since "
                f"{p.start.date().isoformat()} (until {p.end.date().isoformat()}) would start "
                f"before the year 1; give a later since, or {option} none"
            ) from None
    if isinstance(text, str):
        # Split on the colon before the second date, not on those inside ISO times.
        parts = re.split(r":(?=\s*\d{4}-\d{2}-\d{2})", text.strip())
        if len(parts) != 2:
            raise UsageError(f"{option} {text!r} is not a period (write START:END or previous)")
        first, second = parts
    elif isinstance(text, tuple | list) and len(text) == 2:
        first, second = text
    else:
        raise UsageError(f"{option} {text!r} is not a period (write START:END or previous)")
    start, end = _instant(first, option, tz), _instant(second, option, tz)
    if end <= start:
        raise UsageError(f"{option} {text!r} ends before it starts")
    return start, end


def filter_period(
    events: ir.Table,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    tz: str = "UTC",
) -> ir.Table:
    """Events with ``since <= timestamp < until`` (dates without a time at midnight in
    ``tz``). Analyses take ``since``/``until`` themselves (they tag touchpoints on the whole
    history first); this is for counting raw events only."""
    return Period.parse(since, until, tz).filter(events)


def customer_stages(
    events: ir.Table,
    journey: Journey,
    *,
    staged: ir.Table | None = None,
    period: Period | None = None,
) -> ir.Table:
    """One row per customer with any event (in ``period``): ``highest`` stage index (null if
    none), ``first_<stage>`` entry time of each stage, ``current`` stage (of the last staged
    event) and ``persona``. ``events`` is the whole history: touchpoints and personas come
    from it; with a ``period`` only the staged events inside it count. ``staged`` may give
    :func:`staged_events` of ``events`` (the whole history) already computed."""
    if staged is None:
        staged = staged_events(events, journey)
    if period is not None and period.bounded:
        staged = period.filter(staged)
    aggs: dict[str, Any] = {"highest": staged.stage_index.max()}
    for i, s in enumerate(journey.stage_ids, start=1):
        aggs[f"first_{s}"] = staged[TIMESTAMP].min(where=staged.stage_index == i)
    aggs["_current"] = staged.stage_index.argmax(staged._order)
    per = staged.group_by(CUSTOMER).aggregate(**aggs)
    ids = enumerate(journey.stage_ids, start=1)
    current = ibis.cases(*((per._current == i, s) for i, s in ids)).cast("string")
    per = per.mutate(current=current).drop("_current")
    counted = period.filter(events) if period is not None else events
    everyone = counted.select(CUSTOMER).distinct()
    personas = persona_expr(events, journey)
    out = everyone.left_join(per, CUSTOMER).drop(f"{CUSTOMER}_right")
    return out.left_join(personas, CUSTOMER).drop(f"{CUSTOMER}_right")


def customer_segments(events: ir.Table, journey: Journey, by: str) -> ir.Table:
    """One row per customer with its ``segment`` for a breakdown by ``persona``, ``channel``
    (the customer's first channel) or a property (the customer's first value of it); first
    in the event order (:data:`~kundresa.analytics.touchpoints.EVENT_ORDER`), so a tie at
    the first instant is decided alike on every engine and however the events were
    stored."""
    if by == "persona":
        return persona_expr(events, journey).rename(segment="persona")
    t = events
    value = t[CHANNEL] if by == CHANNEL else property_value(t, by)
    # The customer's first known value (acquisition channel, first segment seen): the value
    # of their first event in the event order that has one; among events apart only by
    # their properties, the smallest value (docs/analytics.md, "Event order").
    t = t.filter(value.notnull()).mutate(_v=value)
    first = ibis.row_number().over(
        group_by=t[CUSTOMER], order_by=[*(t[c] for c in EVENT_ORDER), t._v]
    )
    t = t.mutate(_first=first)
    return t.filter(t._first == 0).select(CUSTOMER, segment=t._v)


def stage_funnel(
    project: Any,
    *,
    by: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    lang: str | None = None,
    events: ir.Table | None = None,
    staged: ir.Table | None = None,
) -> pd.DataFrame:
    """The stage funnel: reached, entered, conversion and drop-off for every stage.

    Parameters
    ----------
    project
        A :class:`~kundresa.Project` (its journey and events are used).
    by
        Break down by ``persona``, ``channel`` (the customer's first channel) or an event
        property (the customer's first value of it); adds a ``segment`` column.
    since, until
        Only count events in ``[since, until)`` (dates or times; a date is midnight in the
        journey's ``timezone``). Touchpoints (with ``nth``), personas and breakdown values
        come from each customer's whole history; a customer counts when they have an event
        in the period, and reaches or enters a stage through the tagged events inside it.
    lang
        Language of the stage labels; default the journey's.
    events
        Events (the whole history) to use instead of the project's.
    staged
        :func:`~kundresa.analytics.touchpoints.staged_events` of those events (the whole
        history), when already computed.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage``, ``label``, ``reached``, ``entered``, ``conversion_from_previous``,
        ``conversion_from_start``, ``dropped``, ``median_days_from_previous`` (median days
        from first entering the previous stage to first entering this one, over customers
        who entered both in that order), one row per stage (per segment).

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
    ...     "event": ["ad_click", "pricing_view", "purchase", "ad_click", "purchase",
    ...               "ad_click"],
    ... })
    >>> project = Project.from_events(events, journey=journey)
    >>> stage_funnel(project)[["stage", "reached", "entered", "conversion_from_previous"]]
               stage  reached  entered  conversion_from_previous
    0      awareness        3        3                       NaN
    1  consideration        2        1                  0.666667
    2       decision        2        2                  1.000000
    """
    journey: Journey = project.journey
    period = Period.parse(since, until, journey.timezone)
    t = events if events is not None else project.events
    stage_ids = list(journey.stage_ids)
    group_cols: list[str] = [] if by is None else ["segment"]
    if _stage_fast.fits(t, journey):
        wide_df, medians = _fast_stage_numbers(t, journey, period, by)
    else:
        per = customer_stages(t, journey, staged=staged, period=period)
        if by is not None:
            per = _with_segments(per, t, journey, by)
        with cached(per) as kept:
            wide_df, medians = _stage_numbers(kept, stage_ids, group_cols)
    return funnel_frame(wide_df, medians, journey, group_cols, lang)


def funnel_frame(
    wide_df: pd.DataFrame,
    medians: dict[tuple[Any, ...], float],
    journey: Journey,
    group_cols: list[str],
    lang: str | None,
) -> pd.DataFrame:
    """The stage funnel's table from the wide counts and medians :func:`_stage_numbers`
    gives (one row per stage, per segment when ``group_cols`` is ``["segment"]``)."""
    stage_ids = list(journey.stage_ids)
    if group_cols:
        wide_df = wide_df.sort_values("segment", kind="stable").reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    for _, w in wide_df.iterrows():
        first = int(w["reached_1"] or 0)
        for i, s in enumerate(stage_ids, start=1):
            reached = int(w[f"reached_{i}"] or 0)
            prev = int(w[f"reached_{i - 1}"] or 0) if i > 1 else None
            row: dict[str, Any] = {"segment": w["segment"]} if group_cols else {}
            row.update(
                {
                    "stage": s,
                    "label": journey.stage_label(s, lang),
                    "reached": reached,
                    "entered": int(w[f"entered_{i}"] or 0),
                    "conversion_from_previous": (reached / prev) if prev else None,
                    "conversion_from_start": (reached / first) if first else None,
                    "dropped": (prev - reached) if prev is not None else None,
                    "median_days_from_previous": medians.get((*(w[c] for c in group_cols), i)),
                }
            )
            rows.append(row)
    columns = (["segment"] if group_cols else []) + list(STAGE_COLUMNS)
    df = pd.DataFrame(rows, columns=columns)
    for c in ("conversion_from_previous", "conversion_from_start", "median_days_from_previous"):
        df[c] = df[c].astype("float64")
    df["dropped"] = df["dropped"].astype("Int64")
    return df


def _with_segments(per: ir.Table, events: ir.Table, journey: Journey, by: str) -> ir.Table:
    """``per`` (one row per customer) with its ``segment`` (``(none)`` when it has none)."""
    seg = customer_segments(events, journey, by)
    per = per.left_join(seg, CUSTOMER).drop(f"{CUSTOMER}_right")
    return per.mutate(segment=per.segment.fill_null("(none)"))


def _fast_stage_numbers(
    events: ir.Table, journey: Journey, period: Period, by: str | None
) -> tuple[pd.DataFrame, dict[tuple[Any, ...], float]]:
    """:func:`_stage_numbers` on the DuckDB fast path (:mod:`kundresa.analytics._stage_fast`):
    one walk of every customer's staged events; with ``by`` the customers with an event in
    the period and their segments come from one more query."""
    stage_ids = list(journey.stage_ids)
    facts, walked = _stage_fast.walk_parts(events, journey, period, ids=by is not None)
    if by is None:
        return _stage_fast.funnel_numbers(facts, stage_ids)
    counted = period.filter(events) if period.bounded else events
    everyone = counted.select(CUSTOMER).distinct()
    per = _with_segments(everyone, events, journey, by).to_pyarrow().combine_chunks()
    coded = pc.dictionary_encode(per["segment"].combine_chunks().cast(pa.string()))
    groups = coded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    assert walked is not None
    where = pc.index_in(walked, value_set=per[CUSTOMER].combine_chunks())
    at = where.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = np.where(at >= 0, groups[np.maximum(at, 0)] if len(groups) else -1, -1)
    return _stage_fast.funnel_numbers(facts, stage_ids, (codes, coded.dictionary.to_pylist()))


def _stage_numbers(
    per: ir.Table, stage_ids: list[str], group_cols: list[str]
) -> tuple[pd.DataFrame, dict[tuple[Any, ...], float]]:
    """Reached and entered counts per stage (one wide row per group), and the exact median
    days between first entries of consecutive stages, keyed by (*group, stage number)."""
    aggs: dict[str, Any] = {}
    for i, s in enumerate(stage_ids, start=1):
        aggs[f"reached_{i}"] = count_true(per.highest >= i)
        aggs[f"entered_{i}"] = count_true(per[f"first_{s}"].notnull())
    gaps = []
    for i in range(2, len(stage_ids) + 1):
        prev = per[f"first_{stage_ids[i - 2]}"]
        cur = per[f"first_{stage_ids[i - 1]}"]
        gap = (cur.epoch_seconds() - prev.epoch_seconds()).cast("float64") / 86400.0
        gaps.append(per.filter(cur >= prev).select(*group_cols, _i=ibis.literal(i), _d=gap))
    wide = per.group_by(group_cols).aggregate(**aggs) if group_cols else per.aggregate(**aggs)
    wide_df = wide.to_pandas()
    medians: dict[tuple[Any, ...], float] = {}
    if gaps:
        long = exact_median(ibis.union(*gaps), "_d", [*group_cols, "_i"], name="_m").to_pandas()
        for r in long.to_dict("records"):
            medians[(*(r[c] for c in group_cols), int(r["_i"]))] = float(r["_m"])
    return wide_df, medians


def stage_funnel_periods(
    project: Any,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    compare_to: str | tuple[Any, Any] = "previous",
    by: str | None = None,
    lang: str | None = None,
    events: ir.Table | None = None,
) -> pd.DataFrame:
    """The stage funnel of two periods side by side.

    The period ``[since, until)`` is compared with ``compare_to``: ``previous`` (the period
    of the same length right before it) or ``START:END``. Each period counts only its own
    events (customers are still who their whole history says), as :func:`stage_funnel` does
    with ``since``/``until``.

    Returns the columns of :func:`stage_funnel` for the period, the same ones prefixed
    ``previous_`` for the other period, and ``conversion_change``: the difference in
    ``conversion_from_previous`` (period minus other).
    """
    other = parse_period(compare_to, since=since, until=until, tz=project.journey.timezone)
    keys = ["segment", "stage"] if by is not None else ["stage"]
    now = stage_funnel(project, by=by, since=since, until=until, lang=lang, events=events)
    then = stage_funnel(
        project,
        by=by,
        since=other[0].replace(tzinfo=UTC),
        until=other[1].replace(tzinfo=UTC),
        lang=lang,
        events=events,
    )
    then = then.drop(columns=["label"]).rename(
        columns={c: f"previous_{c}" for c in then.columns if c not in keys}
    )
    df = now.merge(then, on=keys, how="outer", sort=False)
    if by is not None:
        # A segment with no customers in one of the periods has no rows there: it reached
        # no stage in that period (0, as a funnel of no customers counts), not an unknown.
        first = project.journey.stage_ids[0]
        for prefix in ("", "previous_"):
            for col in ("reached", "entered"):
                df[prefix + col] = df[prefix + col].fillna(0).astype("int64")
            dropped = df[prefix + "dropped"]
            df[prefix + "dropped"] = dropped.where(dropped.notna() | (df["stage"] == first), 0)
        journey = project.journey
        labels = {sid: journey.stage_label(sid, lang) for sid in journey.stage_ids}
        df["label"] = df["label"].fillna(df["stage"].map(labels))
    order = {s: i for i, s in enumerate(project.journey.stage_ids)}
    df = df.assign(_o=df["stage"].map(order))
    df = df.sort_values([*keys[:-1], "_o"], kind="stable").drop(columns="_o")
    df["conversion_change"] = (
        df["conversion_from_previous"] - df["previous_conversion_from_previous"]
    )
    return df.reset_index(drop=True)
