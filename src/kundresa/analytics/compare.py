"""Compare two segments' journeys, and find what goes with reaching a step (correlation).

:func:`compare` sets two segments side by side — two personas, two first channels, or the two
arms of an A/B test kept in an event property such as ``variant`` — stage by stage (or funnel
step by funnel step): how many of each segment's customers reached it, the rate with a Wilson
interval, the difference with its interval and a two-proportion z-test.

:func:`correlation` is a funnel correlation in the manner of PostHog's: among the customers
considered, those who reach a target step are successes, the others failures; for every event
name and every ``property=value`` pair it counts the successes and failures who had it and
gives the odds ratio (how much more likely success is with it than without it), its interval
and p-value. To keep the target's consequences out, a success's events count only when they
come strictly before the customer's first target event; a failure's events all count.

Both count customers, never events, and count only events in ``[since, until)``; touchpoints,
stages and segments (a customer's persona, first channel, first property value) come from the
customer's whole history, and compare's funnel counts attempts that start in the period. The
statistics
are in :mod:`kundresa.analytics._stats`. Correlation is not causation: an event that goes with
success may be a symptom of intent rather than a cause of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from kundresa.analytics._ibis import cached
from kundresa.analytics._period import Period
from kundresa.analytics._portable import count_true, property_keys, property_value
from kundresa.analytics._stats import odds_ratio, two_proportion_test, wilson_interval, z_for
from kundresa.analytics.funnel import Step, funnel_customers, parse_step
from kundresa.analytics.stages import customer_segments
from kundresa.analytics.touchpoints import tag_events
from kundresa.errors import UsageError
from kundresa.model.events import CUSTOMER, EVENT, PROPERTIES, TIMESTAMP

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "COMPARE_COLUMNS",
    "CORRELATION_COLUMNS",
    "NO_SEGMENT",
    "compare",
    "correlation",
]

NO_SEGMENT = "(none)"
"""The segment of customers without a value (no persona matches, the property never seen)."""

_SIDE = ("customers", "reached", "rate", "ci_low", "ci_high")
COMPARE_COLUMNS = (
    "segment_a",
    "segment_b",
    *(f"{c}_a" for c in _SIDE),
    *(f"{c}_b" for c in _SIDE),
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "z",
    "p_value",
    "significant",
)
"""The columns of :func:`compare` after the leading ``stage``, ``label`` (or ``step``,
``event``)."""

CORRELATION_COLUMNS = (
    "kind",
    "name",
    "success_with",
    "failure_with",
    "success_total",
    "failure_total",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "direction",
)
KINDS = ("event", "property")

When = str | date | datetime | None


# -- compare -----------------------------------------------------------------------------------


def compare(
    project: Any,
    *,
    by: str,
    a: str | None = None,
    b: str | None = None,
    steps: Sequence[str | Step] | None = None,
    window: str | float = "7d",
    order: str = "ordered",
    confidence: float = 0.95,
    since: When = None,
    until: When = None,
    events: ir.Table | None = None,
    lang: str | None = None,
) -> pd.DataFrame:
    """Two segments' journeys side by side, with intervals and a test of the difference.

    Parameters
    ----------
    project
        A :class:`~kundresa.Project` (its journey and events are used).
    by
        What makes the segments: ``persona``, ``channel`` (the customer's first channel) or
        an event property (the customer's first value of it, e.g. an A/B ``variant``).
        Customers without a value form the segment ``(none)``.
    a, b
        The two segment values to compare. When both are ``None`` and the data has exactly
        two segment values (``(none)`` aside), they are taken in sorted order; when only one
        is given and exactly one other value exists, that is the other. Otherwise (or for a
        value not in the data) :class:`ValueError` lists the values found. With no customers
        at all any values are accepted and every count is 0.
    steps
        Funnel steps (texts as for :func:`~kundresa.analytics.funnel.event_funnel`): compare
        the event funnel step by step instead of the journey's stages.
    window, order
        The funnel's window and order (with ``steps`` only).
    confidence
        Confidence level of the intervals; a difference is ``significant`` when its
        p-value is below ``1 - confidence``.
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
        One row per stage (``stage``, ``label``) or per funnel step (``step``, ``event``),
        then ``segment_a``, ``segment_b`` (the values compared), for each side (suffix
        ``_a``, ``_b``): ``customers`` (customers in the segment with an event in the
        period), ``reached`` (those whose highest stage is this one or later, as in the stage
        funnel; with ``steps``, those whose funnel level is this step or later), ``rate``
        (reached / customers), ``ci_low``, ``ci_high`` (Wilson interval); then
        ``difference`` (rate b - rate a), ``difference_ci_low``, ``difference_ci_high``
        (Wald interval, unpooled), ``z`` (pooled two-proportion z-test; positive when b's
        rate is higher), ``p_value`` (two-sided) and ``significant``. Undefined numbers are
        NaN.

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
    ...   - {id: buy, stage: decision, match: {event: purchase}}
    ... ''')
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "c", "c", "d"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-01",
    ...                   "2025-01-03", "2025-01-02"],
    ...     "event": ["ad_click", "purchase", "ad_click", "ad_click", "purchase", "ad_click"],
    ...     "variant": ["A", None, "A", "B", None, "B"],
    ... })
    >>> project = Project.from_events(events, journey=journey)
    >>> df = compare(project, by="variant")
    >>> df[["stage", "reached_a", "rate_a", "reached_b", "rate_b", "difference"]]
               stage  reached_a  rate_a  reached_b  rate_b  difference
    0      awareness          2     1.0          2     1.0         0.0
    1  consideration          1     0.5          1     0.5         0.0
    2       decision          1     0.5          1     0.5         0.0
    """
    z_for(confidence)  # a bad confidence fails before any query
    if not isinstance(by, str) or not by.strip():
        raise UsageError("by must name the segments: persona, channel or an event property")
    journey: Journey = project.journey
    whole = events if events is not None else project.events
    period = Period.parse(since, until, journey.timezone)
    t = period.filter(whole)
    if steps is not None:
        fc = funnel_customers(
            whole, steps, window=window, order=order, journey=journey, since=since, until=until
        )
        levels = fc.select(CUSTOMER, _level=fc.level)
        keys = [str(parse_step(s)) for s in steps]
    else:
        # Each customer's highest stage (in the period; tagged on the whole history): what
        # customer_stages gives as ``highest``, without its entry times, current stage and
        # persona, which a comparison does not read.
        staged = tag_events(whole, journey)
        staged = period.filter(staged.filter(staged.stage_index.notnull()))
        levels = staged.group_by(CUSTOMER).aggregate(_level=staged.stage_index.max())
        keys = list(journey.stage_ids)
    everyone = t.select(CUSTOMER).distinct()
    seg = customer_segments(whole, journey, by)
    seg = everyone.left_join(seg, CUSTOMER).drop(f"{CUSTOMER}_right")
    seg = seg.mutate(segment=seg.segment.cast("string").fill_null(NO_SEGMENT))
    per_customer = seg.left_join(levels, CUSTOMER).drop(f"{CUSTOMER}_right")
    aggs: dict[str, Any] = {"customers": per_customer.count()}
    for i in range(1, len(keys) + 1):
        aggs[f"reached_{i}"] = count_true(per_customer._level >= i)
    counts = per_customer.group_by("segment").aggregate(**aggs).to_pandas()
    found = {str(r["segment"]): r for r in counts.to_dict("records")}
    a, b = _pick_segments(sorted(found), a, b, by)

    def side(value: str, i: int) -> tuple[int, int]:
        r = found.get(value)
        if r is None:
            return 0, 0
        return _int(r["customers"]), _int(r[f"reached_{i}"])

    rows: list[dict[str, Any]] = []
    for i, key in enumerate(keys, start=1):
        n_a, x_a = side(a, i)
        n_b, x_b = side(b, i)
        row: dict[str, Any] = (
            {"step": i, "event": key}
            if steps is not None
            else {"stage": key, "label": journey.stage_label(key, lang)}
        )
        row.update(segment_a=a, segment_b=b)
        for suffix, n, x in (("a", n_a, x_a), ("b", n_b, x_b)):
            low, high = wilson_interval(x, n, confidence)
            row.update(
                {
                    f"customers_{suffix}": n,
                    f"reached_{suffix}": x,
                    f"rate_{suffix}": x / n if n else math.nan,
                    f"ci_low_{suffix}": low,
                    f"ci_high_{suffix}": high,
                }
            )
        test = two_proportion_test(x_a, n_a, x_b, n_b, confidence)
        row.update(
            difference=test.difference,
            difference_ci_low=test.ci_low,
            difference_ci_high=test.ci_high,
            z=test.z,
            p_value=test.p_value,
            significant=bool(test.p_value < 1.0 - confidence),
        )
        rows.append(row)
    lead = ["step", "event"] if steps is not None else ["stage", "label"]
    df = pd.DataFrame(rows, columns=[*lead, *COMPARE_COLUMNS])
    for c in COMPARE_COLUMNS:
        if c.startswith(("customers_", "reached_")):
            df[c] = df[c].astype("int64")
        elif c not in ("segment_a", "segment_b", "significant"):
            df[c] = df[c].astype("float64")
    df["significant"] = df["significant"].astype("bool")
    if steps is not None:
        df["step"] = df["step"].astype("int64")
    return df


def _pick_segments(found: list[str], a: str | None, b: str | None, by: str) -> tuple[str, str]:
    """The two segment values to compare (see :func:`compare`)."""
    real = [v for v in found if v != NO_SEGMENT]
    if not found:
        listed = "none (no customers in the period)"
    elif not real:  # a property no customer has (never in the data, or not on these events)
        listed = f"only {NO_SEGMENT}: no customer has a value of {by!r}"
    else:
        listed = ", ".join(found)
    if a is None and b is None:
        if len(real) != 2:
            raise UsageError(
                f"a and b: by {by!r} has {len(real)} segment "
                f"value{'' if len(real) == 1 else 's'}, not two; name the two to compare "
                f"with a and b (found: {listed})"
            )
        return real[0], real[1]
    if a is None or b is None:
        given = str(a if a is not None else b)
        others = [v for v in real if v != given]
        if given in found and len(others) == 1:
            pair = (given, others[0])
            return pair if a is not None else (pair[1], pair[0])
        missing = "b" if a is not None else "a"
        raise UsageError(
            f"{missing}: give the segment to compare with {given!r} (by {by!r}; found: {listed})"
        )
    a, b = str(a), str(b)
    if a == b:
        raise UsageError(f"a and b: both are {a!r}; compare two different segments")
    if found:
        for option, value in (("a", a), ("b", b)):
            if value not in found:
                raise UsageError(
                    f"{option}: {value!r} is not a segment value of by {by!r} (found: {listed})"
                )
    return a, b


def _int(value: Any) -> int:
    if value is None or pd.isna(value):
        return 0
    return int(value)


# -- correlation -------------------------------------------------------------------------------


def correlation(
    project: Any,
    *,
    target: str | Step,
    among: str | Step | None = None,
    kinds: Sequence[str] = KINDS,
    min_customers: int = 5,
    confidence: float = 0.95,
    since: When = None,
    until: When = None,
    events: ir.Table | None = None,
    top: int | None = None,
    max_values: int = 50,
) -> pd.DataFrame:
    """Which events and property values go with reaching a target (funnel correlation).

    Parameters
    ----------
    project
        A :class:`~kundresa.Project` (its journey and events are used).
    target
        What success is, written as a funnel step: an event name (``purchase``, ``a|b``),
        ``touchpoint:ID`` or ``stage:ID``. A customer reaches an event or touchpoint target
        with an event of it, and a stage target as in the stage funnel: with an event in that
        stage or a later one (skipping a stage counts as passing it).
    among
        Who is considered. By default, for ``stage:S`` with S not the first stage, the
        customers who reached the stage before S; otherwise every customer with an event in
        the period. ``all`` is every customer; any other step text means the customers who
        reached that step (as for ``target``).
    kinds
        Candidates to test: ``event`` (every event name) and/or ``property`` (every
        ``property=value`` pair of properties with at most ``max_values`` distinct values
        among the events considered).
    min_customers
        Leave out candidates fewer customers than this had (successes and failures together).
    confidence
        Confidence level of the odds ratio's interval; ``significant`` is ``p_value <
        1 - confidence``.
    since, until
        Only count events in ``[since, until)`` (a date is midnight in the journey's
        ``timezone``); touchpoints, stages and segments come from the whole history.
    events
        Events to use instead of the project's.
    top
        Keep only the first ``top`` rows.
    max_values
        The most distinct values a property may have to be tested.

    Returns
    -------
    pandas.DataFrame
        One row per candidate: ``kind`` (``event`` or ``property``), ``name`` (the event name
        or ``property=value``), ``success_with`` and ``failure_with`` (customers who reached
        the target, or did not, and had the candidate), ``success_total``,
        ``failure_total`` (all successes and failures considered), ``odds_ratio`` (odds of
        success with the candidate over the odds without it, 0.5 added to every cell when one
        is 0), ``ci_low``, ``ci_high`` (Woolf's interval), ``p_value``, ``significant`` and
        ``direction``: ``more likely`` (odds ratio above 1: customers with it reach the
        target more often), ``less likely`` (below 1), or null when it is 1 or undefined.
        Sorted by how far the log odds ratio is from 0, strongest first (undefined ones
        last), then kind and name.

    Notes
    -----
    A candidate "is had" by a customer when one of the customer's counted events is that
    event or carries that property value. A success's events count only when they come
    strictly before (in time) the customer's first target event, so what happens at or after
    reaching the target never counts; a failure's events all count. The target's own events
    therefore never count, and neither do events outside the period.

    Read the strongest rows with their intervals: a candidate no failure lacks (or no
    success has) gets an extreme ratio from the 0.5 correction, with a wide interval. One
    such case is built in: with a stage target and the default ``among``, every failure has
    an event of the previous stage (that is how it got into ``among``), so those events
    show up as "less likely" whenever some successes skipped that stage. Correlation is not
    causation.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa import Project
    >>> from kundresa.model.parse import parse_journey
    >>> journey, _ = parse_journey("kundresa: 1\\nname: Shop\\ntemplate: buyers-journey")
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b", "c", "c", "d"],
    ...     "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01",
    ...                   "2025-01-02", "2025-01-01", "2025-01-05", "2025-01-01"],
    ...     "event": ["view", "demo", "purchase", "view", "demo", "view", "purchase", "view"],
    ... })
    >>> project = Project.from_events(events, journey=journey)
    >>> df = correlation(project, target="purchase", min_customers=1)
    >>> df[["name", "success_with", "failure_with", "success_total", "failure_total"]]
       name  success_with  failure_with  success_total  failure_total
    0  demo             1             1              2              2
    1  view             2             2              2              2
    """
    z_for(confidence)
    step = parse_step(target)
    kinds = _kinds(kinds)
    if isinstance(min_customers, bool) or not isinstance(min_customers, int) or min_customers < 0:
        raise UsageError(f"min_customers must be a whole number >= 0, got {min_customers!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise UsageError(f"top must be a whole number >= 1, got {top!r}")
    if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 1:
        raise UsageError(f"max_values must be a whole number >= 1, got {max_values!r}")
    journey: Journey = project.journey
    target_of = _reach(step, journey, "target")
    among_of = _among(step, among, journey)
    period = Period.parse(since, until, journey.timezone)
    t = events if events is not None else project.events
    needs_tags = step.kind != "event" or (among_of is not None and among_of[0].kind != "event")
    if needs_tags:
        t = tag_events(t, journey)
    t = period.filter(t)  # tagged on the whole history, counted in the period
    # Each customer's first target (and whether they are among those considered) from one
    # aggregation, kept and joined back to the events: no window over the events, and no
    # copy of the events with their properties (making one took most of the analysis).
    per: dict[str, Any] = {"_first": ibis.cases((target_of[1](t), t[TIMESTAMP])).min()}
    if among_of is not None:
        per["_among"] = among_of[1](t).any()
    firsts = t.group_by(CUSTOMER).aggregate(**per)
    if among_of is not None:
        firsts = firsts.filter(firsts._among)
    firsts = firsts.select(CUSTOMER, "_first", _s=firsts._first.notnull())
    with cached(firsts) as who:
        total = who.aggregate(n=who.count(), s=count_true(who._s)).to_pandas()
        success_total = _int(total["s"].iloc[0]) if len(total) else 0
        failure_total = (_int(total["n"].iloc[0]) if len(total) else 0) - success_total
        rows = t.select(CUSTOMER, TIMESTAMP, EVENT, PROPERTIES)
        kept = rows.inner_join(who, CUSTOMER)
        counted = kept.filter(kept._first.isnull() | (kept[TIMESTAMP] < kept._first))
        counts = _candidate_counts(counted, kinds, max_values)
    rows = []
    too_few = 0
    for r in counts.to_dict("records"):
        s_with, f_with = _int(r["success_with"]), _int(r["failure_with"])
        if s_with + f_with < min_customers:
            too_few += 1
            continue
        ratio = odds_ratio(
            s_with, f_with, success_total - s_with, failure_total - f_with, confidence
        )
        direction = None
        if ratio.odds_ratio > 1.0:
            direction = "more likely"
        elif ratio.odds_ratio < 1.0:
            direction = "less likely"
        rows.append(
            {
                "kind": r["kind"],
                "name": r["name"],
                "success_with": s_with,
                "failure_with": f_with,
                "success_total": success_total,
                "failure_total": failure_total,
                "odds_ratio": ratio.odds_ratio,
                "ci_low": ratio.ci_low,
                "ci_high": ratio.ci_high,
                "p_value": ratio.p_value,
                "significant": bool(ratio.p_value < 1.0 - confidence),
                "direction": direction,
            }
        )
    df = pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))
    strength = [
        -abs(math.log(v)) if v > 0 and math.isfinite(v) else math.inf for v in df["odds_ratio"]
    ]
    df = df.assign(_k=strength).sort_values(["_k", "kind", "name"], kind="stable")
    df = df.drop(columns="_k").reset_index(drop=True)
    if top is not None:
        df = df.head(top)
    for c in ("success_with", "failure_with", "success_total", "failure_total"):
        df[c] = df[c].astype("int64")
    for c in ("odds_ratio", "ci_low", "ci_high", "p_value"):
        df[c] = df[c].astype("float64")
    df["significant"] = df["significant"].astype("bool")
    df["direction"] = pd.Series(
        [v if isinstance(v, str) else None for v in df["direction"]], index=df.index, dtype=object
    )
    # Say why the table is empty (read by the analysis registry as a note), as attribution
    # and the path analyses do: an empty period or store answers an empty table, said.
    where = " in the period" if since is not None or until is not None else ""
    if df.empty and too_few:
        df.attrs["notes"] = [
            f"no event or property was seen before the target by at least {min_customers:,} "
            f"customers, so the table is empty ({too_few:,} had fewer); lower the threshold "
            "with --min-customers (min_customers in Python and the API)"
        ]
    elif df.empty and success_total + failure_total == 0:
        df.attrs["notes"] = [f"nothing to correlate: no customers{where}, so the table is empty"]
    elif df.empty:
        df.attrs["notes"] = [
            f"nothing to correlate: no event or property was seen before the target{where} "
            f"({success_total + failure_total:,} customers), so the table is empty"
        ]
    return df


def _kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    if isinstance(kinds, str):
        kinds = [kinds]
    out = tuple(dict.fromkeys(kinds))
    bad = [k for k in out if k not in KINDS]
    if bad or not out:
        raise UsageError(f"kinds must be one or both of {', '.join(KINDS)}, got {list(kinds)!r}")
    return out


_Reach = tuple[Step, Any]  # the step and a function: tagged events -> "is this step's event"


def _reach(step: Step, journey: Journey, option: str) -> _Reach:
    """Whether an event reaches ``step``, as a function of the (tagged) event table."""
    names = list(step.names)
    if step.kind == "event":
        return step, lambda t: t[EVENT].isin(names)
    if step.kind == "touchpoint":
        known = [tp.id for tp in journey.touchpoints]
        for n in names:
            if n not in known:
                raise UsageError(
                    f"{option} {str(step)!r}: no touchpoint {n!r} (touchpoints: "
                    f"{', '.join(known) or 'none'})"
                )
        return step, lambda t: t.touchpoint.isin(names).fill_null(False)
    lowest = min(_stage_index(journey, n, step, option) for n in names)
    return step, lambda t: (t.stage_index >= lowest).fill_null(False)


def _stage_index(journey: Journey, name: str, step: Step, option: str) -> int:
    if name not in journey.stage_ids:
        raise UsageError(
            f"{option} {str(step)!r}: no stage {name!r} (stages: {', '.join(journey.stage_ids)})"
        )
    return journey.stage_index(name)


def _among(step: Step, among: str | Step | None, journey: Journey) -> _Reach | None:
    """Who is considered: ``None`` for every customer."""
    if isinstance(among, str) and among.strip() == "all":
        return None
    if among is not None:
        return _reach(parse_step(among), journey, "among")
    if step.kind != "stage":
        return None
    lowest = min(_stage_index(journey, n, step, "target") for n in step.names)
    if lowest == 1:
        return None
    return _reach(Step("stage", journey.stage_ids[lowest - 2]), journey, "among")


def _candidate_counts(counted: ir.Table, kinds: tuple[str, ...], max_values: int) -> pd.DataFrame:
    """Per candidate: ``kind``, ``name``, ``success_with``, ``failure_with``."""
    frames: list[pd.DataFrame] = []
    if "event" in kinds:
        names = counted.select(
            CUSTOMER, "_s", kind=ibis.literal("event"), name=counted[EVENT].cast("string")
        )
        frames.append(_counts_of(names))
    if "property" in kinds:
        long = _property_pairs(counted)
        if long is not None:
            long = long.filter(long._value.notnull())
            found = _pair_counts(long, max_values)
            if found is not None:
                frames.append(found)
                long = None
        if long is not None:
            with cached(long) as values:
                sizes = values.group_by("_key").aggregate(_n=values._value.nunique()).to_pandas()
                small = sorted(
                    str(k)
                    for k, n in zip(sizes["_key"], sizes["_n"], strict=True)
                    if int(n) <= max_values
                )
                if small:
                    chosen = values.filter(values._key.isin(small))
                    pairs = chosen.select(
                        CUSTOMER,
                        "_s",
                        kind=ibis.literal("property"),
                        name=chosen._key.concat("=", chosen._value),
                    )
                    frames.append(_counts_of(pairs))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["kind", "name", "success_with", "failure_with"])
    return pd.concat(frames, ignore_index=True)


def _pair_counts(long: ir.Table, max_values: int) -> pd.DataFrame | None:
    """:func:`_candidate_counts` of the property values in one query: each customer's
    (property, value) pairs once, counted per pair and split by success, keeping the
    properties with at most ``max_values`` values (counted over the same pairs). ``None``
    when two pairs would read as one candidate name (a ``=`` in a property name or value):
    the caller then counts customers per name."""
    have = long.select(CUSTOMER, "_s", "_key", "_value").distinct()
    per = have.group_by(["_key", "_value"]).aggregate(
        success_with=count_true(have._s), failure_with=count_true(~have._s)
    )
    per = per.mutate(_n=per.count().over(ibis.window(group_by=per._key)))
    rows = per.filter(per._n <= max_values).drop("_n").to_pandas()
    names = rows["_key"].astype(str) + "=" + rows["_value"].astype(str)
    if names.duplicated().any():
        return None
    return pd.DataFrame(
        {
            "kind": "property",
            "name": names.to_numpy(dtype=object),
            "success_with": rows["success_with"].to_numpy(),
            "failure_with": rows["failure_with"].to_numpy(),
        }
    )


def _property_pairs(counted: ir.Table) -> ir.Table | None:
    """One narrow row per (event, property): ``customer_id``, ``_s``, ``_key`` and
    ``_value`` (null values included); ``None`` when no event has a property.

    Properties stored as a map (the warehouse's ``events``) are unnested in one pass, each
    event's own keys; other layouts (JSON text, GA4's key/value pairs read in place) look
    every key found up on every event, one query per key."""
    if counted[PROPERTIES].type().is_map():
        pairs = counted.select(CUSTOMER, "_s", PROPERTIES, _key=property_keys(counted).unnest())
        return pairs.select(
            CUSTOMER, "_s", "_key", _value=pairs[PROPERTIES].get(pairs._key).cast("string")
        )
    found = counted.select(_k=property_keys(counted).unnest()).distinct().to_pandas()
    keys = sorted(str(k) for k in found["_k"].dropna())
    if not keys:
        return None
    return ibis.union(
        *(
            counted.select(CUSTOMER, "_s", _key=ibis.literal(k), _value=property_value(counted, k))
            for k in keys
        )
    )


def _counts_of(long: ir.Table) -> pd.DataFrame:
    """Customers with each candidate, split by success (``_s``)."""
    have = long.distinct()
    return (
        have.group_by(["kind", "name"])
        .aggregate(
            success_with=count_true(have._s),
            failure_with=count_true(~have._s),
        )
        .to_pandas()
    )
