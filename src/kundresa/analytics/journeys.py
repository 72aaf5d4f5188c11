"""Non-linear journeys: stage visits, moves, cycles, the transition matrix, time in stage.

Customers do not walk the funnel in a line. They skip stages, go back, pause, come back and
buy again. This module follows each customer's staged events (events a touchpoint assigns to
a stage; untagged events are ignored) in the event order (time; ties by event name, event id,
session id, channel, value) and describes the walk:

- A **visit** is a run of consecutive staged events in the same stage. It is *entered* at its
  first event and *left* when the next visit (to another stage) is entered; the customer's
  last visit is still open.
- A **move** is the change from one visit to the next. It is ``forward`` to a later stage,
  ``backward`` to an earlier one, every change to an earlier stage (docs/analytics.md,
  "Non-linear journeys").
- A forward move is a **skip** when it passes over a stage the customer had not entered yet in
  the current cycle (skipping a stage counts as passing it, as in the stage funnel).
- A visit is a **loop** when it returns to a stage already visited in the current cycle.
- A **new cycle** starts when a customer who reached the cycle stage (the last stage in a
  circular model; in a non-circular one the decision stage, i.e. the last ``bofu`` stage, or the
  last stage if none is marked) later has an event in the first stage. Cycles are numbered
  from 1; a customer's ``cycles`` is the number of cycles started.
  (A move that starts a new cycle is also a backward move: the definition above counts every
  change to an earlier stage.)
- **Time in stage** is the time from entering a visit to leaving it, over left visits.

Everything is computed with window functions over each customer's events, so it runs the same
on DuckDB and Spark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from kundresa.analytics import _stage_fast
from kundresa.analytics._ibis import (
    US_PER_DAY,
    US_PER_SECOND,
    cached,
    customer_window,
    epoch_us,
    exact_median,
    mean_parts,
)
from kundresa.analytics._means import means_of_parts
from kundresa.analytics._period import Period, When
from kundresa.analytics._portable import count_true, flag
from kundresa.analytics.touchpoints import persona_expr, staged_events
from kundresa.model.events import CUSTOMER, TIMESTAMP

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "END",
    "START",
    "customer_journeys",
    "cycle_stage",
    "journey_summary",
    "stage_analysis",
    "stage_visits",
    "time_in_stage",
    "transition_matrix",
]

START = "(start)"
END = "(end)"
_VISIT_ORDER = ("_visit",)
_NULLABLE_TIME = dt.Timestamp(scale=6, nullable=True)


def cycle_stage(journey: Journey) -> int:
    """The 1-based index of the stage after which a return to the first stage starts a new
    cycle: the last stage of a circular model, else the last ``bofu`` (decision) stage, else
    the last stage.

    >>> from kundresa.model.parse import parse_journey
    >>> j, _ = parse_journey("kundresa: 1\\nname: x\\ntemplate: kundresa-5\\ncircular: false")
    >>> j.stage_ids[cycle_stage(j) - 1]
    'decision'
    """
    n = len(journey.stages)
    if journey.circular:
        return n
    bofu = [i for i, s in enumerate(journey.stages, start=1) if s.funnel == "bofu"]
    return bofu[-1] if bofu else n


def _visits(
    events: ir.Table, journey: Journey, *, moves: bool = True, staged: ir.Table | None = None
) -> ir.Table:
    """One row per visit, with its moves, cycle and flags (see the module docstring).

    With ``moves=False`` only the visits with their stage, previous stage and times: what the
    transition matrix and time in stage need, without the cycle, loop and skip windows."""
    n = len(journey.stages)
    if staged is None:
        staged = staged_events(events, journey)
    w = customer_window(staged, order=("_order",))
    prev = staged.stage_index.lag().over(w)
    staged = staged.mutate(_new=flag(prev.isnull() | (prev != staged.stage_index)))
    cum = customer_window(staged, order=("_order",), cumulative=True)
    staged = staged.mutate(_visit=staged._new.sum().over(cum))
    v = staged.group_by([CUSTOMER, "_visit"]).aggregate(
        stage_index=staged.stage_index.max(),
        entered_at=staged[TIMESTAMP].min(),
        last_event_at=staged[TIMESTAMP].max(),
        events=staged.count(),
    )
    vw = customer_window(v, order=_VISIT_ORDER)
    cum = customer_window(v, order=_VISIT_ORDER, cumulative=True)
    v = v.mutate(
        previous_index=v.stage_index.lag().over(vw),
        # Nullable: Ibis takes lag/lead of a NOT NULL column as NOT NULL, which a cached
        # copy would then enforce.
        previous_entered_at=v.entered_at.lag().over(vw).cast(_NULLABLE_TIME),
        left_at=v.entered_at.lead().over(vw).cast(_NULLABLE_TIME),
        _first=flag(v.stage_index == 1),
        _hit=flag(v.stage_index >= cycle_stage(journey)),
    )
    if not moves:
        return v.mutate(
            stage=_stage_name(v.stage_index, journey),
            previous_stage=_stage_name(v.previous_index, journey),
        )
    # Segments between visits to the first stage; a first-stage visit starts a new cycle when
    # the segment before it reached the cycle stage (see the module docstring for why this
    # equals "since the current cycle began").
    v = v.mutate(_seg=v._first.sum().over(cum))
    seg_w = ibis.cumulative_window(group_by=[v[CUSTOMER], v._seg], order_by=v._visit)
    v = v.mutate(_seg_hit=v._hit.max().over(seg_w))
    v = v.mutate(_boundary=flag((v._first == 1) & (v._seg_hit.lag().over(vw) == 1)))
    v = v.mutate(cycle=v._boundary.sum().over(cum) + 1)
    # Stages entered earlier in the same cycle, one flag per stage.
    cyc_cum = ibis.cumulative_window(group_by=[v[CUSTOMER], v.cycle], order_by=v._visit)
    cyc = ibis.window(group_by=[v[CUSTOMER], v.cycle], order_by=v._visit)
    upto = {f"_upto{k}": flag(v.stage_index == k).max().over(cyc_cum) for k in range(1, n + 1)}
    v = v.mutate(**upto)
    before = {k: v[f"_upto{k}"].lag().over(cyc).fill_null(0) for k in range(1, n + 1)}
    v = v.mutate(**{f"_in{k}": e for k, e in before.items()})
    loop: ir.BooleanValue = ibis.literal(False)
    for k in range(1, n + 1):
        loop = loop | ((v.stage_index == k) & (v[f"_in{k}"] == 1))
    skip: ir.BooleanValue = ibis.literal(False)
    for k in range(1, n + 1):
        passed = (v.previous_index < k) & (v.stage_index > k) & (v[f"_in{k}"] == 0)
        skip = skip | passed
    forward = v.previous_index < v.stage_index
    v = v.mutate(
        move=ibis.cases(
            (v.previous_index.isnull(), "start"),
            (v._boundary == 1, "new_cycle"),
            (forward & skip, "skip"),
            (forward, "forward"),
            else_="backward",
        ),
        loop=loop.fill_null(False),
        skip=(forward & skip).fill_null(False),
        backward=(v.previous_index > v.stage_index).fill_null(False),
        new_cycle=v._boundary == 1,
    )
    return v.mutate(
        stage=_stage_name(v.stage_index, journey),
        previous_stage=_stage_name(v.previous_index, journey),
    )


def _stage_name(index: ir.IntegerValue, journey: Journey) -> ir.StringValue:
    ids = enumerate(journey.stage_ids, start=1)
    return ibis.cases(*((index == i, s) for i, s in ids)).cast("string")


def stage_visits(
    events: ir.Table | None, journey: Journey, *, staged: ir.Table | None = None
) -> ir.Table:
    """Every customer's stage timeline: one row per visit, in order.

    ``staged`` gives the staged events when they are at hand
    (:func:`~kundresa.analytics.touchpoints.staged_events`, or
    :func:`~kundresa.analytics.touchpoints.staged_from_tagged` of a timeline already read);
    ``events`` is then not read.

    Columns: ``customer_id``, ``visit`` (1-based), ``cycle`` (1-based), ``stage``,
    ``stage_index``, ``previous_stage``, ``move`` (``start``, ``forward``, ``skip``,
    ``backward`` or ``new_cycle``), ``loop`` (returns to a stage of this cycle),
    ``entered_at``, ``last_event_at``, ``left_at`` (null while the visit is open),
    ``seconds`` (``left_at - entered_at``) and ``events`` (staged events in the visit).
    Returns an Ibis table; call ``.to_pandas()`` for a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> from kundresa.model.parse import parse_journey
    >>> journey, _ = parse_journey('''
    ... kundresa: 1
    ... name: Shop
    ... template: buyers-journey
    ... touchpoints:
    ...   - {id: ad, stage: awareness, match: {event: ad}}
    ...   - {id: price, stage: consideration, match: {event: price}}
    ...   - {id: buy, stage: decision, match: {event: buy}}
    ... ''')
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a"] * 5,
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-05", "2025-01-09"],
    ...     "event": ["ad", "buy", "price", "buy", "ad"],
    ... }))
    >>> cols = ["visit", "cycle", "stage", "move", "loop", "seconds"]
    >>> stage_visits(events, journey).to_pandas()[cols]
       visit  cycle          stage       move   loop   seconds
    0      1      1      awareness      start  False   86400.0
    1      2      1       decision       skip  False   86400.0
    2      3      1  consideration   backward  False  172800.0
    3      4      1       decision    forward   True  345600.0
    4      5      2      awareness  new_cycle  False       NaN
    """
    if staged is None and events is None:
        raise ValueError("stage_visits needs events or staged events")
    v = _visits(events, journey, staged=staged)
    us = epoch_us(v.left_at) - epoch_us(v.entered_at)
    seconds = us.cast("float64") / US_PER_SECOND
    return v.select(
        CUSTOMER,
        visit=v._visit,
        cycle=v.cycle,
        stage=v.stage,
        stage_index=v.stage_index,
        previous_stage=v.previous_stage,
        move=v.move,
        loop=v.loop,
        entered_at=v.entered_at,
        last_event_at=v.last_event_at,
        left_at=v.left_at,
        seconds=seconds,
        events=v.events,
    ).order_by([CUSTOMER, "visit"])


def customer_journeys(
    events: ir.Table, journey: Journey, *, since: When = None, until: When = None
) -> ir.Table:
    """One row per customer with at least one staged event: where they are and how they got
    there.

    Columns: ``customer_id``, ``persona``, ``first_stage``, ``current_stage`` (of the last
    visit), ``highest_stage``, ``entered_<stage>`` (first entry time of every stage, null if
    never), ``visits``, ``stage_changes``, ``forward_moves``, ``backward_moves``, ``skips``,
    ``loops``, ``cycles``, ``first_event_at``, ``last_event_at``. Returns an Ibis table.

    With ``since``/``until`` (a date is midnight in the journey's ``timezone``) the rows are
    the customers with a staged event in the period; the walk is the whole history up to the
    period's end (``first_stage``, ``current_stage``, ``highest_stage``, ``entered_<stage>``,
    ``cycles``, ``first_event_at``, ``last_event_at``), and ``visits`` and the move counts
    count the visits entered in the period.
    """
    period = Period.parse(since, until, journey.timezone)
    per = _journey_table(events, journey, period)
    return per.drop("_new_cycles").order_by(CUSTOMER)


def _journey_table(events: ir.Table, journey: Journey, period: Period) -> ir.Table:
    staged = staged_events(events, journey)
    v = _visits(events, journey, staged=staged)
    known = v.filter(period.before_end(v.entered_at)) if period.end is not None else v
    counted = period.contains(known.entered_at) if period.bounded else known.entered_at.notnull()
    ids = list(journey.stage_ids)

    def count(flag: ir.BooleanValue) -> ir.IntegerValue:
        return count_true(flag & counted)

    aggs: dict[str, Any] = {
        "first_stage": known.stage.argmin(known._visit),
        "current_stage": known.stage.argmax(known._visit),
        "_highest": known.stage_index.max(),
    }
    for i, s in enumerate(ids, start=1):
        aggs[f"entered_{s}"] = known.entered_at.min(where=known.stage_index == i)
    aggs.update(
        visits=count(ibis.literal(True)),
        stage_changes=count(known.move != "start"),
        forward_moves=count(known.move.isin(["forward", "skip"])),
        backward_moves=count(known.backward),
        skips=count(known.skip),
        loops=count(known.loop),
        cycles=known.cycle.max(),
        first_event_at=known.entered_at.min(),
        _new_cycles=count(known.new_cycle),
    )
    per = known.group_by(CUSTOMER).aggregate(**aggs)
    highest = ibis.cases(*((per._highest == i, s) for i, s in enumerate(ids, start=1)))
    per = per.mutate(highest_stage=highest.cast("string")).drop("_highest")
    upto = staged.filter(period.before_end(staged[TIMESTAMP])) if period.end else staged
    last = upto.group_by(CUSTOMER).aggregate(last_event_at=upto[TIMESTAMP].max())
    per = per.inner_join(last, CUSTOMER)
    if period.bounded:
        present = period.filter(staged).select(CUSTOMER).distinct()
        per = per.semi_join(present, CUSTOMER)
    personas = persona_expr(events, journey)
    per = per.left_join(personas, CUSTOMER).drop(f"{CUSTOMER}_right")
    first = [CUSTOMER, "persona", "first_stage", "current_stage", "highest_stage"]
    entered = [f"entered_{s}" for s in ids]
    rest = ["visits", "stage_changes", "forward_moves", "backward_moves", "skips", "loops"]
    tail = ["cycles", "first_event_at", "last_event_at", "_new_cycles"]
    return per.select(*first, *entered, *rest, *tail)


def transition_matrix(
    events: ir.Table,
    journey: Journey,
    *,
    ends: bool = True,
    lang: str | None = None,
    staged: ir.Table | None = None,
    visits: ir.Table | None = None,
    since: When = None,
    until: When = None,
) -> pd.DataFrame:
    """Stage-to-stage moves with counts and probabilities, backward moves included.

    Parameters
    ----------
    events
        Events in the canonical schema (an Ibis table).
    journey
        The journey whose touchpoints assign stages.
    ends
        Include moves from ``(start)`` into each customer's first stage and from each
        customer's last stage to ``(end)``, so that each stage's row of probabilities sums
        to one (the customer either moves on or the journey, so far, ends there).
    lang
        Language of the labels (default the journey's).
    since, until
        Count only the moves made in ``[since, until)`` (a date is midnight in the journey's
        ``timezone``): a move happens when its stage is entered, and the stage it comes from
        is known from the customer's whole history. ``(start)`` moves are customers' first
        staged events ever that fall in the period; ``(end)`` moves are visits entered in the
        period and still open at its end.
    staged, visits
        The whole history's staged events or visits, when already computed.

    Returns
    -------
    pandas.DataFrame
        One row per observed move: ``from_stage``, ``to_stage``, ``from_label``,
        ``to_label``, ``count`` (moves), ``customers`` (distinct customers making it),
        ``probability`` (count over all moves out of ``from_stage``), ``direction``
        (``forward``, ``backward``, ``start`` or ``end``) and ``median_seconds`` (median
        time from entering ``from_stage`` to entering ``to_stage``; null for start/end),
        in stage order.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import read_events
    >>> from kundresa.model.parse import parse_journey
    >>> journey, _ = parse_journey('''
    ... kundresa: 1
    ... name: Shop
    ... template: buyers-journey
    ... touchpoints:
    ...   - {id: ad, stage: awareness, match: {event: ad}}
    ...   - {id: price, stage: consideration, match: {event: price}}
    ...   - {id: buy, stage: decision, match: {event: buy}}
    ... ''')
    >>> events = read_events(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01", "2025-01-03"],
    ...     "event": ["ad", "price", "ad", "ad", "buy"],
    ... }))
    >>> transition_matrix(events, journey)[["from_stage", "to_stage", "count", "probability"]]
          from_stage       to_stage  count  probability
    0        (start)      awareness      2     1.000000
    1      awareness  consideration      1     0.333333
    2      awareness       decision      1     0.333333
    3  consideration      awareness      1     1.000000
    4      awareness          (end)      1     0.333333
    5       decision          (end)      1     1.000000
    """
    period = Period.parse(since, until, journey.timezone)
    if visits is None and _stage_fast.fits(events, journey):
        facts = _fast_facts(events, journey, period)
        moves = _stage_fast.moves_frame(facts, list(journey.stage_ids), period, ends=ends)
        return _shape_matrix(moves, journey, lang)
    if visits is not None:
        parts = _moves(visits, ends, period)
    else:
        with cached(_light_visits(events, journey, staged)) as kept:
            parts = _moves(kept, ends, period)
    nonempty = [p for p in parts if len(p)]
    df = pd.concat(nonempty, ignore_index=True) if nonempty else parts[0]
    return _shape_matrix(df, journey, lang)


def _light_visits(events: ir.Table, journey: Journey, staged: ir.Table | None) -> ir.Table:
    """The visit columns the transition matrix and time in stage read."""
    v = _visits(events, journey, moves=False, staged=staged)
    needed = [CUSTOMER, "_visit", "stage", "previous_stage", "entered_at"]
    return v.select(*needed, "previous_entered_at", "left_at")


def _open_at_end(v: ir.Table, period: Period) -> ir.BooleanValue:
    """The visit was not left before the period's end."""
    if period.end is None:
        return v.left_at.isnull()
    return v.left_at.isnull() | (v.left_at >= period.end)


def _moves(v: ir.Table, ends: bool, period: Period) -> list[pd.DataFrame]:
    if period.bounded:
        v = v.filter(period.contains(v.entered_at))
    moves = v.filter(v.previous_stage.notnull())
    gap = epoch_us(moves.entered_at) - epoch_us(moves.previous_entered_at)
    moves = moves.mutate(
        _d=gap,  # whole microseconds; seconds once the median is taken
        from_stage=moves.previous_stage,
        to_stage=moves.stage,
    )
    keys = ["from_stage", "to_stage"]
    counts = moves.group_by(keys).aggregate(
        count=moves.count(), customers=moves[CUSTOMER].nunique()
    )
    medians = exact_median(moves, "_d", keys, name="median_seconds")
    parts = [counts.to_pandas().merge(medians.to_pandas(), on=keys, how="left")]
    if ends:
        first = v.filter(v._visit == 1)
        starts = first.group_by(to_stage=first.stage).aggregate(
            count=first.count(), customers=first[CUSTOMER].nunique()
        )
        last = v.filter(_open_at_end(v, period))
        finals = last.group_by(from_stage=last.stage).aggregate(
            count=last.count(), customers=last[CUSTOMER].nunique()
        )
        parts.append(starts.to_pandas().assign(from_stage=START))
        parts.append(finals.to_pandas().assign(to_stage=END))
    return parts


def _shape_matrix(df: pd.DataFrame, journey: Journey, lang: str | None) -> pd.DataFrame:
    columns = [
        "from_stage",
        "to_stage",
        "from_label",
        "to_label",
        "count",
        "customers",
        "probability",
        "direction",
        "median_seconds",
    ]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    position = {s: i for i, s in enumerate(journey.stage_ids, start=1)}
    position[START] = 0
    position[END] = len(position) + 1
    if "median_seconds" not in df:
        df["median_seconds"] = float("nan")
    df["count"] = df["count"].astype("int64")
    df["customers"] = df["customers"].astype("int64")
    out_of = df.groupby("from_stage")["count"].transform("sum")
    df["probability"] = df["count"] / out_of
    f = df["from_stage"].map(position)
    t = df["to_stage"].map(position)
    df["direction"] = [
        "start" if a == START else "end" if b == END else "forward" if tb > fa else "backward"
        for a, b, fa, tb in zip(df["from_stage"], df["to_stage"], f, t, strict=True)
    ]

    def label(s: str) -> str:
        return s if s in (START, END) else journey.stage_label(s, lang)

    df["from_label"] = df["from_stage"].map(label)
    df["to_label"] = df["to_stage"].map(label)
    df["median_seconds"] = df["median_seconds"].astype("float64") / US_PER_SECOND
    df = df.assign(_f=f, _t=t).sort_values(["_f", "_t"], kind="stable")
    # The (end) rows last, so the table reads from the start to the end of the journey.
    df = pd.concat([df[df.to_stage != END], df[df.to_stage == END]])
    return df[columns].reset_index(drop=True)


def time_in_stage(
    events: ir.Table,
    journey: Journey,
    *,
    lang: str | None = None,
    staged: ir.Table | None = None,
    visits: ir.Table | None = None,
    since: When = None,
    until: When = None,
) -> pd.DataFrame:
    """Time spent in each stage: from entering a visit to entering the next one.

    Returns one row per stage with ``stage``, ``label``, ``customers`` (who visited it),
    ``visits``, ``left`` (visits that ended by a move), ``open`` (visits still ongoing: the
    customers' current stages), ``median_days`` and ``mean_days`` over left visits.

    With ``since``/``until`` (a date is midnight in the journey's ``timezone``) only visits
    entered in the period count (visits come from the whole history); a visit is left when
    it was left before the period's end, and open otherwise.
    """
    period = Period.parse(since, until, journey.timezone)
    if visits is None and _stage_fast.fits(events, journey):
        facts = _fast_facts(events, journey, period)
        by_stage = _stage_fast.time_by_stage(facts, list(journey.stage_ids), period)
        return _time_frame(by_stage, journey, lang)
    v = visits if visits is not None else _visits(events, journey, moves=False, staged=staged)
    if period.bounded:
        v = v.filter(period.contains(v.entered_at))
        v = v.mutate(left_at=ibis.cases((~_open_at_end(v, period), v.left_at)))
    d = epoch_us(v.left_at) - epoch_us(v.entered_at)  # days once aggregated (below)
    with cached(v.select(CUSTOMER, "stage", "left_at", _days=d)) as v:
        agg = (
            v.group_by("stage")
            .aggregate(
                customers=v[CUSTOMER].nunique(),
                visits=v.count(),
                left=count_true(v.left_at.notnull()),
                # Exact (kundresa.analytics._means): the parts summed by the engine.
                **mean_parts(v._days),
            )
            .to_pandas()
        )
        med = exact_median(v, "_days", ["stage"], name="median_days").to_pandas()
    agg["mean_days"] = means_of_parts(agg, US_PER_DAY)
    agg = agg.merge(med, on="stage", how="left")
    return _time_frame({r["stage"]: r for r in agg.to_dict("records")}, journey, lang)


def _time_frame(
    by_stage: dict[str, dict[str, Any]], journey: Journey, lang: str | None
) -> pd.DataFrame:
    """Time in stage's table from the numbers of each stage with visits (``customers``,
    ``visits``, ``left``, ``median_days`` in microseconds and ``mean_days`` in days)."""
    rows = []
    for s in journey.stage_ids:
        r = by_stage.get(s, {})
        visits = int(r.get("visits", 0) or 0)
        left = int(r.get("left", 0) or 0)
        rows.append(
            {
                "stage": s,
                "label": journey.stage_label(s, lang),
                "customers": int(r.get("customers", 0) or 0),
                "visits": visits,
                "left": left,
                "open": visits - left,
                "median_days": _num(r.get("median_days")),
                "mean_days": _num(r.get("mean_days")),
            }
        )
    df = pd.DataFrame(rows)
    df["median_days"] = df["median_days"].astype("float64") / US_PER_DAY
    df["mean_days"] = df["mean_days"].astype("float64")
    return df


def stage_analysis(
    project: Any,
    *,
    since: Any = None,
    until: Any = None,
    lang: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The full stage analysis at once: stage assignment done once and shared by the stage
    funnel, the transition matrix and time in stage.

    Returns a dict with ``funnel`` (:func:`~kundresa.analytics.stages.stage_funnel`),
    ``transitions`` (:func:`transition_matrix`) and ``time_in_stage``.
    """
    from kundresa.analytics.stages import stage_funnel

    journey: Journey = project.journey
    t = project.events
    p: dict[str, Any] = {"since": since, "until": until}
    period = Period.parse(since, until, journey.timezone)  # a bad period fails first
    if _stage_fast.fits(t, journey):
        return _fast_stage_analysis(t, journey, period, lang)
    with cached(staged_events(t, journey)) as staged:
        funnel = stage_funnel(project, events=t, lang=lang, staged=staged, **p)
        with cached(_light_visits(t, journey, staged)) as visits:
            return {
                "funnel": funnel,
                "transitions": transition_matrix(t, journey, lang=lang, visits=visits, **p),
                "time_in_stage": time_in_stage(t, journey, lang=lang, visits=visits, **p),
            }


def _fast_facts(events: ir.Table, journey: Journey, period: Period) -> dict[str, Any]:
    """The stage walk of the DuckDB fast path (:mod:`kundresa.analytics._stage_fast`)."""
    return _stage_fast.walk_parts(events, journey, period)[0]


def _fast_stage_analysis(
    events: ir.Table, journey: Journey, period: Period, lang: str | None
) -> dict[str, pd.DataFrame]:
    """:func:`stage_analysis` on the DuckDB fast path: one fetch and one walk of the staged
    events give the stage funnel, the transition matrix and time in stage."""
    from kundresa.analytics.stages import funnel_frame

    ids = list(journey.stage_ids)
    facts = _fast_facts(events, journey, period)
    wide_df, medians = _stage_fast.funnel_numbers(facts, ids)
    moves = _stage_fast.moves_frame(facts, ids, period, ends=True)
    return {
        "funnel": funnel_frame(wide_df, medians, journey, [], lang),
        "transitions": _shape_matrix(moves, journey, lang),
        "time_in_stage": _time_frame(_stage_fast.time_by_stage(facts, ids, period), journey, lang),
    }


def journey_summary(
    events: ir.Table, journey: Journey, *, since: When = None, until: When = None
) -> pd.DataFrame:
    """How non-linear the journeys are, in total: one row per kind of move.

    Rows (``measure``): ``customers`` (with a staged event), ``stage_changes``,
    ``forward_moves``, ``skips``, ``backward_moves``, ``loops``, ``repeat_cycles`` (cycles
    after the first). Columns: ``total`` (how many), ``customers`` (customers with at least
    one), ``share_of_customers``. With ``since``/``until``: the customers with a staged
    event in the period, and the moves (new cycles too) made in it, as in
    :func:`customer_journeys`.
    """
    per = _journey_table(events, journey, Period.parse(since, until, journey.timezone))
    measures = {
        "stage_changes": per.stage_changes,
        "forward_moves": per.forward_moves,
        "skips": per.skips,
        "backward_moves": per.backward_moves,
        "loops": per.loops,
        "repeat_cycles": per._new_cycles,
    }
    aggs: dict[str, Any] = {"n": per.count()}
    for k, e in measures.items():
        aggs[f"{k}_total"] = e.sum()
        aggs[f"{k}_customers"] = count_true(e > 0)
    r = per.aggregate(**aggs).to_pandas().iloc[0]
    n = int(r["n"] or 0)
    rows = [{"measure": "customers", "total": n, "customers": n}]
    for k in measures:
        rows.append(
            {
                "measure": k,
                "total": int(r[f"{k}_total"] or 0),
                "customers": int(r[f"{k}_customers"] or 0),
            }
        )
    df = pd.DataFrame(rows)
    df["share_of_customers"] = (df["customers"] / n) if n else float("nan")
    return df


def _num(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)
