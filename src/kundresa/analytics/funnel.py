"""Event funnels: how many customers do E1, then E2, … Ek within a window, as Ibis expressions.

Semantics (README, "Event funnels"; docs/analytics.md, "Event funnels"), with the readings
this module takes where the definitions leave a choice:

**The customer's sequence.** A customer's events are put in one sequence: by time, and events
with the same timestamp in the funnel's step order — an event's place is the *first* step it can
fill; events that fill no step come after those that do (ties beyond that: event name, event id,
session, channel, value, breakdown value, so every engine numbers them alike). Steps are filled
by distinct events taken in this sequence, so one event fills one step and a step listed twice
must be done by two events. For example, with steps ``[view, buy]`` a ``buy`` and a ``view`` at
the same instant convert; with ``[view, view]`` one ``view`` does not, two at the same instant
do; with ``[a, b, a]`` and ``a, b, a`` all at one instant the sequence is ``a, a, b`` and the
customer reaches step 2 only.

**ordered** (default): an attempt starts at every step-1 event (time t0); step j is reached when
events for steps 2..j follow it in the sequence (other events may come between) with timestamps
<= t0 + W. The earliest event that can fill each next step is taken; for a fixed start this
reaches the highest step any choice could, and these earliest events are "the step events of
the attempt".

**strict**: as ordered, but the step-j event must be the very next event of the customer's
sequence (all of the customer's events count, not only step events); a later step-1 event starts
a new attempt.

**any**: an attempt starts at every event that fills some step (time t0); its level is the
number of steps the customer's events in ``[t0, t0 + W]`` can fill, each event filling one step
(a maximum matching: a step listed twice needs two events). ``t_j`` is the time the attempt had
filled j steps (the earliest instant by which events in ``[t0, t_j]`` fill j steps), so the
time to convert to step j is the time from filling j-1 steps to filling j, never negative.

**Best attempt and counts.** A customer's level is the best over their attempts; the best
attempt is the earliest one (in the sequence) that reaches that level; ``count(step j)`` is the
number of customers with level >= j. Time to convert for step j is the seconds from the step
j-1 event to the step j event of the best attempt.

**Exclusions** ``(X, a, b)``: a customer is left out of the whole funnel when, for *any* of
their attempts that reached step a, an X event falls strictly after the step-a event and
strictly before the step-b event (or, when the attempt never reached b, after the step-a event
and no later than the window's end t0 + W). Times compare strictly: an X event at the same
instant as the step-a or step-b event is not between them.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kundresa.analytics._duration import parse_duration
from kundresa.analytics._fast import customer_bounds, fast_path, fast_path_parts
from kundresa.analytics._funnel_core import (
    FUNNEL_COLUMNS,
    NO_SEGMENT,
    ORDERS,
    CodedSteps,
    Exclusion,
    Step,
    _best_table,
    _float,
    _funnel_frame_numpy,
    _funnel_rows,
    _kernel,
    _Plan,
    _plan,
    _subsets,
    coded_best,
    coded_chunk,
    coded_steps,
    fits_bits,
    funnel_period,
    parse_exclusion,
    parse_step,
)
from kundresa.analytics._ibis import US_PER_SECOND, cached, mean_parts
from kundresa.analytics._means import mean_seconds, means_of_parts
from kundresa.analytics._period import Period, When, local_clock, to_local
from kundresa.analytics._portable import count_true, flag, property_value
from kundresa.errors import UsageError
from kundresa.model.events import (
    CHANNEL,
    CUSTOMER,
    EVENT,
    EVENT_ID,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
)

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "DEFAULT_BINS",
    "FUNNEL_COLUMNS",
    "ORDERS",
    "Exclusion",
    "Step",
    "conversion_trend",
    "event_funnel",
    "funnel_attempts",
    "funnel_customers",
    "funnel_report",
    "funnel_step_customers",
    "parse_exclusion",
    "parse_step",
    "time_to_convert_histogram",
]

_EPOCH = ibis.timestamp("1970-01-01 00:00:00")


# -- the pipeline ------------------------------------------------------------------------------


def _segment_value(t: ir.Table, by: str | None) -> ir.StringValue:
    if by is None or by == "persona":
        return ibis.null("string")
    if by == CHANNEL:
        return t[CHANNEL].cast("string")
    return property_value(t, by)


def _prepared(
    events: ir.Table, plan: _Plan, journey: Journey | None, by: str | None, period: Period
) -> ir.Table:
    """The events a funnel reads, with ``_us``, ``_first``, ``_seg``, ``_m<g>`` and ``_x<i>``,
    before they are numbered (see :func:`_sequence_keys` for their order)."""
    t = events
    if plan.needs_journey:
        if journey is None:
            kinds = sorted({str(g) for g in plan.groups if g.kind != "event"})
            raise UsageError(f"steps {', '.join(kinds)} need a journey (touchpoints and stages)")
        from kundresa.analytics.touchpoints import tag_events

        t = tag_events(t, journey)
    if period.bounded:
        # Touchpoints are tagged on the whole history above; an attempt that starts in the
        # period only reads events from its start to the window's end after the period (the
        # sequence is in time order, so earlier events can neither fill a step nor break a
        # strict run, and exclusions only look after a step event).
        end = period.end + timedelta(microseconds=plan.window_us) if period.end else None
        if period.start is not None:
            t = t.filter(t[TIMESTAMP] >= period.start)
        if end is not None:
            t = t.filter(t[TIMESTAMP] <= end)
    if by == "persona" and journey is None:
        raise UsageError("by='persona' needs a journey with personas")
    columns = {"event": t[EVENT], "touchpoint": None, "stage": None}
    if plan.needs_journey:
        columns["touchpoint"] = t["touchpoint"]
        columns["stage"] = t["stage"]
    matches: dict[str, ir.BooleanValue] = {}
    for g, step in enumerate(plan.groups):
        col = columns[step.kind]
        assert col is not None
        names = list(step.names)
        fits = col == names[0] if len(names) == 1 else col.isin(names)
        matches[f"_m{g}"] = fits.fill_null(False)
    first = ibis.cases(
        *((matches[f"_m{g}"], j + 1) for j, g in enumerate(plan.group_of)), else_=plan.k + 1
    )
    xs = {f"_x{i}": t[EVENT] == x for i, x in enumerate(plan.x_events)}
    t = t.mutate(
        _us=t[TIMESTAMP].delta(_EPOCH, unit="microsecond").cast("int64"),
        _first=first,
        _seg=_segment_value(t, by),
        **matches,
        **xs,
    )
    if plan.order != "strict":
        # Only step and exclusion events matter; strict needs every event (any breaks it).
        keep: ir.BooleanValue = ibis.literal(False)
        for name in [*matches, *xs]:
            keep = keep | t[name]
        t = t.filter(keep)
    return t


def _sequence_keys(t: ir.Table) -> list[ir.Value]:
    """The order of a customer's sequence (after the customer id)."""
    return [
        t._us,
        t._first,
        t[EVENT],
        t[EVENT_ID],
        t[SESSION_ID],
        t[CHANNEL],
        t[VALUE],
        t._seg,
    ]


def _sequence(
    events: ir.Table, plan: _Plan, journey: Journey | None, by: str | None, period: Period
) -> ir.Table:
    """Events numbered in each customer's sequence, with step matches and next-exclusion times.

    Columns: customer id, timestamp, ``_us`` (microseconds since 1970), ``_m<g>`` (fills step
    definition g), ``_seg``, ``_seq`` (0-based place in the customer's sequence) and
    ``_nx<i>`` (microseconds of the customer's next exclusion event i strictly later in time).
    """
    t = _prepared(events, plan, journey, by, period)
    matches = [f"_m{g}" for g in range(len(plan.groups))]
    xs = [f"_x{i}" for i in range(len(plan.x_events))]
    seq = ibis.row_number().over(group_by=t[CUSTOMER], order_by=_sequence_keys(t))
    t = t.select(CUSTOMER, TIMESTAMP, "_us", "_seg", *matches, *xs, _seq=seq)
    if plan.x_events:
        later = ibis.range_window(group_by=t[CUSTOMER], order_by=t._us, following=(1, None))
        t = t.mutate(
            **{
                f"_nx{i}": ibis.cases((t[f"_x{i}"], t._us)).min().over(later)
                for i in range(len(plan.x_events))
            }
        )
    return t


def _ordered_attempts(ev: ir.Table, plan: _Plan) -> ir.Table:
    """Attempts of the ordered funnel: earliest next event of each step, by pointer chasing."""
    after = ibis.window(group_by=ev[CUSTOMER], order_by=ev._seq, following=(1, None))
    later_groups = sorted({plan.group_of[j] for j in range(1, plan.k)})
    ev = ev.mutate(
        **{f"_n{g}": ibis.cases((ev[f"_m{g}"], ev._seq)).min().over(after) for g in later_groups}
    )
    nx = [f"_nx{i}" for i in range(len(plan.x_events))]
    a = ev.filter(ev[f"_m{plan.group_of[0]}"]).select(
        CUSTOMER,
        "_seg",
        _start=ev._seq,
        _u1=ev._us,
        _t1=ev[TIMESTAMP],
        **{f"_c{g}": ev[f"_n{g}"] for g in later_groups},
        **_exclusion_marks(ev, plan, 1, nx),
    )
    lookup = ev.select(
        _lc=ev[CUSTOMER],
        _ls=ev._seq,
        _lu=ev._us,
        _lt=ev[TIMESTAMP],
        **{f"_ln{g}": ev[f"_n{g}"] for g in later_groups},
        **{f"_l{c}": ev[c] for c in nx},
    )
    for j in range(2, plan.k + 1):
        target = a[f"_c{plan.group_of[j - 1]}"]
        lk = lookup.view()  # a fresh copy per join: ibis needs distinct relations
        joined = a.left_join(lk, [a[CUSTOMER] == lk._lc, target == lk._ls])
        inside = (joined._lu <= joined._u1 + plan.window_us).fill_null(False)
        keep = [c for c in a.columns if not c.startswith("_c")]
        marks = {
            name: ibis.cases((inside, joined[f"_l{src}"]))
            for name, src in _exclusion_sources(plan, j, nx).items()
        }
        a = joined.select(
            *keep,
            **{f"_u{j}": ibis.cases((inside, joined._lu))},
            **{f"_t{j}": ibis.cases((inside, joined._lt))},
            **{f"_c{g}": ibis.cases((inside, joined[f"_ln{g}"])) for g in later_groups},
            **marks,
        ).view()  # keeps ibis from merging the next join into this one's chain
    return a.drop(*[c for c in a.columns if c.startswith("_c")])


def _exclusion_sources(plan: _Plan, step: int, nx: list[str]) -> dict[str, str]:
    """The next-exclusion columns to remember at the step-``step`` event of an attempt."""
    return {
        f"_xa{i}": nx[plan.x_events.index(e.event)]
        for i, e in enumerate(plan.exclusions)
        if e.after_step == step
    }


def _exclusion_marks(ev: ir.Table, plan: _Plan, step: int, nx: list[str]) -> dict[str, Any]:
    return {name: ev[src] for name, src in _exclusion_sources(plan, step, nx).items()}


def _strict_attempts(ev: ir.Table, plan: _Plan) -> ir.Table:
    """Attempts of the strict funnel: step j must be the (j-1)-th next event of the start."""
    w = ibis.window(group_by=ev[CUSTOMER], order_by=ev._seq)
    nx = [f"_nx{i}" for i in range(len(plan.x_events))]
    cols: dict[str, Any] = {"_start": ev._seq, "_u1": ev._us, "_t1": ev[TIMESTAMP]}
    cols.update(_exclusion_marks(ev, plan, 1, nx))
    reached: ir.BooleanValue = ibis.literal(True)
    for j in range(2, plan.k + 1):
        off = j - 1
        us = ev._us.lead(off).over(w)
        fits = ev[f"_m{plan.group_of[j - 1]}"].lead(off).over(w).fill_null(False)
        reached = reached & fits & (us <= ev._us + plan.window_us).fill_null(False)
        cols[f"_u{j}"] = ibis.cases((reached, us))
        cols[f"_t{j}"] = ibis.cases((reached, ev[TIMESTAMP].lead(off).over(w)))
        for name, src in _exclusion_sources(plan, j, nx).items():
            cols[name] = ibis.cases((reached, ev[src].lead(off).over(w)))
    a = ev.mutate(**cols)
    a = a.filter(a[f"_m{plan.group_of[0]}"])
    return a.select(CUSTOMER, "_seg", *cols)


def _fill_expr(counts: dict[frozenset[int], ir.IntegerValue], plan: _Plan) -> ir.IntegerValue:
    """How many steps events can fill, given counts of events per set of step definitions.

    ``counts[U]`` is the number of events that fill some definition in U. By König's theorem
    the maximum matching of events to steps is the minimum over U of (steps outside U) +
    (events filling U); with pairwise disjoint definitions this is sum(min(listed, seen)).
    """
    mult = [plan.multiplicity(g) for g in range(len(plan.groups))]
    if plan.disjoint:
        total: ir.IntegerValue = ibis.literal(0)
        for g, m in enumerate(mult):
            total = total + ibis.least(counts[frozenset([g])], m)
        return total
    best: ir.IntegerValue = ibis.literal(plan.k)
    for subset, count in counts.items():
        outside = sum(m for g, m in enumerate(mult) if g not in subset)
        best = ibis.least(best, count + outside)
    return best


def _fills(t: ir.Table, subset: frozenset[int]) -> ir.BooleanValue:
    out: ir.BooleanValue = ibis.literal(False)
    for g in sorted(subset):
        out = out | t[f"_m{g}"]
    return out


def _any_attempts(ev: ir.Table, plan: _Plan, period: Period, *, all_times: bool) -> ir.Table:
    """Attempts of the any-order funnel; step times for the best attempt of every customer
    (and for every attempt when ``all_times`` or when exclusions need them)."""
    subsets = _subsets(plan)
    inside = ibis.range_window(
        group_by=ev[CUSTOMER], order_by=ev._us, preceding=0, following=plan.window_us
    )
    fills_any = _fills(ev, frozenset(range(len(plan.groups))))
    counts = {s: flag(_fills(ev, s)).sum().over(inside) for s in subsets}
    starts = ev.mutate(_level=_fill_expr(counts, plan)).filter(fills_any)
    if period.bounded:
        starts = starts.filter(period.contains(starts[TIMESTAMP]))
    rank = ibis.row_number().over(
        group_by=starts[CUSTOMER], order_by=[starts._level.desc(), starts._seq]
    )
    starts = starts.select(
        CUSTOMER, "_seg", "_level", _start=starts._seq, _u0=starts._us, _best=rank == 0
    )
    need = starts._best
    if all_times:
        need = ibis.literal(True)
    elif plan.exclusions:
        lowest = min(e.after_step for e in plan.exclusions)
        need = need | (starts._level >= lowest)
    timed = starts.filter(need)
    window_events = ev.select(
        _ec=ev[CUSTOMER],
        _eu=ev._us,
        _et=ev[TIMESTAMP],
        _eseq=ev._seq,
        **{f"_m{g}": ev[f"_m{g}"] for g in range(len(plan.groups))},
        **{f"_nx{i}": ev[f"_nx{i}"] for i in range(len(plan.x_events))},
    )
    joined = timed.inner_join(
        window_events,
        [
            timed[CUSTOMER] == window_events._ec,
            window_events._eu >= timed._u0,
            window_events._eu <= timed._u0 + plan.window_us,
        ],
    )
    so_far = ibis.cumulative_window(
        group_by=[joined[CUSTOMER], joined._start], order_by=[joined._eu, joined._eseq]
    )
    run = {s: flag(_fills(joined, s)).sum().over(so_far) for s in subsets}
    joined = joined.mutate(_filled=_fill_expr(run, plan))
    aggs: dict[str, Any] = {}
    for j in range(1, plan.k + 1):
        aggs[f"_u{j}"] = joined._eu.min(where=joined._filled >= j)
        aggs[f"_t{j}"] = joined._et.min(where=joined._filled >= j)
    for i, e in enumerate(plan.exclusions):
        nx = joined[f"_nx{plan.x_events.index(e.event)}"]
        # The next-exclusion time only grows along the sequence: its minimum over the rows
        # where step a is filled is its value at the row that filled it.
        aggs[f"_xa{i}"] = nx.min(where=joined._filled >= e.after_step)
    times = joined.group_by([CUSTOMER, "_start"]).aggregate(**aggs)
    out = starts.left_join(
        times,
        [starts[CUSTOMER] == times[CUSTOMER], starts._start == times._start],
    )
    return out.select(
        CUSTOMER,
        "_seg",
        "_start",
        "_best",
        "_level",
        *aggs,
    )


def _with_exclusions(a: ir.Table, plan: _Plan) -> ir.Table:
    """Mark attempts caught by an exclusion (``_excluded``)."""
    caught: ir.BooleanValue = ibis.literal(False)
    for i, e in enumerate(plan.exclusions):
        at_a, at_b, nx = a[f"_u{e.after_step}"], a[f"_u{e.before_step}"], a[f"_xa{i}"]
        limit = ibis.cases(
            (at_b.notnull(), nx < at_b),
            else_=nx <= a._u1 + plan.window_us if plan.order != "any" else nx <= a._uend,
        )
        caught = caught | (at_a.notnull() & nx.notnull() & limit).fill_null(False)
    return a.mutate(_excluded=caught)


def _attempts(
    events: ir.Table,
    plan: _Plan,
    journey: Journey | None,
    by: str | None,
    period: Period,
    *,
    all_times: bool = False,
) -> ir.Table:
    ev = _sequence(events, plan, journey, by, period)
    if plan.order == "ordered":
        a = _ordered_attempts(ev, plan)
    elif plan.order == "strict":
        a = _strict_attempts(ev, plan)
    else:
        a = _any_attempts(ev, plan, period, all_times=all_times)
        a = a.mutate(_uend=a._u1 + plan.window_us)
    if plan.order != "any" and period.bounded:
        a = a.filter(period.contains(a._t1))
    if plan.order != "any":
        level: ir.IntegerValue = ibis.literal(1)
        for j in range(2, plan.k + 1):
            level = level + flag(a[f"_u{j}"].notnull())
        a = a.mutate(_level=level)
    return _with_exclusions(a, plan)


def _public(a: ir.Table, plan: _Plan, by: str | None, extra: Sequence[str] = ()) -> ir.Table:
    cols: dict[str, Any] = {"level": a._level.cast("int64")}
    for j in range(1, plan.k + 1):
        cols[f"t{j}"] = a[f"_t{j}"]
    if by is not None:
        cols["segment"] = a.segment
    return a.select(CUSTOMER, *extra, **cols)


def _segments(
    best: ir.Table, events: ir.Table, journey: Journey | None, by: str | None
) -> ir.Table:
    if by is None:
        return best
    if by == "persona":
        from kundresa.analytics.touchpoints import persona_expr

        assert journey is not None
        personas = persona_expr(events, journey)
        best = best.left_join(personas, best[CUSTOMER] == personas[CUSTOMER])
        best = best.drop(f"{CUSTOMER}_right").mutate(_seg=ibis._.persona).drop("persona")
    return best.mutate(segment=best._seg.fill_null(NO_SEGMENT))


def _best(
    events: ir.Table,
    steps: Sequence[str | Step],
    window: str | float,
    order: str,
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]],
    journey: Journey | None,
    by: str | None,
    period: Period,
) -> tuple[ir.Table, _Plan]:
    best, plan, _ = _best_parts(events, steps, window, order, exclusions, journey, by, period)
    return best, plan


def _best_parts(
    events: ir.Table,
    steps: Sequence[str | Step],
    window: str | float,
    order: str,
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]],
    journey: Journey | None,
    by: str | None,
    period: Period,
    *,
    ids: bool = True,
) -> tuple[ir.Table, _Plan, pa.Table | None]:
    """:func:`_best`, and the best attempts in memory when the fast path computed them (and
    no persona breakdown joins them to the engine's tables). Without ``ids`` the fast path
    may leave the customer ids null in both (for callers that only count)."""
    plan = _plan(steps, window, order, exclusions)
    if _fast_path_fits(events, plan):
        from kundresa.analytics.touchpoints import remembered

        # Kept for the other analyses of the version in Project.run: a funnel page's event
        # funnel, time to convert and trend share one best attempt per customer. ``ids``
        # changes only the coded path's result; the journey is kept alive with the value,
        # so its id in the key is not reused meanwhile.
        coded = by is None and not plan.needs_journey
        key = ("funnel-best", events.op(), plan, id(journey), by, period, ids or not coded)
        _, arrow = remembered(
            key, lambda: (journey, _fast_best(events, plan, journey, by, period, ids=ids))
        )
        best = _segments(ibis.memtable(arrow), events, journey, by)
        return best, plan, (None if by == "persona" else arrow)
    a = _attempts(events, plan, journey, by, period)
    if plan.exclusions:
        out = a.group_by(CUSTOMER).aggregate(_out=a._excluded.any())
        out = out.filter(out._out)
        a = a.anti_join(out, a[CUSTOMER] == out[CUSTOMER])
    if plan.order == "any":
        best = a.filter(a._best)
    else:
        rank = ibis.row_number().over(group_by=a[CUSTOMER], order_by=[a._level.desc(), a._start])
        best = a.mutate(_rank=rank).filter(ibis._._rank == 0)
    return _segments(best, events, journey, by), plan, None


# -- the DuckDB fast path ----------------------------------------------------------------------


def _fast_path_fits(events: ir.Table, plan: _Plan) -> bool:
    return fits_bits(plan) and fast_path(events)


def _bits(t: ir.Table, prefix: str, n: int) -> ir.IntegerValue:
    out: ir.IntegerValue = ibis.literal(0, type="int64")
    for i in range(n):
        out = out + ibis.cases((t[f"{prefix}{i}"], 1 << i), else_=0).cast("int64")
    return out


def _codes(values: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    coded = pc.dictionary_encode(values.combine_chunks())
    codes = coded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, len(coded.dictionary)


def _customer_rows(
    data: pa.Table, codes: np.ndarray, n_cust: int, plan: _Plan
) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows in each customer's sequence (``codes``: the customer of each row), or None
    when rows at one instant differ in a way only the full tie rule (event name, event id,
    ...) can order."""
    from kundresa.analytics._kernels import customer_order

    if not len(data):
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    seg, n_seg = _codes(data["_seg"])
    us = data["_us"].to_numpy().astype(np.int64, copy=False)
    span = plan.k + 2
    if us.min() < -(2**62) // span or us.max() > (2**62) // span:
        return None
    if len(plan.groups) + len(plan.x_events) + (n_seg + 1).bit_length() > 62:
        return None
    key = us * span + data["_first"].to_numpy().astype(np.int64, copy=False)
    mask = data["_mask"].to_numpy().astype(np.int64, copy=False)
    xmask = data["_xmask"].to_numpy().astype(np.int64, copy=False)
    # Rows that tie on (time, first step) are interchangeable when they fill the same steps,
    # are the same exclusion events and have the same breakdown value.
    payload = (seg + 1) + (n_seg + 1) * (mask * (1 << len(plan.x_events)) + xmask)
    perm, bounds, ambiguous = customer_order(codes, n_cust, key, payload)
    return None if ambiguous else (perm, bounds)


def _fast_best(
    events: ir.Table,
    plan: _Plan,
    journey: Journey | None,
    by: str | None,
    period: Period,
    *,
    ids: bool = True,
) -> pa.Table:
    """The customers' best attempts (the columns :func:`_best` gives) from one sorted scan of
    the events and a compiled kernel: :func:`kundresa.analytics._kernels.funnel_best` (ordered
    and strict) or :func:`kundresa.analytics._funnel_any_kernels.funnel_any_best` (any).
    Without ``ids`` the customer ids may be left null."""
    if plan.order == "any":
        _subsets(plan)  # the portable path's limit on overlapping steps, and its message
    parts = fast_path_parts(events)
    if by is None and not plan.needs_journey:
        return _coded_best(events, plan, period, parts, ids)
    t = _prepared(events, plan, journey, by, period)
    if parts > 1 and plan.order != "strict":
        # Only the step and exclusion events are fetched (``t`` keeps no other): parts of
        # that many rows, one count (a scan) saving whole scans when steps are a fraction.
        parts = fast_path_parts(t)
    if parts == 1:
        return _fast_best_part(t, plan, period)
    # Bounded memory: customers split by a hash of their id, one scan and pass per part.
    h = t[CUSTOMER].hash()
    part = ((h % parts) + parts) % parts
    return pa.concat_tables(
        [_fast_best_part(t.filter(part == p), plan, period) for p in range(parts)]
    )


def _fast_best_part(t: ir.Table, plan: _Plan, period: Period) -> pa.Table:
    """:func:`_fast_best` for the prepared rows ``t`` (all customers, or one part of them)."""
    inside = period.contains(t[TIMESTAMP]) if period.bounded else ibis.literal(True)
    wanted = {
        "_us": t._us,
        "_first": t._first.cast("int64"),
        "_mask": _bits(t, "_m", len(plan.groups)),
        "_xmask": _bits(t, "_x", len(plan.x_events)),
        "_in": inside,
    }
    rows = _stored_rows(t, plan, wanted) or _grouped_rows(t, plan, wanted)
    return _best_of_rows(*rows, plan)


def _coded_best(events: ir.Table, plan: _Plan, period: Period, parts: int, ids: bool) -> pa.Table:
    """:func:`_fast_best` for event-name steps without a breakdown, from the journey-ordered
    store's integer columns (:func:`kundresa.analytics._ordered.ordered_codes`: customer code,
    time and event code, no strings), else from one scan of the customer id, time and name
    coded and ordered in memory (:func:`kundresa.analytics._ordered.fetched_codes`: a file
    read in place, an in-memory table), and one compiled pass that derives the kernel's
    inputs (:func:`kundresa.analytics._funnel_core.coded_best`, shared with the command
    line's lean lane). Customer ids are looked up only with ``ids``."""
    from kundresa.analytics._ordered import fetched_codes, ordered_codes

    coded = coded_steps(plan, period)
    names, until, every = coded.names, coded.until, coded.every

    def part(p: int, n: int) -> tuple[int, int] | None:
        return (p, n) if n > 1 else None

    tables: list[pa.Table] = []
    for p in range(parts):
        rows = ordered_codes(events, names, since=period.start, until=until, part=part(p, parts))
        if rows is None:
            break
        tables.append(coded_best(rows, plan, coded, ids))
    else:
        return pa.concat_tables(tables)
    # Not (all) in the store: one scan a part (the scan splits customers by a hash of their
    # id, not as the store does, so every part is read again), parts sized by the kept rows.
    if parts > 1 and not every:
        parts = fast_path_parts(events.filter(events[EVENT].isin(names)))
    tables = []
    # numba loads the kernels' cached machine code (~0.3-1 s) while DuckDB scans with the
    # interpreter lock released: the same passes on one row of the dtypes the fetch gives.
    warm = threading.Thread(target=_warm_fetched, args=(plan, coded), daemon=True)
    warm.start()
    for p in range(parts):
        rows = fetched_codes(
            events, names, every=every, since=period.start, until=until, part=part(p, parts)
        )
        warm.join()
        tables.append(coded_best(rows, plan, coded, ids))
    return pa.concat_tables(tables)


def _warm_fetched(plan: _Plan, coded: CodedSteps) -> None:
    """Run the compiled passes of :func:`_coded_best`
    (:func:`kundresa.analytics._funnel_core.coded_chunk`) on one row shaped as
    :func:`kundresa.analytics._ordered.fetched_codes` gives it (``int32`` customer codes and
    event places), so that numba loads those kernels now; any failure is left to the real
    call to raise."""
    from kundresa.analytics._codes import OrderedCodes, micros
    from kundresa.analytics._kernels import grouped_sequence

    with contextlib.suppress(Exception):  # only a warm-up: the real call raises
        # Read-only arrays over Arrow buffers, as the fetch's (numba compiles read-only and
        # writable arrays apart).
        who = pc.dictionary_encode(pa.array(["x"]))
        codes = who.indices.to_numpy(zero_copy_only=False)
        events = pa.array([0], pa.int32()).to_numpy(zero_copy_only=False)
        us = micros(pa.array([0], pa.timestamp("us")))
        ordered = grouped_sequence(codes, 1, us, events)
        rows = OrderedCodes(*ordered, np.zeros(1, np.int64), None, who.dictionary)
        coded_chunk(plan, coded, rows, 0, 1)


def _stored_rows(
    t: ir.Table, plan: _Plan, wanted: dict[str, ir.Value]
) -> tuple[pa.Table, np.ndarray, np.ndarray, pa.Array, np.ndarray | None] | None:
    """The rows of ``t`` in each customer's sequence read from the journey-ordered store
    (:func:`kundresa.analytics._ordered.ordered_rows`: a scan, no grouping), re-sorted within
    a customer only where a later step sorts before an earlier one at one instant; None when
    the store cannot give them or rows at one instant differ only by their segment."""
    from kundresa.analytics._kernels import customer_order
    from kundresa.analytics._ordered import ordered_rows

    columns = {k: v for k, v in wanted.items() if k != "_us"}
    stored = ordered_rows(t.mutate(**columns), [*columns, "_seg"])
    if stored is None:
        return None
    data = stored.data
    rc = stored.row_customer
    n_cust = len(stored.bounds) - 1
    if not len(data):
        return data, np.zeros(0, np.int64), stored.bounds, stored.customers, rc
    us = data["_us"].to_numpy().astype(np.int64, copy=False)
    span = plan.k + 2
    if us.min() < -(2**62) // span or us.max() > (2**62) // span:
        return None
    key = us * span + data["_first"].to_numpy().astype(np.int64, copy=False)
    same = rc[1:] == rc[:-1]
    src = np.arange(len(data), dtype=np.int64)
    if np.any(same & (key[1:] < key[:-1])):
        # The store order is by time, then event name...: a stable sort of each customer's
        # rows by (time, first step) gives the funnel's sequence order.
        src, _, _ = customer_order(rc, n_cust, key, np.zeros(len(data), np.int64))
        key = key[src]
    seg, _ = _codes(data["_seg"])
    seg = seg[src]
    if np.any(same & (key[1:] == key[:-1]) & (seg[1:] != seg[:-1])):
        return None  # rows at one instant that only the segment would order
    return data, src, stored.bounds, stored.customers, rc


def _grouped_rows(
    t: ir.Table, plan: _Plan, wanted: dict[str, ir.Value]
) -> tuple[pa.Table, np.ndarray, np.ndarray, pa.Array, np.ndarray | None]:
    """The rows of ``t`` in each customer's sequence, grouped by DuckDB's hash aggregation."""
    # Each customer's rows together from DuckDB's hash aggregation (one list per customer):
    # no global sort, and each customer id crosses over once.
    grouped = (
        t.group_by(CUSTOMER)
        .aggregate(_r=ibis.struct({**wanted, "_seg": t._seg}).collect())
        .to_pyarrow()
        .combine_chunks()
    )
    lists = grouped["_r"].combine_chunks()
    offsets = lists.offsets.to_numpy().astype(np.int64)
    codes = np.repeat(np.arange(len(lists), dtype=np.int64), np.diff(offsets))
    rows_struct = lists.flatten()
    data = pa.Table.from_arrays(rows_struct.flatten(), names=[f.name for f in rows_struct.type])
    order = _customer_rows(data, codes, len(lists), plan)
    if order is None:
        # Rows at one instant that the cheap order cannot tell apart: the full tie rule.
        data = (
            t.order_by([t[CUSTOMER], *_sequence_keys(t)])
            .select(CUSTOMER, "_seg", **wanted)
            .to_pyarrow()
            .combine_chunks()
        )
        src, bounds = np.arange(len(data), dtype=np.int64), customer_bounds(data[CUSTOMER])
        customer_of = data[CUSTOMER]
        row_customer = None
    else:
        src, bounds = order
        customer_of = grouped[CUSTOMER]
        row_customer = codes
    return data, src, bounds, customer_of, row_customer


def _best_of_rows(
    data: pa.Table,
    src: np.ndarray,
    bounds: np.ndarray,
    customer_of: pa.Array | pa.ChunkedArray,
    row_customer: np.ndarray | None,
    plan: _Plan,
) -> pa.Table:
    """The best attempts of rows ``data[src]`` (``bounds``: each customer's), their customer
    ids from ``customer_of`` (by ``row_customer``, the customer of each row, or by row)."""

    def column(name: str, kind: type = np.int64) -> np.ndarray:
        return data[name].to_numpy(zero_copy_only=False).astype(kind, copy=False)[src]

    us = column("_us")
    best_row, level, step_rows = _kernel(
        plan, bounds, us, column("_mask"), column("_xmask"), column("_in", np.bool_)
    )
    chosen = np.flatnonzero(best_row >= 0)
    picked = pa.array(src[best_row[chosen]])
    who = picked if row_customer is None else pa.array(row_customer[src[best_row[chosen]]])
    return _best_table(
        plan,
        customer_of.take(who),
        data["_seg"].take(picked),
        bounds,
        chosen,
        best_row,
        level,
        step_rows,
        us,
    )


# -- public analyses ---------------------------------------------------------------------------


def funnel_attempts(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> ir.Table:
    """Every attempt of every customer: where it starts, how far it gets, whether it is excluded.

    Returns an Ibis table with ``customer_id``, ``start`` (the start event's 0-based place in
    the customer's sequence, see the module notes; with ``since`` the sequence is read from
    ``since`` on), ``level``, ``t1`` … ``tk`` (null for steps not reached) and ``excluded``
    (an exclusion catches this attempt; its customer is then left out of the funnel).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-02 10:00", "2025-01-08 11:00"],
    ...     "event": ["view", "view", "buy"],
    ... }))
    >>> funnel_attempts(events, ["view", "buy"]).order_by("start").to_pandas()[
    ...     ["start", "level", "t2", "excluded"]]
       start  level                  t2  excluded
    0      0      1                 NaT     False
    1      1      2 2025-01-08 11:00:00     False
    """
    plan = _plan(steps, window, order, exclusions)
    period = _period(since, until, journey, timezone)
    a = _attempts(events, plan, journey, None, period, all_times=True)
    a = a.mutate(start=a._start, excluded=a._excluded)
    return _public(a, plan, None, extra=("start", "excluded"))


def funnel_customers(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    journey: Journey | None = None,
    by: str | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> ir.Table:
    """One row per customer in the funnel with their best level and its step times.

    Customers in the funnel are those with a step-1 event (for ``order="any"``: any step
    event) who are not caught by an exclusion.

    Returns
    -------
    ibis.expr.types.Table
        ``customer_id``, ``level`` (1..k), ``t1`` … ``tk`` (timestamps of the steps of the
        best attempt, null for steps not reached) and, with ``by``, ``segment``.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:30", "2025-01-01 09:00"],
    ...     "event": ["view", "buy", "view"],
    ... }))
    >>> funnel_customers(events, ["view", "buy"]).order_by("customer_id").to_pandas()
      customer_id  level                  t1                  t2
    0           a      2 2025-01-01 10:00:00 2025-01-01 10:30:00
    1           b      1 2025-01-01 09:00:00                 NaT
    """
    period = _period(since, until, journey, timezone)
    best, plan = _best(events, steps, window, order, exclusions, journey, by, period)
    return _public(best, plan, by)


def _durations(best: ir.Table, plan: _Plan, group: list[str]) -> ir.Table:
    """Seconds to convert per customer and step, in long form: ``_step``, ``_d`` (and in
    whole microseconds, ``_us``)."""
    parts = []
    for j in range(2, plan.k + 1):
        us = (best[f"_u{j}"] - best[f"_u{j - 1}"]).cast("int64")
        d = us.cast("float64") / 1_000_000.0
        part = best.filter(best[f"_u{j}"].notnull()).select(
            *group, _step=ibis.literal(j), _d=d, _us=us
        )
        parts.append(part)
    return ibis.union(*parts)


def _exact_median(long: ir.Table, group: list[str]) -> ir.Table:
    """Exact median of ``_d`` per group: the middle value, or the mean of the two middle
    ones (portable; no engine's approximate quantile)."""
    keys = [*group, "_step"]
    w = ibis.window(group_by=[long[c] for c in keys], order_by=long._d)
    n = ibis.window(group_by=[long[c] for c in keys])
    ranked = long.mutate(_r=ibis.row_number().over(w), _n=long._d.count().over(n))
    low = (ranked._n - 1) // 2
    high = ranked._n // 2
    middle = ranked.filter((ranked._r == low) | (ranked._r == high))
    return middle.group_by(keys).aggregate(_median=middle._d.mean())


def event_funnel(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    by: str | None = None,
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """The event funnel: customers reaching each step, conversion and time to convert.

    Parameters
    ----------
    events
        The canonical event table (any Ibis backend).
    steps
        At least two steps: event names (``purchase``; ``a|b`` for either), or
        ``touchpoint:ID`` / ``stage:ID`` (these need ``journey``).
    window
        The longest time from an attempt's first step to its last: ``90s``, ``30m``, ``12h``,
        ``7d``, ``2w`` or seconds.
    order
        ``ordered`` (default), ``strict`` or ``any``; see the module notes.
    exclusions
        ``X:a:b`` texts or :class:`Exclusion`: leave out customers with an X event between
        step a and step b of an attempt.
    by
        Break down by an event property, ``channel`` or (with a journey) ``persona``: the
        value on the first-step event of the customer's best attempt (the customer's persona);
        missing values are ``(none)``. Adds a leading ``segment`` column.
    journey
        The journey, for touchpoint and stage steps and for ``by="persona"``.
    since, until
        Count the attempts whose first step falls in ``[since, until)``; their later steps
        may come after ``until`` while inside the window (as Amplitude and Mixpanel count
        conversions). ``events`` stays the whole history: touchpoints and stages (``nth``)
        and personas come from it. A date is midnight in ``timezone``.
    timezone
        IANA time zone for dates and calendar periods; default the journey's, else UTC.

    Returns
    -------
    pandas.DataFrame
        ``step`` (1-based), ``event`` (the step as written), ``count``,
        ``conversion_from_previous``, ``conversion_from_start``, ``mean_seconds_to_convert``,
        ``median_seconds_to_convert`` (NaN where undefined), one row per step (per segment).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b", "c"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-01 11:00",
    ...                   "2025-01-02 09:00", "2025-01-02 09:01", "2025-01-03 12:00"],
    ...     "event": ["view", "cart", "buy", "view", "cart", "view"],
    ... }))
    >>> event_funnel(events, ["view", "cart", "buy"], window="1d").iloc[:, :5]
       step event  count  conversion_from_previous  conversion_from_start
    0     1  view      3                       NaN               1.000000
    1     2  cart      2                  0.666667               0.666667
    2     3   buy      1                  0.500000               0.333333
    >>> event_funnel(events, ["view", "cart"])["median_seconds_to_convert"].tolist()
    [nan, 180.0]
    """
    period = _period(since, until, journey, timezone)
    best, plan, arrow = _best_parts(
        events, steps, window, order, exclusions, journey, by, period, ids=False
    )
    if arrow is not None:
        return _funnel_frame_arrow(arrow, plan, by)
    with cached(best) as b:
        return _funnel_frame(b, plan, by)


def _funnel_frame(best: ir.Table, plan: _Plan, by: str | None) -> pd.DataFrame:
    group = ["segment"] if by is not None else []
    aggs: dict[str, Any] = {}
    for j in range(1, plan.k + 1):
        aggs[f"count_{j}"] = count_true(best._level >= j)
    long = _durations(best, plan, group)
    # Exact means (kundresa.analytics._means): the microseconds' parts summed by the engine.
    means = long.group_by([*group, "_step"]).aggregate(**mean_parts(long._us))
    medians = _exact_median(long, group)
    wide = best.group_by(group).aggregate(**aggs) if group else best.aggregate(**aggs)
    wide_df = wide.to_pandas()
    mean_df = means.to_pandas()
    mean_df["_mean"] = means_of_parts(mean_df, US_PER_SECOND)
    mean_of = _by_segment_step(mean_df, group, "_mean")
    median_of = _by_segment_step(medians.to_pandas(), group, "_median")
    return _funnel_rows(wide_df, mean_of, median_of, plan, group)


def _funnel_frame_arrow(best: pa.Table, plan: _Plan, by: str | None) -> pd.DataFrame:
    """:func:`_funnel_frame` from the fast path's best attempts, in memory (the same sums,
    means and middle values, without sending the small table back to the engine)."""
    group = ["segment"] if by is not None else []
    if not group:
        return _funnel_frame_numpy(best, plan)
    df = best.select(["_seg", "_level", *(f"_u{j}" for j in range(1, plan.k + 1))]).to_pandas()
    df["segment"] = df["_seg"].fillna(NO_SEGMENT)
    level = df["_level"].to_numpy()
    counts = pd.DataFrame({f"count_{j}": level >= j for j in range(1, plan.k + 1)}).astype("int64")
    if group:
        counts["segment"] = df["segment"].to_numpy()
        wide_df = counts.groupby("segment", sort=True).sum().reset_index()
    else:
        wide_df = counts.sum().to_frame().T if len(df) else pd.DataFrame()
    mean_of: dict[tuple[Any, int], float | None] = {}
    median_of: dict[tuple[Any, int], float | None] = {}
    for j in range(2, plan.k + 1):
        reached = df[df[f"_u{j}"].notna()]
        us = reached[f"_u{j}"].astype("int64") - reached[f"_u{j - 1}"].astype("int64")
        keys = reached["segment"] if group else pd.Series(0, index=reached.index)
        for seg, part in us.groupby(keys.to_numpy(), sort=False):
            key = (seg if group else None, j)
            mean_of[key] = mean_seconds(part.to_numpy())
            median_of[key] = float((part / 1_000_000.0).median())
    return _funnel_rows(wide_df, mean_of, median_of, plan, group)


def _by_segment_step(
    frame: pd.DataFrame, group: list[str], column: str
) -> dict[tuple[Any, int], float | None]:
    segments = frame["segment"].tolist() if group else [None] * len(frame)
    return {
        (seg, int(step)): _float(value)
        for seg, step, value in zip(segments, frame["_step"], frame[column], strict=True)
    }


# -- extras: histogram, trend, customers of a step ---------------------------------------------

DEFAULT_BINS = (0.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0, 259200.0, 604800.0)
"""Default time-to-convert bin edges in seconds: 1 min, 5 min, 15 min, 1 h, 6 h, 1 d, 3 d, 7 d;
the last bin is open-ended."""

_PERIODS = {"day": "D", "week": "W", "month": "M"}


def time_to_convert_histogram(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    bins: Sequence[str | float] = DEFAULT_BINS,
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """How long customers took to convert to each step, in bins of seconds.

    Parameters
    ----------
    bins
        Increasing bin edges (seconds or durations such as ``1h``); a bin holds times
        ``>= its start`` and ``< its end``; the last bin has no end.

    Returns
    -------
    pandas.DataFrame
        ``step`` (2..k), ``event``, ``bin_start``, ``bin_end`` (seconds; NaN for the open
        last bin) and ``customers``, every bin of every step (zeros included).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:00:30", "2025-01-01 10:00",
    ...                   "2025-01-01 12:00"],
    ...     "event": ["view", "buy", "view", "buy"],
    ... }))
    >>> time_to_convert_histogram(events, ["view", "buy"], bins=["0", "1m", "1h"])
       step event  bin_start  bin_end  customers
    0     2   buy        0.0     60.0          1
    1     2   buy       60.0   3600.0          0
    2     2   buy     3600.0      NaN          1
    """
    edges = _edges(bins)
    period = _period(since, until, journey, timezone)
    best, plan = _best(events, steps, window, order, exclusions, journey, None, period)
    return _histogram_frame(best, plan, edges)


def _edges(bins: Sequence[str | float]) -> list[float]:
    edges = [parse_duration(b) for b in bins]
    if not edges or any(b <= a for a, b in itertools.pairwise(edges)):
        raise UsageError(f"bins must be increasing edges in seconds, got {list(bins)!r}")
    return edges


def _histogram_frame(best: ir.Table, plan: _Plan, edges: list[float]) -> pd.DataFrame:
    long = _durations(best, plan, [])
    bucket = ibis.cases(
        *((long._d >= edge, i) for i, edge in reversed(list(enumerate(edges)))), else_=-1
    )
    counts = long.mutate(_bin=bucket).group_by(["_step", "_bin"]).aggregate(n=ibis._.count())
    frame = counts.to_pandas()
    got = {
        (int(s), int(b)): int(n)
        for s, b, n in zip(frame["_step"], frame["_bin"], frame["n"], strict=True)
    }
    rows = []
    for j in range(2, plan.k + 1):
        for i, start in enumerate(edges):
            rows.append(
                {
                    "step": j,
                    "event": str(plan.steps[j - 1]),
                    "bin_start": start,
                    "bin_end": edges[i + 1] if i + 1 < len(edges) else None,
                    "customers": got.get((j, i), 0),
                }
            )
    df = pd.DataFrame(rows, columns=["step", "event", "bin_start", "bin_end", "customers"])
    df["bin_end"] = df["bin_end"].astype("float64")
    return df


def conversion_trend(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    period: str = "day",
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Conversion from step 1 to the last step by the period in which the best attempt started.

    Returns
    -------
    pandas.DataFrame
        ``period`` (start of the day, ISO week from Monday, or month), ``started``,
        ``converted``, ``conversion`` (converted / started) and ``complete``, in time order:
        every period from the first in which an attempt started to the last, those in which
        none did with 0 started, 0 converted and conversion NaN.
        ``complete`` is false for a period whose last entrants have not yet had the whole
        ``window`` to convert when the data ends (the last event, or ``until`` if earlier):
        its conversion can still grow, so a falling tail of the trend is not a fall.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c", "c"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 11:00", "2025-01-01 09:00",
    ...                   "2025-01-02 08:00", "2025-01-02 09:00"],
    ...     "event": ["view", "buy", "view", "view", "buy"],
    ... }))
    >>> conversion_trend(events, ["view", "buy"], window="1h")
          period  started  converted  conversion  complete
    0 2025-01-01        2          1         0.5      True
    1 2025-01-02        1          1         1.0     False
    """
    _check_period(period)
    span = _period(since, until, journey, timezone)
    best, plan = _best(events, steps, window, order, exclusions, journey, None, span)
    return _trend_frame(best, plan, period, span.timezone, _data_end(events, span))


def _data_end(events: ir.Table, span: Period) -> datetime | None:
    """The last instant the data sees (naive UTC): its last event, or ``until`` if earlier."""
    last = events[TIMESTAMP].max().execute()
    if last is None or last != last:
        return span.end
    stamp = pd.Timestamp(last)
    end = (stamp.tz_convert(None) if stamp.tzinfo else stamp).to_pydatetime()
    return min(end, span.end) if span.end is not None else end


def _period(since: When, until: When, journey: Journey | None, timezone: str | None) -> Period:
    """The counted period; dates are read in ``timezone``, else the journey's, else UTC."""
    return funnel_period(since, until, journey, timezone)


def _check_period(period: str) -> None:
    if period not in _PERIODS:
        raise UsageError(f"unknown period {period!r}; use one of {', '.join(_PERIODS)}")


def _trend_frame(
    best: ir.Table, plan: _Plan, period: str, tz: str, data_end: datetime | None
) -> pd.DataFrame:
    clock = local_clock(tz, best, "_t1")
    start = clock(best._t1).truncate(_PERIODS[period])
    out = (
        best.mutate(_p=start)
        .group_by("_p")
        .aggregate(
            started=ibis._.count(),
            converted=count_true(ibis._._level >= plan.k),
        )
        .order_by("_p")
        .to_pandas()
        .rename(columns={"_p": "period"})
    )
    # One unit whatever the engine returns (DuckDB microseconds, Spark nanoseconds).
    out["period"] = pd.to_datetime(out["period"]).astype("datetime64[us]")
    step = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1)}.get(
        period, pd.DateOffset(months=1)
    )
    if len(out):
        # Every period from the first start to the last, those nobody entered in included
        # (0 started, 0 converted), as lifecycle and retention show every period: a trend
        # with holes draws two distant periods as neighbours.
        every = pd.date_range(out["period"].min(), out["period"].max(), freq=step)
        out = (
            out.set_index("period")
            .reindex(pd.DatetimeIndex(every.astype("datetime64[us]"), name="period"))
            .reset_index()
        )
    out["started"] = out["started"].fillna(0).astype("int64")
    out["converted"] = out["converted"].fillna(0).astype("int64")
    # NaN where nobody started: no conversion of nobody.
    out["conversion"] = (out["converted"] / out["started"].where(out["started"] > 0)).astype(
        "float64"
    )
    # A period is complete when its last entrant's window closed before the data ends.
    if data_end is None:
        out["complete"] = True
    else:
        closes = out["period"] + step + pd.Timedelta(microseconds=plan.window_us)
        out["complete"] = (closes <= pd.Timestamp(to_local(data_end, tz))).astype(bool)
    return out.reset_index(drop=True)


def funnel_report(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    by: str | None = None,
    period: str = "day",
    bins: Sequence[str | float] = DEFAULT_BINS,
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The event funnel, its time-to-convert histogram and its trend from one pass over the
    events: the same three tables :func:`event_funnel` (with ``by``),
    :func:`time_to_convert_histogram` and :func:`conversion_trend` return, under the keys
    ``funnel``, ``time_to_convert`` and ``trend``; the customers' best attempts are computed
    once and shared.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:00:30", "2025-01-01 09:00"],
    ...     "event": ["view", "buy", "view"],
    ... }))
    >>> report = funnel_report(events, ["view", "buy"], bins=["0", "1m"])
    >>> report["funnel"]["count"].tolist(), report["time_to_convert"]["customers"].tolist()
    ([2, 1], [1, 0])
    >>> report["trend"][["started", "converted"]].values.tolist()
    [[2, 1]]
    """
    edges = _edges(bins)
    _check_period(period)
    span = _period(since, until, journey, timezone)
    best, plan, arrow = _best_parts(events, steps, window, order, exclusions, journey, by, span)
    with cached(best) as b:
        return {
            "funnel": (
                _funnel_frame_arrow(arrow, plan, by)
                if arrow is not None
                else _funnel_frame(b, plan, by)
            ),
            "time_to_convert": _histogram_frame(b, plan, edges),
            "trend": _trend_frame(b, plan, period, span.timezone, _data_end(events, span)),
        }


def funnel_step_customers(
    events: ir.Table,
    steps: Sequence[str | Step],
    *,
    step: int,
    dropped: bool = False,
    window: str | float = "7d",
    order: str = "ordered",
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]] = (),
    journey: Journey | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> ir.Table:
    """The customers who reached step ``step`` (1-based), or with ``dropped=True`` those who
    reached it but not the next step.

    Returns an Ibis table with one column, ``customer_id``.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.project import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 11:00", "2025-01-01 09:00"],
    ...     "event": ["view", "buy", "view"],
    ... }))
    >>> funnel_step_customers(events, ["view", "buy"], step=1, dropped=True).to_pandas()
      customer_id
    0           b
    """
    plan = _plan(steps, window, order, exclusions)
    if not 1 <= step <= plan.k:
        raise UsageError(f"step {step} does not exist (the funnel has steps 1 to {plan.k})")
    if dropped and step == plan.k:
        raise UsageError(f"no one drops after the last step ({plan.k})")
    best = funnel_customers(
        events,
        steps,
        window=window,
        order=order,
        exclusions=exclusions,
        journey=journey,
        since=since,
        until=until,
        timezone=timezone,
    )
    chosen = best.level == step if dropped else best.level >= step
    return best.filter(chosen).select(CUSTOMER).order_by(CUSTOMER)
