"""Attribution tied to the journey: paths from a project's events, and stage attribution.

**Paths from events** (:func:`conversion_paths`). A *touch* is an event with a node at the
chosen level (its ``channel``, or its ``touchpoint`` through the journey) that is not itself a
conversion. A *conversion* is an event fitting the ``conversion`` step (an event name, ``a|b``,
``touchpoint:ID``), or the first entry into a stage (``stage:ID``). Each conversion closes a
path: the customer's touches after their previous conversion and no longer than ``lookback``
before this one, in event order (time; ties by event name, event id, session id, channel,
value); its value is the conversion event's ``value`` (0 when missing). A conversion
without any touch gets the path ``("(no touch)",)``. Touches after a customer's last
conversion (all of them, for customers who never convert) form a *null path*, limited to
``lookback`` before the customer's last touch.

With ``since``/``until`` (a date is midnight in the journey's ``timezone``) the conversions in
``[since, until)`` are counted, with their touches as far back as the lookback reaches (before
``since`` too); a null path counts when its last touch is in the period; touchpoints and stage
entries come from the whole history, and nothing after ``until`` is read.

**Stage attribution** (:func:`stage_attribution`). For each stage transition s → s+1 of the
journey, the population is the customers who entered stage s. A customer *progresses* when,
after first entering s, they have an event in a later stage (s+1 or beyond: skipping counts as
passing, as in the stage funnel). Their path is the touches from first entering s up to
progressing (for those who stall: up to their last event), within ``lookback`` of the end.
A customer without a touch in that span gets the path ``("(no touch)",)``, so every customer
in the stage counts. Progressing paths are conversions, stalled ones null paths; the Markov
model (exact removal effects) credits each channel or touchpoint with the progressions it
helps to cause. With ``since``/``until`` the population is the customers who first entered
stage s in the period, followed up to the period's end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kundresa.analytics._duration import parse_duration
from kundresa.analytics._ibis import cached
from kundresa.analytics._period import Period, When, project_timezone
from kundresa.analytics._portable import flag, float_literal
from kundresa.analytics.funnel import parse_step
from kundresa.analytics.touchpoints import (
    CUSTOMER_RANK,
    EVENT_ORDER,
    EVENT_RANK,
    is_kept,
    kept_tagged,
    tag_events,
)
from kundresa.attribution._paths import EncodedPaths
from kundresa.errors import UsageError
from kundresa.model.events import CHANNEL, CUSTOMER, EVENT, TIMESTAMP, VALUE

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "LEVELS",
    "NO_TOUCH",
    "conversion_paths",
    "conversion_paths_encoded",
    "stage_attribution",
    "stage_paths",
]

LEVELS = ("channel", "touchpoint")
NO_TOUCH = "(no touch)"
PATH_COLUMNS = ["path", "conversions", "value", "nulls", "ages"]
WHO = "_who"
"""The customer key of the rows the paths are made of (see :func:`_keyed`)."""


def _keyed(t: ir.Table) -> tuple[ir.Table, list[str]]:
    """``t`` with its customer key as :data:`WHO`, and the columns of its event order.

    The tagged events the warehouse keeps carry integer keys of the event order
    (:func:`~kundresa.analytics.touchpoints.with_event_ranks`): then the key is
    ``_customer_rank`` and the order ``_event_rank``, and the windows, joins and sorts below
    work on integers (on the 1M-event demo DuckDB sorts the rows in ~0.15 s instead of ~1 s
    on customer ids and event names, and reads no strings but the nodes). Other tables: the
    ``customer_id`` and :data:`~kundresa.analytics.touchpoints.EVENT_ORDER`. Both keys sort
    customers by id and both orders number a customer's events alike, so the paths come out
    the same, in the same order.
    """
    if CUSTOMER_RANK in t.columns and EVENT_RANK in t.columns:
        return t.mutate(**{WHO: t[CUSTOMER_RANK]}), [EVENT_RANK]
    return t.mutate(**{WHO: t[CUSTOMER]}), list(EVENT_ORDER)


def _lookback(lookback: str | float | None) -> float | None:
    if lookback is None:
        return None
    seconds = parse_duration(lookback, "lookback")
    if seconds <= 0:
        raise UsageError("lookback must be longer than zero")
    return seconds


def _node(t: ir.Table, level: str) -> ir.StringValue:
    if level not in LEVELS:
        raise UsageError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    return (t[CHANNEL] if level == "channel" else t["touchpoint"]).cast("string")


def _frame(rows: pa.Table, keys: list[str], *, ages: bool = True) -> pd.DataFrame:
    """Touch rows (sorted by ``keys``, then in event order) grouped into one path per key,
    with ages (unless not ``ages``: a column of ``None``). Groups are the runs of equal keys
    (found with Arrow and numpy; a pandas group-by with tuple aggregation takes seconds per
    million rows)."""
    n = rows.num_rows
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PATH_COLUMNS})
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for key in keys:
        col = rows.column(key)
        # Neighbours differ (a null next to a value, too; keys are never null here).
        differs = pc.fill_null(pc.not_equal(col.slice(1), col.slice(0, n - 1)), True)
        change[1:] |= differs.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(change)
    ends = [*starts[1:].tolist(), n]
    nodes = rows.column("node").to_pylist()
    age = rows.column("age").to_numpy(zero_copy_only=False).astype("float64").tolist()
    converted = rows.column("converted").to_numpy(zero_copy_only=False).astype("float64")
    values = rows.column("value").to_numpy(zero_copy_only=False).astype("float64")
    bounds = list(zip(starts.tolist(), ends, strict=True))
    conversions = np.maximum.reduceat(converted, starts)
    out = pd.DataFrame(
        {
            "path": [tuple(nodes[a:b]) for a, b in bounds],
            "conversions": conversions,
            "value": np.nan_to_num(np.fmax.reduceat(values, starts), nan=0.0),
            "nulls": 1.0 - conversions,
            "ages": [tuple(age[a:b]) for a, b in bounds] if ages else [None] * len(bounds),
        }
    )
    return out[PATH_COLUMNS]


def _order_names(order: list[str]) -> list[str]:
    """The names the event order's columns ``order`` take in touch rows (``_order0``…): the
    touch rows' ``value`` is the conversion's, while the event order holds the event's."""
    return [f"_order{i}" for i in range(len(order))]


def _order_keys(t: ir.Table, order: list[str]) -> dict[str, ir.Value]:
    """The event order's columns of ``t`` under :func:`_order_names`."""
    return {k: t[c] for k, c in zip(_order_names(order), order, strict=True)}


def _read_sorted(rows: ir.Table, keys: list[str], order: list[str]) -> pa.Table:
    """``rows`` read as Arrow, sorted by ``keys`` and then in event order (the columns
    ``order``, :func:`_keyed`) by the engine: the same order a stable pandas sort gives,
    without converting every column to Python objects first."""
    return rows.order_by([*keys, *order]).to_pyarrow()


def _distinct(keys: np.ndarray, size: int) -> np.ndarray:
    """``np.unique(keys)`` for integer keys in ``[0, size)``: marked in a boolean array when
    that is small (a pass over the keys; numpy's unique hashes or sorts them, ~0.1 s per
    million), else ``np.unique``."""
    if size > _MARKS:
        return np.unique(keys)
    seen = np.zeros(size, dtype=bool)
    seen[keys] = True
    return np.flatnonzero(seen).astype(keys.dtype, copy=False)


_MARKS = 1 << 26  # bytes of the boolean array _distinct may use (64 MiB)


def _not_in(values: pa.ChunkedArray | pa.Array, among: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Which of ``values`` are not among ``among`` (a hash lookup in Arrow)."""
    found = pc.is_in(values, value_set=pc.unique(among))
    return ~found.to_numpy(zero_copy_only=False).astype(bool)


def conversion_paths(
    events: ir.Table,
    *,
    conversion: str = "purchase",
    journey: Journey | None = None,
    level: str = "channel",
    lookback: str | float | None = "30d",
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """The paths to conversion (and the null paths) of every customer.

    Parameters
    ----------
    events
        Events in the canonical schema (an Ibis table).
    conversion
        What a conversion is: an event name (``purchase``, ``a|b``), ``touchpoint:ID``, or
        ``stage:ID`` (the first entry into the stage).
    journey
        Needed for the ``touchpoint`` level and for touchpoint or stage conversions.
    level
        ``channel`` (the events' channel) or ``touchpoint``.
    lookback
        Touches longer than this before the conversion (or the null path's end) are left
        out; ``None`` keeps them all.

    Returns
    -------
    pandas.DataFrame
        One row per path (a *paths frame*): ``path`` (tuple of nodes), ``conversions``
        (1 or 0), ``value``, ``nulls`` (1 - conversions) and ``ages`` (seconds from each touch
        to the conversion or the path's end).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01", "2025-01-05"],
    ...     "event": ["ad", "mail", "purchase", "ad", "visit"],
    ...     "channel": ["social", "email", "web", "search", None],
    ...     "value": [None, None, 99.0, None, None],
    ... }))
    >>> conversion_paths(events)[["path", "conversions", "value", "nulls"]]
                  path  conversions  value  nulls
    0  (social, email)          1.0   99.0    0.0
    1        (search,)          0.0    0.0    1.0
    """
    df, bare = _conversion_data(
        events, conversion, journey, level, lookback, since, until, timezone
    )
    paths = _frame(df, [WHO, "_seg"])
    bare = _untouched(df, bare)
    if len(bare):
        extra = pd.DataFrame(
            {
                "path": [(NO_TOUCH,)] * len(bare),
                "conversions": 1.0,
                "value": bare["value"].astype("float64").to_numpy(),
                "nulls": 0.0,
                "ages": [(0.0,)] * len(bare),
            }
        )
        paths = pd.concat([paths, extra], ignore_index=True) if len(paths) else extra
    return paths.reset_index(drop=True)


def conversion_paths_encoded(
    events: ir.Table,
    *,
    conversion: str = "purchase",
    journey: Journey | None = None,
    level: str = "channel",
    lookback: str | float | None = "30d",
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> EncodedPaths:
    """:func:`conversion_paths` encoded for the models at once
    (:func:`kundresa.attribution.models.compare_models` takes it as ``paths``): the same
    paths in the same order, as the arrays :func:`kundresa.attribution._paths.encode` makes
    of that frame, with every touch's age in one flat array, without a Python tuple per path
    (the paths of a million events take seconds to build and encode again).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01"],
    ...     "event": ["ad", "mail", "purchase", "ad"],
    ...     "channel": ["social", "email", "web", "search"],
    ... }))
    >>> enc = conversion_paths_encoded(events)
    >>> enc.channels.tolist(), enc.codes.tolist(), enc.lengths.tolist(), enc.conversions.tolist()
    (['email', 'search', 'social'], [2, 0, 1], [2, 1], [1.0, 0.0])
    """
    df, bare = _conversion_data(
        events, conversion, journey, level, lookback, since, until, timezone
    )
    bare = _untouched(df, bare)
    n = df.num_rows
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
        for key in (WHO, "_seg"):
            col = df.column(key)
            differs = pc.fill_null(pc.not_equal(col.slice(1), col.slice(0, n - 1)), True)
            change[1:] |= differs.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(change)
    nodes = pc.dictionary_encode(df.column("node").combine_chunks())
    found = nodes.dictionary.to_pylist()
    names = sorted({*found, *([NO_TOUCH] if len(bare) else [])})
    rank = {name: code for code, name in enumerate(names)}
    remap = np.array([rank[name] for name in found], dtype=np.int64)
    indices = nodes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    touched_codes = remap[indices] if n else np.zeros(0, np.int64)
    if n:
        converted = df.column("converted").to_numpy(zero_copy_only=False).astype("float64")
        values = df.column("value").to_numpy(zero_copy_only=False).astype("float64")
        conversions = np.maximum.reduceat(converted, starts)
        value = np.nan_to_num(np.fmax.reduceat(values, starts), nan=0.0)
        ages = df.column("age").to_numpy(zero_copy_only=False).astype("float64")
    else:
        conversions = value = ages = np.zeros(0)
    k = len(bare)
    lengths = np.concatenate([np.diff(np.append(starts, n)), np.ones(k)]).astype(np.int64)
    conversions = np.concatenate([conversions, np.ones(k)])
    return EncodedPaths(
        channels=np.asarray(names, dtype=object),
        codes=np.concatenate([touched_codes, np.full(k, rank.get(NO_TOUCH, 0))]).astype(np.int64),
        starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        lengths=lengths,
        conversions=conversions,
        value=np.concatenate([value, bare["value"].astype("float64").to_numpy()]),
        nulls=1.0 - conversions,
        ages=np.concatenate([ages, np.zeros(k)]),
    )


def _untouched(df: pa.Table, bare: pd.DataFrame) -> pd.DataFrame:
    """The conversions of ``bare`` without a touch row in ``df`` (no touch in the lookback):
    they still count, on a path of their own. Each (customer, segment) pair is one integer
    (the customer's code among both tables' ids, times the segments, plus the segment) and
    looked up with numpy (a pandas MultiIndex took most of a second at 1M events)."""
    if not (len(bare) and df.num_rows):
        return bare
    n = df.num_rows
    touched = df.column(WHO).combine_chunks()
    ids = pa.concat_arrays(
        [touched, pa.Array.from_pandas(bare[WHO], type=touched.type).cast(touched.type)]
    )
    code = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    seg = np.concatenate(
        [
            df.column("_seg").to_numpy(zero_copy_only=False).astype(np.int64),
            bare["_seg"].to_numpy(dtype="int64"),
        ]
    )
    key = code * (int(seg.max()) + 1) + seg
    return bare[~np.isin(key[n:], key[:n])]


def _conversion_data(
    events: ir.Table,
    conversion: str,
    journey: Journey | None,
    level: str,
    lookback: str | float | None,
    since: When,
    until: When,
    timezone: str | None,
) -> tuple[pa.Table, pd.DataFrame]:
    """The touch rows and the conversions of :func:`conversion_paths` (see
    :func:`_conversion_rows`)."""
    window = _lookback(lookback)
    step = parse_step(conversion)
    needs_journey = level == "touchpoint" or step.kind != "event"
    if needs_journey and journey is None:
        raise UsageError("touchpoint levels and touchpoint/stage conversions need a journey")
    if step.kind != "event" and journey is not None:
        known = journey.stage_ids if step.kind == "stage" else [t.id for t in journey.touchpoints]
        missing = [n for n in step.names if n not in known]
        if missing:
            raise UsageError(f"conversion {conversion!r}: no {step.kind} {missing[0]!r}")
    period = Period.parse(since, until, project_timezone(journey, timezone))
    if needs_journey and journey is not None:
        t = tag_events(events, journey)
    else:  # the kept tagged events, when there are: the same rows, with integer keys
        kept = kept_tagged(events, journey) if journey is not None else None
        t = events if kept is None else kept
    if period.end is not None:
        # What happens after the period cannot change a conversion in it: only the history
        # up to its end is read (tagging above saw all of it).
        t = t.filter(period.before_end(t[TIMESTAMP]))
    t, order = _keyed(t)
    column = {"event": EVENT, "touchpoint": "touchpoint", "stage": "stage"}[step.kind]
    fits = t[column].isin(list(step.names)).fill_null(False)
    if step.kind == "stage":
        first = ibis.cumulative_window(group_by=t[WHO], order_by=[t[c] for c in order])
        fits = fits & (flag(fits).sum().over(first) == 1)
    t = t.mutate(_conv=fits, _node=_node(t, level))
    t = t.filter(t._conv | t._node.notnull())
    cum = ibis.cumulative_window(group_by=t[WHO], order_by=[t[c] for c in order])
    t = t.mutate(_seg=flag(t._conv).sum().over(cum) - flag(t._conv))
    # The touches and the conversions both read the segments (a window over every customer's
    # events): computed once, as a narrow table, for the queries that follow.
    t = t.select(WHO, *dict.fromkeys([TIMESTAMP, *order, VALUE]), "_conv", "_node", "_seg")
    with cached(t) as segmented:
        df, bare = _conversion_rows(segmented, period, window, order)
    return df, bare


def _conversion_rows(
    t: ir.Table, period: Period, window: float | None, order: list[str]
) -> tuple[pa.Table, pd.DataFrame]:
    """The touch rows of :func:`conversion_paths` (sorted by customer, segment and event
    order) and its conversions (customer key, segment, time, value; sorted by customer and
    segment), from the events ``t``
    that are a conversion (``_conv``) or a touch (``_node``), numbered by segment (``_seg``),
    with the customer key and event order of :func:`_keyed`."""
    convs = t.filter(t._conv).select(
        WHO, _seg=t._seg, _at=t[TIMESTAMP], value=t[VALUE].fill_null(0.0)
    )
    if period.start is not None:
        # Conversions in the period; their touches may reach back before it (lookback).
        # A null path counts when its last touch falls in the period.
        seg_last = t.group_by([WHO, "_seg"]).aggregate(_end=t[TIMESTAMP].max())
        counted = seg_last.filter(seg_last._end >= period.start).select(WHO, "_seg")
        t = t.semi_join(counted, [WHO, "_seg"])
        convs = convs.filter(convs._at >= period.start)
    keys = _order_keys(t, order)
    touches = t.filter(~t._conv).select(WHO, "_seg", TIMESTAMP, **keys, node=t._node)
    seg_end = touches.group_by([WHO, "_seg"]).aggregate(_last=touches[TIMESTAMP].max())
    j = touches.left_join(convs, [WHO, "_seg"]).drop(f"{WHO}_right", "_seg_right")
    j = j.left_join(seg_end, [WHO, "_seg"]).drop(f"{WHO}_right", "_seg_right")
    end = ibis.coalesce(j._at, j._last)
    j = j.mutate(
        age=(end.epoch_seconds() - j[TIMESTAMP].epoch_seconds()).cast("float64"),
        converted=flag(j._at.notnull()),
    )
    if window is not None:
        j = j.filter(j.age <= window)
    rows = j.select(WHO, "_seg", *keys, "node", "age", "converted", "value")
    # Ordered, so that every call lists the paths without a touch in the same order (a
    # customer's conversions are one per segment: the pair is a key).
    return _read_sorted(rows, [WHO, "_seg"], list(keys)), convs.order_by([WHO, "_seg"]).to_pandas()


def stage_paths(
    events: ir.Table,
    journey: Journey,
    stage: str,
    *,
    level: str = "channel",
    lookback: str | float | None = "30d",
) -> pd.DataFrame:
    """The paths of customers who entered ``stage``: from first entering it to progressing
    past it (a conversion) or to their last event (a null path). See the module docstring.

    Returns a paths frame with one row per customer who entered the stage; a customer without
    a touch in that span (within the lookback) gets the path ``("(no touch)",)``.
    """
    if stage not in journey.stage_ids:
        raise UsageError(f"stage {stage!r} is not a stage of the journey")
    k = journey.stage_ids.index(stage) + 1
    if k == len(journey.stage_ids):
        raise UsageError(f"stage {stage!r} is the last stage: there is nothing to progress to")
    return _stage_paths(tag_events(events, journey), k, level, _lookback(lookback))


def _stage_paths(
    t: ir.Table,
    k: int,
    level: str,
    window: float | None,
    period: Period | None = None,
    *,
    ages: bool = True,
) -> pd.DataFrame:
    """:func:`stage_paths` of stage number ``k`` (1-based) from tagged events ``t``; with a
    ``period``, the customers who first entered the stage in it (``t`` ends at its end)."""
    return _stages_paths(t, [k], level, window, period, ages=ages)[k]


def _stages_paths(
    t: ir.Table,
    ks: list[int],
    level: str,
    window: float | None,
    period: Period | None = None,
    *,
    ages: bool = True,
) -> dict[int, pd.DataFrame]:
    """:func:`_stage_paths` of each stage number in ``ks``."""
    return {
        k: _paths_of(rows, population, ages=ages)
        for k, rows, population in _stage_rows(t, ks, level, window, period)
    }


def _stage_rows(
    t: ir.Table, ks: list[int], level: str, window: float | None, period: Period | None
) -> Iterator[tuple[int, pa.Table, pa.Table]]:
    """For each stage number in ``ks``: its touch rows (``_who``, the event order, ``node``,
    ``age``, ``converted``, ``value``; sorted by customer and event order) and its
    population (``_who``, ``_out``: every customer who entered the stage, sorted by
    customer), from one query for
    the spans and one for the touches of all the stages (the transitions of a journey share
    every scan). ``_who`` and the event order are those of :func:`_keyed`."""
    if not ks:
        return iter(())
    t, order = _keyed(t)
    staged = t.filter(t.stage_index.isin(ks))
    entered = staged.group_by([staged[WHO], staged.stage_index.name("_k")]).aggregate(
        _in=staged[TIMESTAMP].min()
    )
    if period is not None and period.start is not None:
        entered = entered.filter(entered._in >= period.start)
    joined = t.inner_join(entered, WHO)
    after = joined.filter(joined[TIMESTAMP] >= joined._in)
    # One row per customer and stage they entered: first entry, progression (the first later
    # event in a stage past it; null: stalled) and last event. Kept while the touches and the
    # population are read (both need it; computing it takes two passes over the events).
    spans = after.group_by([WHO, "_k"]).aggregate(
        _in=after._in.min(),
        _out=after[TIMESTAMP].min(where=after.stage_index > after._k),
        _last=after[TIMESTAMP].max(),
    )
    with cached(spans) as kept:
        every = _read_sorted(
            _touch_rows(t, kept, level, window, order),
            ["_k", WHO],
            _order_names(order),
        )
        # Ordered: every call lists the paths without a touch alike.
        people = kept.select("_k", WHO, "_out").order_by(["_k", WHO]).to_pyarrow()
    stage_of_row = every.column("_k").to_numpy(zero_copy_only=False)
    stage_of_person = people.column("_k").to_numpy(zero_copy_only=False)

    def each() -> Iterator[tuple[int, pa.Table, pa.Table]]:
        for k in ks:
            lo, hi = np.searchsorted(stage_of_row, [k, k + 1])
            yield k, every.slice(lo, hi - lo), people.filter(pa.array(stage_of_person == k))

    return each()


def _touch_rows(
    t: ir.Table, spans: ir.Table, level: str, window: float | None, order: list[str]
) -> ir.Table:
    """The touches of the customers in ``spans`` (``_who``, ``_k``, ``_in``, ``_out``,
    ``_last``) from the tagged events ``t`` (keyed by :func:`_keyed`), with their stage
    number ``_k`` and the event order's columns ``order``."""
    a = t.inner_join(spans, WHO)
    a = a.filter(a[TIMESTAMP] >= a._in)
    a = a.mutate(_node=_node(a, level))
    end = ibis.coalesce(a._out, a._last)
    touches = a.filter(a._node.notnull() & (a._out.isnull() | (a[TIMESTAMP] < a._out)))
    touches = touches.mutate(
        **_order_keys(touches, order),
        age=(end.epoch_seconds() - touches[TIMESTAMP].epoch_seconds()).cast("float64"),
        converted=flag(touches._out.notnull()),
        value=float_literal(0.0),
    )
    if window is not None:
        touches = touches.filter(touches.age <= window)
    return touches.select(
        "_k",
        WHO,
        *_order_names(order),
        node=touches._node,
        age=touches.age,
        converted=touches.converted,
        value=touches.value,
    )


def _encoded_of(df: pa.Table, population: pa.Table) -> EncodedPaths:
    """:func:`_paths_of` (without ages) encoded for the models at once, as
    :func:`~kundresa.attribution._paths.encode` encodes that frame (the same arrays), without
    making a Python tuple of every path."""
    n = df.num_rows
    touched = np.zeros(n, dtype=bool)
    if n:
        touched[0] = True
        who = df.column(WHO)
        differs = pc.fill_null(pc.not_equal(who.slice(1), who.slice(0, n - 1)), True)
        touched[1:] = differs.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(touched).astype(np.int64)
    lengths = np.diff(np.append(starts, n)).astype(np.int64)
    converted = df.column("converted").to_numpy(zero_copy_only=False).astype("float64")
    conversions = np.maximum.reduceat(converted, starts) if n else np.zeros(0)
    nodes = pc.dictionary_encode(df.column("node").combine_chunks())
    found = nodes.dictionary.to_pylist()
    indices = nodes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # Every customer in the stage counts: those without a touch get ("(no touch)",).
    if n:
        bare = population.filter(
            pa.array(_not_in(population.column(WHO), df.column(WHO).take(starts)))
        )
    else:
        bare = population
    bare_moved = pc.is_valid(bare.column("_out")).to_numpy(zero_copy_only=False)
    names = sorted({*found, *([NO_TOUCH] if bare.num_rows else [])})
    rank = {name: code for code, name in enumerate(names)}
    remap = np.array([rank[name] for name in found], dtype=np.int64)
    codes = np.concatenate(
        [
            remap[indices] if n else np.zeros(0, np.int64),
            np.full(bare.num_rows, rank.get(NO_TOUCH, 0)),
        ]
    ).astype(np.int64)
    lengths = np.concatenate([lengths, np.ones(bare.num_rows, np.int64)])
    conversions = np.concatenate([conversions, bare_moved.astype("float64")])
    return EncodedPaths(
        channels=np.asarray(names, dtype=object),
        codes=codes,
        starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        lengths=lengths,
        conversions=conversions,
        value=np.zeros(len(lengths)),
        nulls=1.0 - conversions,
        ages=None,
    )


def _paths_of(df: pa.Table, population: pa.Table, *, ages: bool) -> pd.DataFrame:
    """The paths frame of one stage: the touch rows ``df`` (sorted by customer and event
    order) and its ``population`` (``_who``, ``_out`` of every customer who entered)."""
    paths = _frame(df, [WHO], ages=ages)
    # Every customer in the stage counts, touched or not: those without a touch (in the
    # lookback) get the path ("(no touch)",), progressing or not.
    bare = (
        population.filter(pa.array(_not_in(population.column(WHO), df.column(WHO))))
        if df.num_rows
        else population
    )
    if bare.num_rows:
        converted = pc.is_valid(bare.column("_out")).to_numpy(zero_copy_only=False)
        converted = converted.astype("float64")
        extra = pd.DataFrame(
            {
                "path": [(NO_TOUCH,)] * bare.num_rows,
                "conversions": converted,
                "value": 0.0,
                "nulls": 1.0 - converted,
                "ages": [(0.0,)] * bare.num_rows,
            }
        )
        paths = pd.concat([paths, extra], ignore_index=True) if len(paths) else extra
    return paths.reset_index(drop=True)


def stage_attribution(
    events: ir.Table,
    journey: Journey,
    *,
    level: str = "channel",
    lookback: str | float | None = "30d",
    order: int = 1,
    lang: str | None = None,
    since: When = None,
    until: When = None,
) -> pd.DataFrame:
    """Which channels (or touchpoints) move customers from each stage to the next.

    For every transition s → s+1, the customers who entered s are split into those who
    progress (a later event in s+1 or beyond) and those who stall; their paths (see the
    module docstring) are credited by the Markov model with exact removal effects, the
    progressions being the conversions. Transitions nobody entered are left out.

    Parameters
    ----------
    events
        Events in the canonical schema (an Ibis table).
    journey
        The journey: its stages, and the touchpoints that map events to them.
    level
        ``channel`` (the events' channel) or ``touchpoint``.
    lookback
        Touches longer than this before progressing (or the last event) are left out.
    order
        The Markov chain's order, 1 to 4.
    lang
        The language of the ``label`` column (default: the journey's).

    Returns
    -------
    pandas.DataFrame
        One row per transition and node: ``from_stage``, ``to_stage``, ``label`` (``from →
        to``), ``customers`` (who entered the stage), ``progressed``, ``channel`` (or
        touchpoint), ``conversions`` (progressions credited), ``share``, ``removal_effect``,
        ``progressed_with`` and ``stalled_with`` (customers whose path holds the node) and
        ``progression_rate_with``.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> from kundresa.model import parse_journey
    >>> journey, _ = parse_journey('''
    ... kundresa: 1
    ... name: Shop
    ... template: buyers-journey
    ... touchpoints:
    ...   - {id: ad, stage: awareness, match: {event: ad}}
    ...   - {id: demo, stage: consideration, match: {event: demo}}
    ...   - {id: buy, stage: decision, match: {event: buy}}
    ... ''')
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c", "c"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-01",
    ...                   "2025-01-03"],
    ...     "event": ["ad", "demo", "ad", "ad", "buy"],
    ...     "channel": ["search", None, "social", "search", None],
    ... }))
    >>> stage_attribution(events, journey, lang="en")[
    ...     ["from_stage", "customers", "progressed", "channel", "conversions"]]
          from_stage  customers  progressed     channel  conversions
    0      awareness          3           2      search          2.0
    1      awareness          3           2      social          0.0
    2  consideration          1           0  (no touch)          0.0
    """
    window = _lookback(lookback)
    period = Period.parse(since, until, journey.timezone)
    tagged = tag_events(events, journey)
    if period.end is not None:
        tagged = tagged.filter(period.before_end(tagged[TIMESTAMP]))
    if is_kept(tagged):  # already a table: every transition's query reads it
        return _stage_attribution(tagged, journey, level, window, order, lang, period)
    with cached(tagged) as kept:
        return _stage_attribution(kept, journey, level, window, order, lang, period)


def _stage_attribution(
    tagged: ir.Table,
    journey: Journey,
    level: str,
    window: float | None,
    order: int,
    lang: str | None,
    period: Period | None = None,
) -> pd.DataFrame:
    from kundresa.attribution._markov import markov_encoded

    if isinstance(order, bool) or not isinstance(order, int | np.integer) or not 1 <= order <= 4:
        raise UsageError(f"order must be 1, 2, 3 or 4, not {order!r}")
    rows: list[pd.DataFrame] = []
    ids = list(journey.stage_ids)
    # The Markov chain reads no ages: the paths are encoded straight from the rows.
    every = {
        k: _encoded_of(df, population)
        for k, df, population in _stage_rows(
            tagged, list(range(1, len(ids))), level, window, period
        )
    }
    for i, s in enumerate(ids[:-1]):
        enc = every[i + 1]
        if enc.n_paths == 0:
            continue
        progressed = float(enc.conversions.sum())
        result = markov_encoded(enc, order=int(order))
        df = result.attribution[["channel", "conversions", "share"]].copy()
        effects = result.removal_effects.set_index("channel")["removal_effect"]
        df["removal_effect"] = df["channel"].map(effects).astype("float64")
        # Customers whose path holds each node, progressing or not: each (path, node) pair
        # once, counted per node code.
        n = enc.n_channels
        pairs = _distinct(enc.path_of_touch() * n + enc.codes, enc.n_paths * n)
        node, moved = pairs % n, enc.conversions[pairs // n] > 0
        code = np.searchsorted(enc.channels, df["channel"].to_numpy(dtype=object))
        df["progressed_with"] = np.bincount(node[moved], minlength=n)[code]
        df["stalled_with"] = np.bincount(node[~moved], minlength=n)[code]
        total_with = df["progressed_with"] + df["stalled_with"]
        df["progression_rate_with"] = (df["progressed_with"] / total_with).where(total_with > 0)
        df.insert(0, "progressed", progressed)
        df.insert(0, "customers", float(enc.n_paths))
        label = f"{journey.stage_label(s, lang)} → {journey.stage_label(ids[i + 1], lang)}"
        df.insert(0, "label", label)
        df.insert(0, "to_stage", ids[i + 1])
        df.insert(0, "from_stage", s)
        rows.append(df)
    columns = [
        "from_stage",
        "to_stage",
        "label",
        "customers",
        "progressed",
        "channel",
        "conversions",
        "share",
        "removal_effect",
        "progressed_with",
        "stalled_with",
        "progression_rate_with",
    ]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    out = pd.concat(rows, ignore_index=True)[columns]
    for c in ("customers", "progressed", "progressed_with", "stalled_with"):
        out[c] = out[c].astype("int64")
    return out
