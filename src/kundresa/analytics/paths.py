"""Paths: the sequences customers actually take, and the directly-follows graph.

Every event becomes a **node** at the chosen ``level``: its ``event`` name, its
``touchpoint`` or ``stage`` (through the journey; events no touchpoint fits are left out), or
its ``channel`` (events without one are left out). A customer's nodes, in event order (time;
ties by event name, event id, session id, channel, value), are cut into **sessions** where
``session_gap`` or more passes between two nodes (30 minutes by default, as web analytics
does; ``None`` keeps one sequence per customer). With ``collapse_repeats`` consecutive equal
nodes count once.

- :func:`paths` counts the **variants**: the distinct first ``steps`` nodes of each sequence,
  or those after a ``start`` point, or those before an ``end`` point.
- :func:`path_links` gives the same sequences as Sankey links (step k → step k+1), with
  ``(end)`` where a sequence stops before the depth.
- With ``since``/``until`` every analysis here reads the events in ``[since, until)``,
  tagged with touchpoints on the customer's whole history (so ``nth`` counts from the first
  event ever); sequences and sessions are cut from those events only.
- :func:`directly_follows` is the directly-follows graph (DFG) of process mining: for each
  pair of nodes, how often one directly follows the other within a sequence, by how many
  customers, and the median and mean time between them; ``(start)`` and ``(end)`` mark the
  first and last node of each sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from kundresa.analytics._duration import parse_duration
from kundresa.analytics._fast import fast_path, fast_path_parts
from kundresa.analytics._ibis import US_PER_SECOND, cached, epoch_us, exact_median, mean_parts
from kundresa.analytics._means import means_of_parts, seconds_from_parts
from kundresa.analytics._period import Period, When, project_timezone
from kundresa.analytics._portable import flag
from kundresa.analytics.funnel import Step, parse_step
from kundresa.analytics.touchpoints import EVENT_ORDER, keep, tag_events
from kundresa.errors import UsageError
from kundresa.model.events import CHANNEL, CUSTOMER, EVENT, TIMESTAMP

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = ["END", "LEVELS", "START", "directly_follows", "path_links", "paths"]

START = "(start)"
END = "(end)"
LEVELS = ("event", "touchpoint", "stage", "channel")
MAX_STEPS = 20
_SEP = " > "


def _check_level(level: str, journey: Journey | None) -> None:
    if level not in LEVELS:
        raise UsageError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    if level in ("touchpoint", "stage") and journey is None:
        raise UsageError(f"level {level!r} needs a journey (the project's journey.yaml)")


def _point(text: str | None, option: str, journey: Journey | None) -> Step | None:
    if text is None:
        return None
    try:
        step = parse_step(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from exc
    if step.kind != "event":
        if journey is None:
            raise UsageError(f"{option} {text!r} needs a journey (the project's journey.yaml)")
        known = journey.stage_ids if step.kind == "stage" else [t.id for t in journey.touchpoints]
        unknown = [n for n in step.names if n not in known]
        if unknown:
            raise UsageError(f"{option} {text!r}: no {step.kind} {unknown[0]!r} in the journey")
    return step


def _fits(t: ir.Table, step: Step) -> ir.BooleanValue:
    column = {"event": EVENT, "touchpoint": "touchpoint", "stage": "stage"}[step.kind]
    names = list(step.names)
    return t[column].isin(names).fill_null(False)


def _nodes(
    events: ir.Table,
    *,
    level: str,
    journey: Journey | None,
    session_gap: str | float | None,
    collapse_repeats: bool,
    points: list[Step],
    period: Period | None = None,
    nodes_only: bool = False,
) -> ir.Table:
    """The node rows: ``customer_id``, ``_seq`` (session number), ``_pos`` (0-based),
    ``node``, ``timestamp`` and ``_m<i>`` flags for each point. Touchpoints are tagged on
    the whole history; then only the events in ``period`` are kept. With ``nodes_only``,
    the rows before sessions and places are numbered (no ``_seq``, ``_pos``)."""
    _check_level(level, journey)
    t = events
    if journey is not None and (
        level in ("touchpoint", "stage") or any(p.kind != "event" for p in points)
    ):
        t = tag_events(t, journey)
    if period is not None and period.bounded:
        t = period.filter(t)
    node = {"event": t[EVENT], "channel": t[CHANNEL]}.get(level)
    if node is None:
        node = t[level]
    t = t.mutate(node=node.cast("string"))
    t = t.mutate(**{f"_m{i}": _fits(t, p) for i, p in enumerate(points)})
    t = t.filter(t.node.notnull())
    if nodes_only:
        return t
    if session_gap is None:
        # One sequence per customer: no session windows to compute.
        t = t.mutate(_seq=ibis.literal(1, type="int64"))
    else:
        gap = parse_duration(session_gap, "session_gap")
        if gap <= 0:
            raise UsageError("session_gap must be longer than zero")
        w = ibis.window(group_by=t[CUSTOMER], order_by=[t[c] for c in EVENT_ORDER])
        prev_ts = t[TIMESTAMP].lag().over(w)
        gap_us = epoch_us(t[TIMESTAMP]) - epoch_us(prev_ts)
        t = t.mutate(_new=flag(prev_ts.isnull() | (gap_us >= round(gap * US_PER_SECOND))))
        cum = ibis.cumulative_window(group_by=t[CUSTOMER], order_by=[t[c] for c in EVENT_ORDER])
        t = t.mutate(_seq=t._new.sum().over(cum))
    if collapse_repeats:
        sw = ibis.window(group_by=[t[CUSTOMER], t._seq], order_by=[t[c] for c in EVENT_ORDER])
        t = t.filter((t.node.lag().over(sw) != t.node).fill_null(True))
    sw = ibis.window(group_by=[t[CUSTOMER], t._seq], order_by=[t[c] for c in EVENT_ORDER])
    return t.mutate(_pos=ibis.row_number().over(sw))


def _check_steps(steps: object) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"steps must be a whole number from 1 to {MAX_STEPS}")


def _anchored(
    events: ir.Table,
    *,
    level: str,
    journey: Journey | None,
    start: str | None,
    end: str | None,
    steps: int,
    session_gap: str | float | None,
    collapse_repeats: bool,
    period: Period | None = None,
) -> ir.Table:
    """Node rows kept for the paths, with ``_k`` (0-based step in the path) and ``_more``
    (whether the sequence goes on beyond what is kept, on the cut side)."""
    _check_steps(steps)
    s_point = _point(start, "start", journey)
    e_point = _point(end, "end", journey)
    points = [p for p in (s_point, e_point) if p is not None]
    t = _nodes(
        events,
        level=level,
        journey=journey,
        session_gap=session_gap,
        collapse_repeats=collapse_repeats,
        points=points,
        period=period,
    )
    seq = ibis.window(group_by=[t[CUSTOMER], t._seq])
    t = t.mutate(_len=t._pos.max().over(seq) + 1)
    if s_point is not None:
        t = t.mutate(_a=t._pos.min(where=t._m0).over(seq))
        t = t.filter(t._a.notnull() & (t._pos >= t._a))
        if e_point is not None:
            e_col = "_m1"
            t = t.mutate(_b=t._pos.min(where=t[e_col] & (t._pos > t._a)).over(seq))
            t = t.filter(t._b.notnull() & (t._pos <= t._b) & (t._b - t._a < steps))
            return t.mutate(_k=t._pos - t._a, _more=ibis.literal(False))
        t = t.filter(t._pos < t._a + steps)
        return t.mutate(_k=t._pos - t._a, _more=t._len > t._a + steps)
    if e_point is not None:
        t = t.mutate(_b=t._pos.min(where=t._m0).over(seq))
        t = t.filter(t._b.notnull() & (t._pos <= t._b) & (t._pos > t._b - steps))
        first = t._b - steps + 1
        return t.mutate(
            _k=t._pos - ibis.greatest(first, 0),
            _more=first > 0,
        )
    t = t.filter(t._pos < steps)
    return t.mutate(_k=t._pos, _more=t._len > steps)


def _sequences(events: ir.Table, *, steps: int, **options: Any) -> ir.Table:
    """One row per sequence counted: ``customer_id``, ``_seq``, its nodes ``_s0`` …
    ``_s<steps-1>`` (null after its last kept node) and ``_more`` (it goes on beyond them, on
    the cut side). Kept while a memo is in use: the paths table and its Sankey links read the
    same table (see :func:`~kundresa.analytics.touchpoints.keep`)."""
    if options.get("start") is None and options.get("end") is None:
        # Unanchored: each sequence's first nodes, and whether it has more, in one
        # aggregation of the node rows (no window for the sequence's length).
        _check_steps(steps)
        options = {k: v for k, v in options.items() if k not in ("start", "end")}
        t = _nodes(events, points=[], **options)
        pos, more = t._pos, (t._pos >= steps).any()
    else:
        t = _anchored(events, steps=steps, **options)
        pos, more = t._k, t._more.max()
    cols = {f"_s{k}": t.node.max(where=pos == k) for k in range(steps)}
    per = t.group_by([CUSTOMER, "_seq"]).aggregate(_more=more, **cols)
    return keep(per)


def paths(
    events: ir.Table,
    *,
    journey: Journey | None = None,
    level: str = "touchpoint",
    start: str | None = None,
    end: str | None = None,
    steps: int = 5,
    session_gap: str | float | None = "30m",
    collapse_repeats: bool = False,
    top: int | None = 20,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """The most common paths (variants), with counts.

    Parameters
    ----------
    events
        Events in the canonical schema (an Ibis table).
    journey
        Needed for the ``touchpoint`` and ``stage`` levels and for ``touchpoint:``/``stage:``
        points.
    level
        ``event``, ``touchpoint``, ``stage`` or ``channel``: what a node is.
    start
        Paths from the first occurrence of this point in each sequence (an event name,
        ``a|b``, ``touchpoint:ID`` or ``stage:ID``); sequences without it are left out.
    end
        Paths up to the first occurrence of this point (after ``start`` when both are given;
        then only sequences reaching ``end`` within ``steps`` nodes count).
    steps
        How many nodes deep (1–20).
    session_gap
        Inactivity that splits a customer's nodes into sessions (``30m``, ``1d``, seconds);
        ``None`` for one sequence per customer.
    collapse_repeats
        Count consecutive equal nodes once.
    top
        Keep the most common ``top`` paths (``None`` for all).

    Returns
    -------
    pandas.DataFrame
        ``path`` (nodes joined by `` > ``; a leading ``… > `` or trailing `` > …`` where the
        sequence goes on beyond the depth), ``steps``, ``count`` (sequences), ``customers``,
        ``share`` (of all sequences counted), most common first (ties by path).

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b", "c"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-01 10:07",
    ...                   "2025-01-01 09:00", "2025-01-01 09:01", "2025-01-02 12:00"],
    ...     "event": ["home", "pricing", "signup", "home", "pricing", "blog"],
    ... }))
    >>> paths(events, level="event", start="home", steps=2)
                     path  steps  count  customers  share
    0      home > pricing      2      1          1    0.5
    1  home > pricing > …      2      1          1    0.5
    """
    per = _sequences(
        events,
        level=level,
        journey=journey,
        start=start,
        end=end,
        steps=steps,
        session_gap=session_gap,
        collapse_repeats=collapse_repeats,
        period=Period.parse(since, until, project_timezone(journey, timezone)),
    )
    cols = [f"_s{k}" for k in range(steps)]
    keys = [*cols, "_more"]
    grouped = per.group_by(keys).aggregate(count=per.count(), customers=per[CUSTOMER].nunique())
    df = grouped.to_pandas()
    columns = ["path", "steps", "count", "customers", "share"]
    if df.empty:
        return _empty(columns)
    leading = end is not None and start is None

    def join(row: Any) -> str:
        nodes = [row[c] for c in cols if isinstance(row[c], str)]
        text = _SEP.join(nodes)
        if bool(row["_more"]):
            text = f"…{_SEP}{text}" if leading else f"{text}{_SEP}…"
        return text

    df["path"] = [join(r) for r in df.to_dict("records")]
    df["steps"] = [sum(isinstance(r[c], str) for c in cols) for r in df.to_dict("records")]
    total = int(df["count"].sum())
    df["count"] = df["count"].astype("int64")
    df["customers"] = df["customers"].astype("int64")
    df["share"] = df["count"] / total
    df = df.sort_values(["count", "path"], ascending=[False, True], kind="stable")
    if top is not None:
        df = df.head(top)
    return df[columns].reset_index(drop=True)


def path_links(
    events: ir.Table,
    *,
    journey: Journey | None = None,
    level: str = "touchpoint",
    start: str | None = None,
    end: str | None = None,
    steps: int = 5,
    session_gap: str | float | None = "30m",
    collapse_repeats: bool = False,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """The paths of :func:`paths` as Sankey links between steps.

    Returns one row per link: ``source_step``, ``source``, ``target_step``, ``target``,
    ``count`` (sequences), ``customers``. Steps are numbered from 1; the node of a Sankey
    is (step, name). ``target`` is ``(end)`` where a sequence stops before the depth (the
    drop-off), so each node's outgoing links add up to the sequences through it.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:05", "2025-01-01 09:00",
    ...                   "2025-01-01 09:01"],
    ...     "event": ["home", "pricing", "home", "blog"],
    ... }))
    >>> path_links(events, level="event", steps=3)
       source_step   source  target_step   target  count  customers
    0            1     home            2     blog      1          1
    1            1     home            2  pricing      1          1
    2            2     blog            3    (end)      1          1
    3            2  pricing            3    (end)      1          1
    """
    _check_steps(steps)
    per = _sequences(
        events,
        level=level,
        journey=journey,
        start=start,
        end=end,
        steps=steps,
        session_gap=session_gap,
        collapse_repeats=collapse_repeats,
        period=Period.parse(since, until, project_timezone(journey, timezone)),
    )
    # Step k → k+1 of each sequence; after its last kept node, (end) unless it goes on.
    parts = []
    for k in range(steps):
        source = per[f"_s{k}"]
        following = per[f"_s{k + 1}"] if k + 1 < steps else ibis.null("string")
        target = ibis.cases((following.notnull(), following), (~per._more, END))
        parts.append(
            per.filter(source.notnull()).select(
                CUSTOMER, _k=ibis.literal(k, type="int64"), source=source, _t=target
            )
        )
    links = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    links = links.filter(links._t.notnull())
    grouped = links.group_by(_k=links._k, source=links.source, target=links._t).aggregate(
        count=links.count(), customers=links[CUSTOMER].nunique()
    )
    df = grouped.to_pandas()
    columns = ["source_step", "source", "target_step", "target", "count", "customers"]
    if df.empty:
        return _empty(columns)
    df["source_step"] = df["_k"].astype("int64") + 1
    df["target_step"] = df["source_step"] + 1
    df["count"] = df["count"].astype("int64")
    df["customers"] = df["customers"].astype("int64")
    df = df.sort_values(["source_step", "source", "target"], kind="stable")
    return df[columns].reset_index(drop=True)


def directly_follows(
    events: ir.Table,
    journey: Journey | None = None,
    *,
    level: str = "touchpoint",
    session_gap: str | float | None = None,
    since: When = None,
    until: When = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """The directly-follows graph: how often each node directly follows another.

    Parameters
    ----------
    events
        Events in the canonical schema (an Ibis table).
    journey
        Needed for the ``touchpoint`` and ``stage`` levels.
    level
        ``event``, ``touchpoint``, ``stage`` or ``channel``.
    session_gap
        Split sequences at this much inactivity; ``None`` (default) keeps one sequence per
        customer, as process mining does with one case per customer.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target``, ``count`` (times ``target`` came right after ``source``),
        ``customers``, ``median_seconds`` and ``mean_seconds`` between them; with rows from
        ``(start)`` to each sequence's first node and from its last node to ``(end)`` (their
        times are null). Most frequent first.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": ["2025-01-01 10:00", "2025-01-01 10:01", "2025-01-01 10:03",
    ...                   "2025-01-01 09:00", "2025-01-01 09:04"],
    ...     "event": ["home", "pricing", "home", "home", "pricing"],
    ... }))
    >>> directly_follows(events, level="event")
        source   target  count  customers  median_seconds  mean_seconds
    0  (start)     home      2          2             NaN           NaN
    1     home  pricing      2          2           150.0         150.0
    2     home    (end)      1          1             NaN           NaN
    3  pricing    (end)      1          1             NaN           NaN
    4  pricing     home      1          1           120.0         120.0
    """
    options: dict[str, Any] = {
        "level": level,
        "journey": journey,
        "session_gap": session_gap,
        "collapse_repeats": False,
        "points": [],
        "period": Period.parse(since, until, project_timezone(journey, timezone)),
    }
    # One part only: the graph's exact medians need every pair of every customer at once.
    if fast_path(events) and fast_path_parts(events) == 1:
        gap_us = 0
        if session_gap is not None:
            gap = parse_duration(session_gap, "session_gap")
            if gap <= 0:
                raise UsageError("session_gap must be longer than zero")
            gap_us = max(1, round(gap * US_PER_SECOND))
        fast = _fast_directly_follows(_nodes(events, nodes_only=True, **options), gap_us)
        if fast is not None:
            return fast
    t = _nodes(events, **options)
    w = ibis.window(group_by=[t[CUSTOMER], t._seq], order_by=t._pos)
    nxt = t.node.lead().over(w)
    # Whole microseconds between the two events; seconds only once aggregated (below).
    d = epoch_us(t[TIMESTAMP].lead().over(w)) - epoch_us(t[TIMESTAMP])
    pairs = t.select(
        CUSTOMER,
        "_pos",
        source=t.node,
        target=ibis.coalesce(nxt, ibis.literal(END)),
        _d=d.cast(dt.Int64(nullable=True)),
    )
    with cached(pairs) as pairs:
        # Exact means (kundresa.analytics._means): the gaps' parts summed by the engine.
        grouped = pairs.group_by(["source", "target"]).aggregate(
            count=pairs.count(),
            customers=pairs[CUSTOMER].nunique(),
            **mean_parts(pairs._d),
        )
        medians = exact_median(pairs, "_d", ["source", "target"], name="median_seconds")
        first = pairs.filter(pairs._pos == 0)
        starts = first.group_by(target=first.source).aggregate(
            count=first.count(), customers=first[CUSTOMER].nunique()
        )
        df = grouped.to_pandas().merge(medians.to_pandas(), on=["source", "target"], how="left")
        st = starts.to_pandas().assign(source=START)
    columns = ["source", "target", "count", "customers", "median_seconds", "mean_seconds"]
    if df.empty:
        return _empty(columns)
    df = pd.concat([df, st], ignore_index=True)
    df["count"] = df["count"].astype("int64")
    df["customers"] = df["customers"].astype("int64")
    df["median_seconds"] = df["median_seconds"].astype("float64") / US_PER_SECOND
    df["mean_seconds"] = means_of_parts(df, US_PER_SECOND)
    df = df.sort_values(["count", "source", "target"], ascending=[False, True, True])
    return df[columns].reset_index(drop=True)


_DFG_COLUMNS = ["source", "target", "count", "customers", "median_seconds", "mean_seconds"]
_MAX_FAST_NODES = 4096


def _fast_directly_follows(t: ir.Table, gap_us: int) -> pd.DataFrame | None:
    """:func:`directly_follows` on DuckDB: the node rows read once, grouped by customer in
    DuckDB's hash aggregation, put in event order by
    :func:`kundresa.analytics._kernels.customer_order` (the full
    ``ORDER BY`` only when rows at one instant with one event name have different nodes),
    and walked by :func:`kundresa.analytics._kernels.directly_follows_pairs`; None when there
    are too many distinct nodes for its edge arrays (the portable path then runs)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from kundresa.analytics._kernels import customer_order
    from kundresa.analytics._ordered import ordered_rows

    # The journey-ordered store gives the rows in the event order by a scan: no grouping.
    stored = ordered_rows(t.mutate(_node=t.node), ["_node"])
    if stored is not None:
        if not len(stored.data):
            return _empty(_DFG_COLUMNS)
        coded = pc.dictionary_encode(stored.data["_node"].combine_chunks())
        if len(coded.dictionary) > _MAX_FAST_NODES:
            return None
        return _dfg_frame(
            stored.bounds,
            stored.data["_us"].to_numpy().astype(np.int64, copy=False),
            coded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            coded.dictionary.to_pylist(),
            gap_us,
        )
    wanted = {"_us": epoch_us(t[TIMESTAMP]), "_node": t.node, "_event": t[EVENT]}
    # Each customer's rows together from DuckDB's hash aggregation (one list per customer).
    grouped = (
        t.group_by(CUSTOMER)
        .aggregate(_r=ibis.struct(wanted).collect())
        .to_pyarrow()
        .combine_chunks()
    )
    lists = grouped["_r"].combine_chunks()
    offsets = lists.offsets.to_numpy().astype(np.int64)
    codes = np.repeat(np.arange(len(lists), dtype=np.int64), np.diff(offsets))
    rows_struct = lists.flatten()
    data = pa.Table.from_arrays(rows_struct.flatten(), names=[f.name for f in rows_struct.type])
    if not len(data):
        return _empty(_DFG_COLUMNS)
    node = pc.dictionary_encode(data["_node"].combine_chunks())
    names = node.dictionary.to_pylist()
    if len(names) > _MAX_FAST_NODES:
        return None
    node_codes = node.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    us = data["_us"].to_numpy(zero_copy_only=False).astype(np.int64)
    event = pc.dictionary_encode(data["_event"].combine_chunks())
    rank = np.empty(len(event.dictionary), np.int64)
    rank[pc.sort_indices(event.dictionary).to_numpy()] = np.arange(len(event.dictionary))
    span = len(event.dictionary)
    perm: np.ndarray | None = None
    if us.min() > -(2**62) // span and us.max() < (2**62) // span:
        key = us * span + rank[event.indices.to_numpy(zero_copy_only=False)]
        perm, bounds, ambiguous = customer_order(codes, len(lists), key, node_codes)
        if ambiguous:
            perm = None
    if perm is None:
        # Rows at one instant that only the full event order (event id) can tell apart.
        ordered = (
            t.order_by([t[CUSTOMER], *(t[c] for c in EVENT_ORDER)])
            .select(CUSTOMER, **wanted)
            .to_pyarrow()
            .combine_chunks()
        )
        customers = ordered[CUSTOMER].combine_chunks()
        changes = pc.not_equal(customers.slice(1), customers.slice(0, len(customers) - 1))
        starts = np.flatnonzero(changes.to_numpy(zero_copy_only=False)) + 1
        bounds = np.concatenate([[0], starts, [len(customers)]]).astype(np.int64)
        node_codes = (
            pc.index_in(ordered["_node"], value_set=pa.array(names, pa.string()))
            .to_numpy(zero_copy_only=False)
            .astype(np.int64)
        )
        us = ordered["_us"].to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        node_codes, us = node_codes[perm], us[perm]
    return _dfg_frame(bounds, us, node_codes, names, gap_us)


def _dfg_frame(
    bounds: Any, us: Any, node_codes: Any, names: list[str], gap_us: int
) -> pd.DataFrame:
    """The graph's rows from node rows in order (see :func:`_fast_directly_follows`)."""
    import numpy as np

    from kundresa.analytics._kernels import directly_follows_pairs

    count, customers_n, median, high, low, start_count, start_customers = directly_follows_pairs(
        bounds, us, node_codes, len(names), gap_us
    )
    width = len(names) + 1
    edges = np.flatnonzero(count)
    targets = [*names, END]
    # Every pair of an edge to a node has a gap (an edge to the end has none).
    mean = [
        np.nan if e % width == len(names) else seconds_from_parts(high[e], low[e], count[e])
        for e in edges.tolist()
    ]
    df = pd.DataFrame(
        {
            "source": [names[e // width] for e in edges],
            "target": [targets[e % width] for e in edges],
            "count": count[edges],
            "customers": customers_n[edges],
            "median_seconds": median[edges] / US_PER_SECOND,
            "mean_seconds": np.array(mean, np.float64),
        }
    )
    firsts = np.flatnonzero(start_count)
    st = pd.DataFrame(
        {
            "source": START,
            "target": [names[a] for a in firsts],
            "count": start_count[firsts],
            "customers": start_customers[firsts],
            "median_seconds": np.nan,
            "mean_seconds": np.nan,
        }
    )
    df = pd.concat([df, st], ignore_index=True)
    df["count"] = df["count"].astype("int64")
    df["customers"] = df["customers"].astype("int64")
    df = df.sort_values(["count", "source", "target"], ascending=[False, True, True])
    return df[_DFG_COLUMNS].reset_index(drop=True)


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
