"""The stage analysis' DuckDB fast path: one fetch of the staged events, one compiled walk.

On DuckDB the stage funnel, the transition matrix and time in stage do not compile window
functions over the staged events. :func:`staged_rows` reads the events that fit a touchpoint
as one list per customer and assigns their stages in a kernel (``nth`` included), and
:func:`stage_facts` walks them once in the
compiled kernel :func:`kundresa.analytics._stage_kernels.stage_walk`; the tables are then
counted in memory (exact medians included). The portable path
(:mod:`kundresa.analytics.stages`, :mod:`kundresa.analytics.journeys`) stays the definition;
``tests/analytics/test_stage_fastpath.py`` pins the two together.

:func:`staged_rows` is the only function that knows where the rows come from: it returns plain
arrays (customer bounds and rows in each customer's event order). When the events are a
row-wise view of a journey-ordered warehouse it reads them in store order
(:func:`kundresa.analytics._ordered.ordered_rows`: a scan, no grouping, no sort); otherwise
DuckDB groups them per customer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from kundresa.analytics._fast import customer_bounds, fast_path, fast_path_parts
from kundresa.analytics._ibis import US_PER_DAY, epoch_us
from kundresa.analytics._means import mean_from_parts, parts
from kundresa.analytics._period import Period
from kundresa.analytics.touchpoints import EVENT_ORDER, kept_tagged, match_expr, tag_events
from kundresa.model.events import CUSTOMER, EVENT, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Callable

    import ibis.expr.types as ir

    from kundresa.model.journey import Journey

__all__ = [
    "StagedRows",
    "fits",
    "moves_frame",
    "stage_facts",
    "staged_rows",
    "time_by_stage",
    "walk_parts",
]

SHIFT = 6
"""Bits of the stage index in a packed row (``us << SHIFT | stage``): up to 63 stages."""

_I64 = np.iinfo(np.int64)
NONE = _I64.min


def fits(events: ir.Table, journey: Journey) -> bool:
    """Whether the stage analysis of ``events`` takes the fast path: DuckDB, the fast path
    allowed (:func:`kundresa.analytics._fast.fast_path`) and fewer than 64 stages. Inputs of
    more events than one part holds (``KUNDRESA_FAST_PATH_ROWS``) are walked part by part
    (:func:`walk_parts`)."""
    return len(journey.stages) < (1 << SHIFT) and fast_path(events)


def walk_parts(
    events: ir.Table, journey: Journey, period: Period, *, ids: bool = False
) -> tuple[dict[str, np.ndarray], pa.Array | None]:
    """:func:`staged_rows` and :func:`stage_facts` of ``events``, in bounded memory.

    ``events`` are split by a hash of the customer id into
    :func:`~kundresa.analytics._fast.fast_path_parts` parts (one per
    ``KUNDRESA_FAST_PATH_ROWS`` events); each part's staged rows are fetched and walked, then
    dropped, so only one part's rows are in memory at once. A customer's events all fall in
    one part, so every per-customer fact (stages, ``nth`` counts, visits) is the one a single
    walk gives; the parts' facts are concatenated, customer indexes shifted past the earlier
    parts' customers (customers come part by part, not in one walk's order).

    Returns
    -------
    tuple
        The facts (:func:`stage_facts`' dict) and, with ``ids``, the customer id of each
        walked customer (a pyarrow string array, in the facts' customer order), else None.
    """
    n_stages = len(journey.stages)
    parts = fast_path_parts(events)
    if parts == 1:
        rows = staged_rows(events, journey, ids=ids)
        return stage_facts(rows, n_stages, period), rows.customers
    h = events[CUSTOMER].hash()
    part = ((h % parts) + parts) % parts
    # Scanned once for all parts, and only when a part is grouped (a store read needs none):
    # each part's rows fit in the whole span.
    span = functools.cache(lambda: _span(events))
    facts: list[dict[str, np.ndarray]] = []
    names: list[pa.Array] = []
    for p in range(parts):
        rows = staged_rows(events.filter(part == p), journey, ids=ids, span=span)
        facts.append(stage_facts(rows, n_stages, period))
        if rows.customers is not None:
            names.append(rows.customers)
        del rows
    return _concat_facts(facts), (pa.concat_arrays(names) if ids else None)


def _concat_facts(facts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The facts of several walks as one walk's: each walk's ``customer`` indexes shifted by
    the customers of the walks before it. The walks' arrays are taken out of ``facts`` as
    they are copied (the dicts are left empty), so that at most one fact's parts sit beside
    the joined arrays (at 100M events the facts take gigabytes)."""
    shift = np.cumsum([0, *(len(f["highest"]) for f in facts[:-1])])
    out: dict[str, np.ndarray] = {}
    for key in list(facts[0]):
        pieces = [f.pop(key) for f in facts]
        if key == "customer":
            for piece, s in zip(pieces, shift, strict=True):
                piece += s
        out[key] = np.concatenate(pieces)
        del pieces
    return out


@dataclass(frozen=True)
class StagedRows:
    """Staged events in each customer's event order.

    ``bounds`` (``int64[c + 1]``: customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``),
    ``us`` and ``stage`` (``int64[n]``: microseconds since 1970 and the 1-based stage index)
    and, when asked for, ``customers`` (the ``c`` customer ids, a pyarrow array)."""

    bounds: npt.NDArray[np.int64]
    us: npt.NDArray[np.int64]
    stage: npt.NDArray[np.int64]
    customers: pa.Array | None


def _offsets(lists: pa.ListArray | pa.LargeListArray) -> npt.NDArray[np.int64]:
    offsets = lists.offsets.to_numpy().astype(np.int64)
    return offsets - offsets[0]


def staged_rows(
    events: ir.Table,
    journey: Journey,
    *,
    ids: bool = False,
    span: Callable[[], tuple[int | None, int | None]] | None = None,
) -> StagedRows:
    """The staged events of ``events`` (touchpoints tagged on the whole history), in each
    customer's event order (time; ties by event name, event id, session id, channel, value).

    DuckDB evaluates each touchpoint's ``event`` and ``where`` on every event (one ``CASE`` on
    the event name). From a journey-ordered warehouse (:func:`_stored_rows`) the rows come in
    the event order already; otherwise DuckDB groups the events that fit one into one list of
    packed ``int64`` rows per customer (time and which touchpoints fit; a hash aggregation, no
    sort); each list is sorted in the compiled
    :func:`~kundresa.analytics._stage_kernels.sort_runs`, and
    :func:`~kundresa.analytics._stage_kernels.assign_stages` counts the ``nth`` touchpoints and
    gives each event its stage as :func:`~kundresa.analytics.touchpoints.tag_events` does. When
    a customer has events that fit different touchpoints at one instant, only the full tie rule
    can order them: the rows are then read again in DuckDB's ``ORDER BY`` customer and event
    order. ``ids`` also returns the customer ids. ``span``: a function giving the first and last
    event's microseconds since 1970 of ``events``, or of a table they are part of
    (:func:`_span`), called only when the rows are grouped (the caller's scan is shared).

    When the memo in use already keeps the tagged events
    (:func:`~kundresa.analytics.touchpoints.kept_tagged`), their stages are read from it
    instead (the same rows; customers without a staged event are then left out, which the
    stage walk counts as nothing either way).
    """
    from kundresa.analytics._stage_kernels import assign_stages

    kept = kept_tagged(events, journey)
    if kept is not None:
        return _rows_of_tagged(kept, ids=ids)
    plan = _TagPlan.of(journey)
    if plan is None:
        return _tagged_rows(events, journey, ids=ids)
    t = events
    code = _code_expr(t, journey, plan)
    stored = _stored_rows(events, code, plan, ids=ids)
    if stored is not None:
        return stored
    t = t.select(CUSTOMER, *EVENT_ORDER, _us=epoch_us(t[TIMESTAMP]), _c=code)
    # The time span of all events (one column scanned), so that packed rows cannot overflow.
    lo, hi = span() if span is not None else _span(events)
    if lo is None or hi is None:
        nothing = np.zeros(0, np.int64)
        return StagedRows(np.zeros(1, np.int64), nothing, nothing, _no_ids(ids))
    if (hi - lo).bit_length() + plan.bits > 62:
        return _tagged_rows(events, journey, ids=ids)
    # Null for events that fit no touchpoint: the list aggregation leaves them out (filtering
    # the rows first would make DuckDB evaluate every touchpoint's condition twice).
    packed = ibis.ifelse(
        t._c != plan.none, ((t._us - lo) * (1 << plan.bits) + t._c).cast("int64"), None
    )
    bounds, values, customers = _fetch(t, packed, plan.bits, ids=ids)
    us = (values >> plan.bits) + lo
    stage = assign_stages(bounds, values & ((1 << plan.bits) - 1), *plan.arrays())
    keep = stage > 0
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    return StagedRows(kept_before[bounds], us[keep], stage[keep], customers)


def _code_expr(t: ir.Table, journey: Journey, plan: _TagPlan) -> ir.IntegerValue:
    """Each event's packed touchpoint code (:class:`_TagPlan`), as one ``CASE`` on the event
    name: a branch per name some touchpoint lists tests only the ``where`` of the touchpoints
    that take that name (or any name), so that DuckDB reads properties only for the events
    that can fit (a flat expression evaluates every condition on every event)."""
    tps = journey.touchpoints
    named = list(dict.fromkeys(e for tp in tps if tp.match.events for e in tp.match.events))

    def code_for(name: str | None) -> ir.IntegerValue:
        def takes(k: int) -> bool:
            listed = tps[k].match.events
            return listed is None or (name is not None and name in listed)

        def fits(k: int) -> ir.BooleanValue:
            return match_expr(t, replace(tps[k].match, events=None))

        code: ir.IntegerValue = ibis.literal(plan.none, type="int64")
        for p in reversed(range(len(plan.plain))):
            k = plan.plain[p]
            if takes(k):
                code = fits(k).ifelse(p, code) if tps[k].match.where else ibis.literal(p)
        for j, k in enumerate(plan.nth):
            if takes(k):
                code = code + fits(k).ifelse((plan.none + 1) << j, 0)
        return code.cast("int64")

    if not named:
        return code_for(None)
    return ibis.cases(*((t[EVENT] == e, code_for(e)) for e in named), else_=code_for(None))


def _stored_rows(
    events: ir.Table, code: ir.IntegerValue, plan: _TagPlan, *, ids: bool
) -> StagedRows | None:
    """:func:`staged_rows` read from the journey-ordered store
    (:func:`kundresa.analytics._ordered.ordered_rows`: a scan in storage order, no grouping
    and no sort); None when the store cannot give the rows (the caller groups them).

    Within a customer the store order is the event order (time, event name, event id,
    session id, channel, value) followed by row key, so each
    customer's rows come in the order :func:`~kundresa.analytics.touchpoints.tag_events`
    numbers them: ties at one instant need no second read."""
    from kundresa.analytics._ordered import ordered_rows
    from kundresa.analytics._stage_kernels import assign_stages

    stored = ordered_rows(events.mutate(_sc=code), ["_sc"])
    if stored is None:
        return None
    codes = stored.data["_sc"].to_numpy().astype(np.int64, copy=False)
    us = stored.data["_us"].to_numpy().astype(np.int64, copy=False)
    stage = assign_stages(stored.bounds, codes, *plan.arrays())
    keep = stage > 0
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    customers = stored.customers if ids else None
    return StagedRows(kept_before[stored.bounds], us[keep], stage[keep], customers)


def _span(events: ir.Table) -> tuple[int | None, int | None]:
    """The first and last event's microseconds since 1970 (None, None without events)."""
    whole = epoch_us(events[TIMESTAMP])
    span = events.aggregate(lo=whole.min(), hi=whole.max()).to_pyarrow()
    return span["lo"][0].as_py(), span["hi"][0].as_py()


def _no_ids(ids: bool) -> pa.Array | None:
    return pa.array([], pa.string()) if ids else None


def _fetch(
    t: ir.Table, packed: ir.IntegerValue, shift: int, *, ids: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], pa.Array | None]:
    """Each customer's ``packed`` rows (``time << shift | payload``; null: not read), sorted
    by time; rows at one instant with different payloads in DuckDB's full event order."""
    from kundresa.analytics._stage_kernels import sort_runs

    grouped = t.group_by(CUSTOMER).aggregate(_p=packed.collect())
    arrow = grouped.select(*([CUSTOMER] if ids else []), "_p").to_pyarrow().combine_chunks()
    lists = arrow["_p"].combine_chunks()
    bounds = _offsets(lists)
    values = np.array(lists.flatten().to_numpy(zero_copy_only=False), dtype=np.int64)
    customers: pa.Array | None = arrow[CUSTOMER].combine_chunks() if ids else None
    if sort_runs(values, bounds, shift):
        t = t.filter(packed.notnull())
        ordered = (
            t.order_by([t[CUSTOMER], *(t[c] for c in EVENT_ORDER)])
            .select(CUSTOMER, _p=packed)
            .to_pyarrow()
            .combine_chunks()
        )
        who = ordered[CUSTOMER].combine_chunks()
        bounds = customer_bounds(who)
        values = np.asarray(ordered["_p"].to_numpy(), dtype=np.int64)
        customers = who.take(pa.array(bounds[:-1])) if ids else None
    return bounds, values, customers


def _tagged_rows(events: ir.Table, journey: Journey, *, ids: bool) -> StagedRows:
    """:func:`staged_rows` with the stages tagged by DuckDB
    (:func:`~kundresa.analytics.touchpoints.tag_events`, ``nth`` as window sums): for
    journeys whose touchpoint combinations do not fit a packed row."""
    return _rows_of_tagged(tag_events(events, journey), ids=ids)


def _rows_of_tagged(tagged: ir.Table, *, ids: bool) -> StagedRows:
    """The staged rows of a table :func:`~kundresa.analytics.touchpoints.tag_events` made
    (customers without a staged event are left out; the stage walk counts nothing for
    them)."""
    t = tagged.filter(tagged.stage_index.notnull())
    packed = (epoch_us(t[TIMESTAMP]) * (1 << SHIFT) + t.stage_index).cast("int64")
    bounds, values, customers = _fetch(t, packed, SHIFT, ids=ids)
    return StagedRows(bounds, values >> SHIFT, values & ((1 << SHIFT) - 1), customers)


@dataclass(frozen=True)
class _TagPlan:
    """How a packed row's payload says which touchpoints an event fits: ``code = nth_bits *
    (none + 1) + p``, where ``p`` is the first touchpoint without ``nth`` (file order) the
    event fits (``none`` = ``len(plain)`` if it fits none) and bit ``j`` of ``nth_bits`` says
    whether it fits the ``j``-th touchpoint with an ``nth``."""

    plain: tuple[int, ...]
    nth: tuple[int, ...]
    need: tuple[int, ...]
    stage_of: tuple[int, ...]
    bits: int

    @property
    def none(self) -> int:
        return len(self.plain)

    @classmethod
    def of(cls, journey: Journey) -> _TagPlan | None:
        """The plan, or None when the payload would not leave enough bits for the time."""
        tps = journey.touchpoints
        nth = tuple(k for k, tp in enumerate(tps) if tp.match.nth is not None and tp.match.nth > 1)
        plain = tuple(k for k in range(len(tps)) if k not in nth)
        bits = ((len(plain) + 1) << len(nth)).bit_length()
        if bits > 12:
            return None
        index = {s: i + 1 for i, s in enumerate(journey.stage_ids)}
        return cls(
            plain,
            nth,
            tuple(int(tps[k].match.nth or 1) for k in nth),
            tuple(index[tp.stage] for tp in tps),
            bits,
        )

    def arrays(self) -> tuple[npt.NDArray[np.int64], ...]:
        """``plain``, ``nth``, ``need`` and ``stage_of`` as arrays, for the kernel."""
        return tuple(
            np.asarray(a, dtype=np.int64).reshape(-1)
            for a in (self.plain, self.nth, self.need, self.stage_of)
        )


def period_us(period: Period) -> tuple[int, int]:
    """The period ``[start, end)`` in microseconds since 1970 (open sides at the ``int64``
    bounds)."""
    epoch = pd.Timestamp("1970-01-01")

    def us(instant: Any) -> int:
        return int((pd.Timestamp(instant) - epoch) // pd.Timedelta(microseconds=1))

    lo = us(period.start) if period.start is not None else int(_I64.min) + 1
    hi = us(period.end) if period.end is not None else int(_I64.max)
    return lo, hi


def stage_facts(rows: StagedRows, n_stages: int, period: Period) -> dict[str, np.ndarray]:
    """:func:`~kundresa.analytics._stage_kernels.stage_walk` of ``rows`` with ``period``
    counted."""
    from kundresa.analytics._stage_kernels import stage_walk

    lo, hi = period_us(period)
    return stage_walk(rows.bounds, rows.us, rows.stage, n_stages, lo, hi)


def exact_medians(keys: npt.NDArray[np.int64], values: npt.NDArray[Any]) -> dict[int, float]:
    """Exact median of ``values`` per key: the middle value, or the mean of the two middle
    ones (as :func:`kundresa.analytics._ibis.exact_median` defines it)."""
    if not len(keys):
        return {}
    # Group the values by key (a stable radix sort of the key's rank when there are few
    # keys), then select each group's middle values (np.partition: linear, no full sort).
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo < 2**15:  # a small key range (stage and move indices, group codes): counted
        present = np.flatnonzero(np.bincount(keys - lo))
        known = present + lo
        at = np.zeros(hi - lo + 1, np.int64)
        at[present] = np.arange(len(present), dtype=np.int64)
        rank = at[keys - lo]
    else:
        known, rank = np.unique(keys, return_inverse=True)
        rank = rank.reshape(-1)
    small = rank.astype(np.int16) if len(known) < 2**15 else rank
    order = np.argsort(small, kind="stable")
    ends = np.cumsum(np.bincount(rank, minlength=len(known)))
    out: dict[int, float] = {}
    start = 0
    for key, end in zip(known.tolist(), ends.tolist(), strict=True):
        n = end - start
        mid = [(n - 1) // 2, n // 2]
        part = np.partition(values[order[start:end]], mid)
        low, high = part[mid[0]], part[mid[1]]
        out[int(key)] = float(low) if n % 2 else (float(low) + float(high)) / 2
        start = end
    return out


def _in_period(f: dict[str, np.ndarray], period: Period) -> npt.NDArray[np.bool_]:
    lo, hi = period_us(period)
    entered = f["entered"]
    return (entered >= lo) & (entered < hi)


def moves_frame(
    f: dict[str, np.ndarray], stage_ids: list[str], period: Period, *, ends: bool
) -> pd.DataFrame:
    """The transition matrix's counts before shaping: ``from_stage``, ``to_stage``,
    ``count``, ``customers`` and ``median_seconds`` (in microseconds), one row per move seen
    in the period (see :func:`kundresa.analytics.journeys.transition_matrix`)."""
    from kundresa.analytics._stage_kernels import distinct_per_key
    from kundresa.analytics.journeys import END, START

    n = len(stage_ids)
    names = np.array(["", *stage_ids], dtype=object)
    inside = _in_period(f, period)
    cust, stage, prev = f["customer"], f["stage"], f["previous"]
    frames: list[pd.DataFrame] = []

    def counted(mask: npt.NDArray[np.bool_], key: npt.NDArray[np.int64], size: int) -> Any:
        k = key[mask]
        return np.bincount(k, minlength=size), distinct_per_key(cust, key, mask, size)

    moving = inside & (prev > 0)
    size = (n + 1) * (n + 1)
    key = prev * (n + 1) + stage
    count, customers = counted(moving, key, size)
    gaps = (f["entered"] - f["previous_entered"])[moving]
    medians = exact_medians(key[moving], gaps)
    seen = np.flatnonzero(count)
    frames.append(
        pd.DataFrame(
            {
                "from_stage": names[seen // (n + 1)],
                "to_stage": names[seen % (n + 1)],
                "count": count[seen],
                "customers": customers[seen],
                "median_seconds": [medians[int(k)] for k in seen],
            }
        )
    )
    if ends:
        _, hi = period_us(period)
        left = f["left"]
        still = left == NONE
        if period.end is not None:
            still = still | (left >= hi)
        for mask, column, other in (
            (inside & (prev == 0), "to_stage", ("from_stage", START)),
            (inside & still, "from_stage", ("to_stage", END)),
        ):
            count, customers = counted(mask, stage, n + 1)
            seen = np.flatnonzero(count)
            frames.append(
                pd.DataFrame(
                    {
                        column: names[seen],
                        "count": count[seen],
                        "customers": customers[seen],
                        other[0]: other[1],
                    }
                )
            )
    nonempty = [p for p in frames if len(p)]
    return pd.concat(nonempty, ignore_index=True) if nonempty else frames[0].iloc[0:0]


def time_by_stage(
    f: dict[str, np.ndarray], stage_ids: list[str], period: Period
) -> dict[str, dict[str, Any]]:
    """Per stage id with visits: ``customers``, ``visits``, ``left``, ``mean_days`` (days,
    exact: :mod:`kundresa.analytics._means`) and ``median_days`` (microseconds) of the visits
    entered in the period (see
    :func:`kundresa.analytics.journeys.time_in_stage`)."""
    from kundresa.analytics._stage_kernels import distinct_per_key

    _, hi = period_us(period)
    inside = _in_period(f, period) if period.bounded else np.ones(len(f["stage"]), np.bool_)
    left = f["left"]
    gone = left != NONE
    if period.end is not None:
        gone = gone & (left < hi)
    cust, stage = f["customer"][inside], f["stage"][inside]
    gone = gone[inside]
    days = (left - f["entered"])[inside][gone]
    medians = exact_medians(stage[gone], days)
    size = len(stage_ids) + 1
    visits = np.bincount(stage, minlength=size)
    n_left = np.bincount(stage[gone], minlength=size)
    customers = distinct_per_key(cust, stage, np.ones(len(stage), np.bool_), size)
    out: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(stage_ids, start=1):
        if not visits[i]:
            continue
        mine = days[stage[gone] == i]
        out[s] = {
            "customers": int(customers[i]),
            "visits": int(visits[i]),
            "left": int(n_left[i]),
            "mean_days": mean_from_parts(*parts(mine), len(mine), US_PER_DAY),
            "median_days": medians.get(i),
        }
    return out


def funnel_numbers(
    f: dict[str, np.ndarray],
    stage_ids: list[str],
    segment: tuple[npt.NDArray[np.int64], list[Any]] | None = None,
) -> tuple[pd.DataFrame, dict[tuple[Any, ...], float]]:
    """The stage funnel's wide counts and medians (what
    :func:`kundresa.analytics.stages._stage_numbers` gives) from the walk's ``highest`` and
    ``first``. ``segment`` gives each walked customer's group code (-1: none) and the group
    values, for a breakdown; without it there is one group."""
    highest, first = f["highest"], f["first"]
    codes, groups = segment if segment is not None else (np.zeros(len(highest), np.int64), [None])
    g = len(groups)
    known = codes >= 0
    wide: dict[str, Any] = {"segment": groups} if segment is not None else {}
    for i in range(1, len(stage_ids) + 1):
        wide[f"reached_{i}"] = np.bincount(codes[known & (highest >= i)], minlength=g)
        wide[f"entered_{i}"] = np.bincount(codes[known & (first[:, i - 1] != NONE)], minlength=g)
    medians: dict[tuple[Any, ...], float] = {}
    for i in range(2, len(stage_ids) + 1):
        prev, cur = first[:, i - 2], first[:, i - 1]
        both = known & (prev != NONE) & (cur != NONE) & (cur >= prev)
        # As DuckDB computes it: epoch seconds as doubles, subtracted, in days.
        gap = (cur[both] / 1e6 - prev[both] / 1e6) / 86400.0
        for code, m in exact_medians(codes[both], gap).items():
            medians[(*([groups[code]] if segment is not None else []), i)] = m
    return pd.DataFrame(wide), medians
