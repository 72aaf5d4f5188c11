"""The event funnel's parts that need no query engine: steps, the plan, the compiled kernels'
orchestration over integer-coded events, and the result frame.

The semantics are :mod:`kundresa.analytics.funnel`'s (README, "Event funnels"),
which builds the funnel from these parts on any engine. This module imports no Ibis, so that
the command line can count a Parquet file read in place straight from its decoded columns
(:func:`decoded_funnel`, ``kundresa funnel --events FILE``) without loading Ibis and sqlglot;
the engine path (:func:`kundresa.analytics.funnel.event_funnel` on DuckDB) runs the same
functions on the same rows, so both give the same frame.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from kundresa.analytics._codes import OrderedCodes, decoded_codes, ranked_names
from kundresa.analytics._duration import parse_duration
from kundresa.analytics._fast import fast_path_allowed, parts_for
from kundresa.analytics._means import mean_seconds
from kundresa.analytics._period import Period, When, project_timezone
from kundresa.errors import UsageError
from kundresa.model.events import CUSTOMER

if TYPE_CHECKING:
    from kundresa.model.journey import Journey
    from kundresa.store._decoded import DecodedFile

__all__ = [
    "FUNNEL_COLUMNS",
    "NO_SEGMENT",
    "ORDERS",
    "CodedSteps",
    "Exclusion",
    "NotLean",
    "Step",
    "coded_best",
    "coded_steps",
    "decoded_funnel",
    "funnel_period",
    "parse_exclusion",
    "parse_step",
]

ORDERS = ("ordered", "strict", "any")
FUNNEL_COLUMNS = (
    "step",
    "event",
    "count",
    "conversion_from_previous",
    "conversion_from_start",
    "mean_seconds_to_convert",
    "median_seconds_to_convert",
)
NO_SEGMENT = "(none)"

StepKind = Literal["event", "touchpoint", "stage"]
_KINDS: tuple[StepKind, ...] = ("event", "touchpoint", "stage")
_MAX_SUBSETS_GROUPS = 10


# -- steps and exclusions --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One funnel step: events with a name, or events tagged with a touchpoint or stage.

    ``name`` may list alternatives separated by ``|``; any of them fills the step.
    """

    kind: StepKind
    name: str

    @property
    def names(self) -> tuple[str, ...]:
        """The alternatives, in the order written."""
        return tuple(self.name.split("|"))

    def __str__(self) -> str:
        return self.name if self.kind == "event" else f"{self.kind}:{self.name}"


def parse_step(text: str | Step) -> Step:
    """A step from its text: ``purchase``, ``a|b``, ``touchpoint:pricing_page``, ``stage:decision``.

    An ``event:`` prefix is allowed (for event names that contain a colon).

    Examples
    --------
    >>> parse_step("purchase")
    Step(kind='event', name='purchase')
    >>> parse_step("touchpoint:pricing_page"), parse_step("stage:decision")
    (Step(kind='touchpoint', name='pricing_page'), Step(kind='stage', name='decision'))
    >>> parse_step("signup|trial").names
    ('signup', 'trial')
    >>> parse_step("stage:")
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: step 'stage:' names no stage
    """
    if isinstance(text, Step):
        return text
    if not isinstance(text, str):
        raise UsageError(f"step {text!r} is not text")
    kind: StepKind = "event"
    name = text
    prefix, sep, rest = text.partition(":")
    if sep and prefix.strip() in _KINDS:
        kind = cast(StepKind, prefix.strip())
        name = rest
    names = [n.strip() for n in name.split("|")]
    if not name.strip():
        raise UsageError(f"step {text!r} names no {kind}")
    if any(not n for n in names):
        raise UsageError(f"step {text!r} has an empty alternative (write a|b)")
    return Step(kind, "|".join(names))


@dataclass(frozen=True)
class Exclusion:
    """Leave out customers with an ``event`` between step ``after_step`` and ``before_step``
    (1-based step numbers) of an attempt."""

    event: str
    after_step: int
    before_step: int

    def __post_init__(self) -> None:
        if not self.event:
            raise UsageError("exclusion names no event")
        if self.after_step < 1:
            raise UsageError(f"exclusion {self}: steps are numbered from 1")
        if self.before_step <= self.after_step:
            raise UsageError(
                f"exclusion {self}: the second step ({self.before_step}) must come after "
                f"the first ({self.after_step})"
            )

    def __str__(self) -> str:
        return f"{self.event}:{self.after_step}:{self.before_step}"


def parse_exclusion(text: str | Exclusion | tuple[str, int, int]) -> Exclusion:
    """An exclusion from its text ``X:a:b``: no ``X`` between step a and step b.

    A tuple ``(X, a, b)`` is taken as is.

    Examples
    --------
    >>> parse_exclusion("logout:1:3")
    Exclusion(event='logout', after_step=1, before_step=3)
    >>> parse_exclusion("logout:3:1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: exclusion logout:3:1: the second step (1) must come after...
    """
    if isinstance(text, Exclusion):
        return text
    if isinstance(text, tuple):
        if len(text) != 3:
            raise UsageError(f"exclusion {text!r} must be (EVENT, A, B)")
        return Exclusion(str(text[0]), int(text[1]), int(text[2]))
    parts = str(text).rsplit(":", 2)
    if len(parts) != 3:
        raise UsageError(
            f"exclusion {text!r} must be written EVENT:A:B "
            "(no EVENT between step A and step B, e.g. logout:1:3)"
        )
    event, a, b = (p.strip() for p in parts)
    if not event:
        raise UsageError(f"exclusion {text!r} names no event")
    try:
        after, before = int(a), int(b)
    except ValueError:
        raise UsageError(
            f"exclusion {text!r}: step numbers must be whole numbers, got {a!r} and {b!r}"
        ) from None
    return Exclusion(event, after, before)


# -- the plan: validated parameters ----------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    steps: tuple[Step, ...]
    window_us: int
    order: str
    exclusions: tuple[Exclusion, ...]
    groups: tuple[Step, ...]  # distinct step definitions
    group_of: tuple[int, ...]  # step index (0-based) -> group index
    x_events: tuple[str, ...]  # distinct exclusion event names

    @property
    def k(self) -> int:
        return len(self.steps)

    @property
    def needs_journey(self) -> bool:
        return any(g.kind != "event" for g in self.groups)

    def multiplicity(self, g: int) -> int:
        return sum(1 for x in self.group_of if x == g)

    @property
    def disjoint(self) -> bool:
        """Whether no event can fill two different step definitions."""
        for a, b in itertools.combinations(self.groups, 2):
            if a.kind != b.kind or set(a.names) & set(b.names):
                return False
        return True


def _plan(
    steps: Sequence[str | Step],
    window: str | float,
    order: str,
    exclusions: Iterable[str | Exclusion | tuple[str, int, int]],
) -> _Plan:
    if isinstance(steps, str | Step):
        raise UsageError("steps must be a list of at least 2 steps, not a single step")
    parsed = tuple(parse_step(s) for s in steps)
    if len(parsed) < 2:
        raise UsageError(f"a funnel needs at least 2 steps, got {len(parsed)}")
    if order not in ORDERS:
        raise UsageError(f"unknown order {order!r}; use one of {', '.join(ORDERS)}")
    seconds = parse_duration(window)
    excl = tuple(parse_exclusion(e) for e in exclusions)
    for e in excl:
        if e.before_step > len(parsed):
            raise UsageError(
                f"exclusion {e}: step {e.before_step} does not exist (the funnel has "
                f"{len(parsed)} steps)"
            )
    groups: list[Step] = []
    keys: list[tuple[str, frozenset[str]]] = []
    group_of: list[int] = []
    for s in parsed:
        key = (s.kind, frozenset(s.names))
        if key not in keys:
            keys.append(key)
            groups.append(s)
        group_of.append(keys.index(key))
    x_events = tuple(dict.fromkeys(e.event for e in excl))
    return _Plan(
        steps=parsed,
        window_us=round(seconds * 1_000_000),
        order=order,
        exclusions=excl,
        groups=tuple(groups),
        group_of=tuple(group_of),
        x_events=x_events,
    )


def funnel_period(
    since: When, until: When, journey: Journey | None, timezone: str | None
) -> Period:
    """The counted period; dates are read in ``timezone``, else the journey's, else UTC."""
    return Period.parse(since, until, project_timezone(journey, timezone))


# -- limits of the compiled path -----------------------------------------------------------

_MAX_BITS = 62


def fits_bits(plan: _Plan) -> bool:
    """Whether the plan's step definitions and exclusion events fit the kernels' bit masks."""
    return len(plan.groups) <= _MAX_BITS and len(plan.x_events) <= _MAX_BITS


def _subsets(plan: _Plan) -> list[frozenset[int]]:
    n = len(plan.groups)
    if plan.disjoint:
        return [frozenset([g]) for g in range(n)]
    if n > _MAX_SUBSETS_GROUPS:
        raise UsageError(
            f"order='any' supports at most {_MAX_SUBSETS_GROUPS} different overlapping steps"
        )
    return [frozenset(c) for r in range(1, n + 1) for c in itertools.combinations(range(n), r)]


def _to_us(instant: datetime) -> int:
    """Microseconds since 1970 of a naive UTC instant."""
    return (instant - datetime(1970, 1, 1)) // timedelta(microseconds=1)


# -- the compiled passes over integer-coded events ---------------------------------------------


@dataclass(frozen=True)
class CodedSteps:
    """What the compiled passes need of a plan and a period, per event name.

    Attributes
    ----------
    names
        The step and exclusion event names the funnel tells apart (steps first, as
        written); any other event is ``len(names)``.
    first_of, mask_of, xmask_of
        ``int64[len(names) + 1]``: for each name (and, last, any other event) the first step
        (1-based; ``k + 1`` for none) it can fill, the bit mask of the step definitions it
        fills and of the exclusion events it is.
    start, end
        The period's bounds in microseconds since 1970 (the ``int64`` extremes when open).
    until
        The last instant to read (naive UTC, inclusive): the period's end plus the window,
        None when open (attempts start in the period and read up to a window after it).
    every
        Every event is read (a strict funnel: any other event breaks a run).
    """

    names: list[str]
    first_of: npt.NDArray[np.int64]
    mask_of: npt.NDArray[np.int64]
    xmask_of: npt.NDArray[np.int64]
    start: int
    end: int
    until: datetime | None
    every: bool


def coded_steps(plan: _Plan, period: Period) -> CodedSteps:
    """The plan's event names and their step masks for the compiled passes (event-name steps
    only: touchpoint and stage steps need the engine's tagging)."""
    names = list(dict.fromkeys([*(n for g in plan.groups for n in g.names), *plan.x_events]))
    first_of = np.full(len(names) + 1, plan.k + 1, np.int64)  # the last: any other event
    mask_of = np.zeros(len(names) + 1, np.int64)
    xmask_of = np.zeros(len(names) + 1, np.int64)
    for i, name in enumerate(names):
        for g, step in enumerate(plan.groups):
            if name in step.names:
                mask_of[i] |= 1 << g
        for j, g in enumerate(plan.group_of):
            if (mask_of[i] >> g) & 1:
                first_of[i] = j + 1
                break
        if name in plan.x_events:
            xmask_of[i] = 1 << plan.x_events.index(name)
    # As the engine path's prepared events: attempts start in the period and read up to a
    # window after it.
    until = period.end + timedelta(microseconds=plan.window_us) if period.end else None
    start = _to_us(period.start) if period.start else np.iinfo(np.int64).min
    end = _to_us(period.end) if period.end else np.iinfo(np.int64).max
    every = plan.order == "strict"  # any other event breaks a strict run
    return CodedSteps(names, first_of, mask_of, xmask_of, int(start), int(end), until, every)


def coded_chunk(
    plan: _Plan, coded: CodedSteps, rows: OrderedCodes, lo: int, hi: int
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """The best attempts of the customers of ``rows[lo:hi]`` (whole customers), with
    customer ids left null, and the customer code of each (the compiled passes:
    :func:`kundresa.analytics._kernels.coded_sequence`, then :func:`_kernel`)."""
    from kundresa.analytics._kernels import coded_sequence

    codes = rows.codes[lo:hi]
    bounds, src, us, mask, xmask, inper = coded_sequence(
        codes, rows.us[lo:hi], rows.events[lo:hi], rows.lookup,
        coded.first_of, coded.mask_of, coded.xmask_of, coded.start, coded.end, coded.every,
    )  # fmt: skip
    best_row, level, step_rows = _kernel(plan, bounds, us, mask, xmask, inper)
    chosen = np.flatnonzero(best_row >= 0)
    none = pa.nulls(len(chosen), pa.string())
    table = _best_table(plan, none, none, bounds, chosen, best_row, level, step_rows, us)
    return table, codes[src[bounds[chosen]]].astype(np.int64)


def coded_best(rows: OrderedCodes, plan: _Plan, coded: CodedSteps, ids: bool) -> pa.Table:
    """The best attempts of every customer of ``rows`` (the table
    :func:`kundresa.analytics.funnel._fast_best` gives), their customer ids looked up only
    with ``ids`` (else null)."""
    # The kernels release the GIL: customers in consecutive chunks, one thread each (a
    # DuckDB connection stays in the caller's thread).
    cuts = _chunks(rows.codes, _kernel_threads(), _CHUNK_ROWS)
    if len(cuts) > 2:
        with ThreadPoolExecutor(len(cuts) - 1) as pool:
            done = list(
                pool.map(
                    coded_chunk,
                    [plan] * (len(cuts) - 1),
                    [coded] * (len(cuts) - 1),
                    [rows] * (len(cuts) - 1),
                    cuts[:-1],
                    cuts[1:],
                )
            )
    else:
        done = [coded_chunk(plan, coded, rows, 0, len(rows.codes))]
    table = pa.concat_tables([t for t, _ in done])
    if ids:
        who = rows.ids(np.concatenate([c for _, c in done]))
        table = table.set_column(0, CUSTOMER, who)
    return table


def grouped_best_table(rows: OrderedCodes, n_cust: int, plan: _Plan, coded: CodedSteps) -> pa.Table:
    """:func:`coded_best` (customer ids null) of ``rows`` grouped by customer code ``0 ..
    n_cust - 1`` (:func:`kundresa.analytics._codes.decoded_codes`'), for an ordered or
    strict funnel: :func:`grouped_best_arrays` as the table :func:`_fast_best` gives."""
    start, best_row, level, step_rows = grouped_best_arrays(rows, n_cust, plan, coded)
    chosen = np.flatnonzero(best_row >= 0)
    none = pa.nulls(len(chosen), pa.string())
    return _best_table(plan, none, none, start, chosen, best_row, level, step_rows, rows.us)


def grouped_best_arrays(
    rows: OrderedCodes, n_cust: int, plan: _Plan, coded: CodedSteps
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's best attempt of an ordered or strict funnel over ``rows`` grouped by
    customer code ``0 .. n_cust - 1``: each customer's sequence made and walked in one
    compiled pass (:func:`kundresa.analytics._kernels.grouped_best`), customers in
    consecutive ranges of about equal rows, one thread each.

    Returns
    -------
    tuple of numpy.ndarray
        ``start`` (``int64[n_cust + 1]``: customer ``c``'s rows are ``start[c]:start[c +
        1]`` of ``rows``), ``best_row`` (``int64[n_cust]``: the row of the best attempt's
        first step, -1 for a customer with none), ``level`` (``int64[n_cust]``: the steps
        it reached) and ``step_rows`` (``int64[n_cust, k]``: the row of each step reached,
        -1 for the others).
    """
    from kundresa.analytics._kernels import grouped_best, in_threads

    # decoded_codes gives each customer's start; none when no row was kept.
    start = rows.start if rows.start is not None else np.zeros(n_cust + 1, np.int64)
    best_row = np.empty(n_cust, np.int64)
    level = np.empty(n_cust, np.int64)
    step_rows = np.empty((n_cust, plan.k), np.int64)
    x_index = {x: i for i, x in enumerate(plan.x_events)}
    exclusions = [(x_index[e.event], e.after_step, e.before_step) for e in plan.exclusions]
    m = len(rows.us)
    pieces = max(1, min(_kernel_threads(), m // _CHUNK_ROWS))
    cuts = [0, *(int(np.searchsorted(start, m * q // pieces)) for q in range(1, pieces)), n_cust]

    def part(q: int) -> None:
        grouped_best(
            start, rows.us, rows.events, rows.lookup, coded.first_of, coded.mask_of,
            coded.xmask_of, (coded.start, coded.end), coded.every, (cuts[q], cuts[q + 1]),
            plan.group_of, len(plan.groups), len(plan.x_events), exclusions, plan.window_us,
            plan.order == "strict", (best_row, level, step_rows),
        )  # fmt: skip

    in_threads(part, pieces)
    return start, best_row, level, step_rows


_CHUNK_ROWS = 1_000_000
"""Rows below which the compiled passes run in one thread."""


def _kernel_threads() -> int:
    """Threads for the compiled passes: the machine's cores, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def _chunks(codes: np.ndarray, threads: int, least: int = _CHUNK_ROWS) -> list[int]:
    """Cuts ``[0, ..., n]`` of ``codes`` (sorted customer codes) into at most ``threads``
    ranges of about equal size (none planned under ``least`` rows), each cut at a change of
    customer so that no customer spans two ranges.

    Examples
    --------
    >>> _chunks(np.array([0, 0, 1, 1, 1, 2]), 2)
    [0, 6]
    >>> _chunks(np.array([0, 0, 1, 1, 1, 2]), 2, least=1)
    [0, 2, 6]
    >>> _chunks(np.array([0, 0, 0, 0]), 4, least=1)
    [0, 4]
    """
    n = len(codes)
    pieces = max(1, min(threads, n // least))
    cuts = [0]
    for q in range(1, pieces):
        at = max(n * q // pieces, cuts[-1])
        # The first row of the next customer at or after ``at``.
        at = int(np.searchsorted(codes, codes[at], side="left")) if at < n else n
        if at <= cuts[-1]:
            at = int(np.searchsorted(codes, codes[cuts[-1]], side="right"))
        if cuts[-1] < at < n:
            cuts.append(at)
    cuts.append(n)
    return cuts


def _kernel(
    plan: _Plan,
    bounds: np.ndarray,
    us: np.ndarray,
    mask: np.ndarray,
    xmask: np.ndarray,
    inper: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plan's compiled kernel over rows in sequence order: ``best_row``, ``level`` and
    ``step_rows`` (see :func:`kundresa.analytics._kernels.funnel_best`)."""
    x_index = {x: i for i, x in enumerate(plan.x_events)}
    kernel_args = (
        bounds,
        us,
        mask,
        xmask,
        inper,
        plan.group_of,
        len(plan.groups),
        len(plan.x_events),
        [(x_index[e.event], e.after_step, e.before_step) for e in plan.exclusions],
        plan.window_us,
    )
    if plan.order == "any":  # its kernels are loaded only for it
        from kundresa.analytics._funnel_any_kernels import funnel_any_best

        return funnel_any_best(*kernel_args, plan.disjoint)
    from kundresa.analytics._kernels import funnel_best

    return funnel_best(*kernel_args, plan.order == "strict")


def _best_table(
    plan: _Plan,
    customers: pa.Array,
    segments: pa.Array,
    bounds: np.ndarray,
    chosen: np.ndarray,
    best_row: np.ndarray,
    level: np.ndarray,
    step_rows: np.ndarray,
    us: np.ndarray,
) -> pa.Table:
    """The best attempts of the customers ``chosen`` as the table :func:`_fast_best` gives
    (``customers`` and ``segments``: theirs, one each)."""
    rows = best_row[chosen]
    columns: dict[str, Any] = {
        CUSTOMER: customers,
        "_seg": segments,
        "_start": pa.array(rows - bounds[chosen]),
        "_level": pa.array(level[chosen]),
    }
    for j in range(plan.k):
        at = step_rows[chosen, j]
        missing = at < 0
        u = pa.array(us[np.where(missing, 0, at)] if len(us) else at, mask=missing)
        columns[f"_u{j + 1}"] = u
        columns[f"_t{j + 1}"] = u.cast(pa.timestamp("us"))
    schema = pa.schema(
        [
            pa.field(CUSTOMER, pa.string()),
            pa.field("_seg", pa.string()),
            pa.field("_start", pa.int64()),
            pa.field("_level", pa.int64()),
            *(
                f
                for j in range(1, plan.k + 1)
                for f in (pa.field(f"_u{j}", pa.int64()), pa.field(f"_t{j}", pa.timestamp("us")))
            ),
        ]
    )
    return pa.table({f.name: columns[f.name].cast(f.type) for f in schema}, schema=schema)


# -- the lean lane: a decoded file, no engine ---------------------------------------------------


class NotLean(Exception):
    """:func:`decoded_funnel` cannot give exactly what the engine path gives for these
    parameters (a breakdown, a journey, more step definitions than the kernels' masks hold,
    the fast path switched off, a file the engine path splits into parts): the caller takes
    the engine path. Not a :class:`ValueError`, so the registry does not read it as a bad
    parameter."""


def decoded_funnel(
    events: DecodedFile,
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
    """:func:`kundresa.analytics.funnel.event_funnel` of a Parquet file read in place, from
    its columns decoded by Arrow (:class:`kundresa.store._decoded.DecodedFile`) without a
    query engine: the same passes and frame the engine path runs on those columns, so the
    same result, checks and messages.

    Parameters
    ----------
    events
        The file's decoded columns (every row of the file; the in-place check kept all).
    steps, window, order, exclusions, since, until, timezone
        As :func:`~kundresa.analytics.funnel.event_funnel`; steps are event names.
    by, journey
        Must be None (else :class:`NotLean`).

    Returns
    -------
    pandas.DataFrame
        ``event_funnel``'s columns (``step``, ``event``, ``count``, conversions, mean and
        median seconds to convert), one row per step.

    Raises
    ------
    ValueError
        A bad step, window, order, exclusion or period, as ``event_funnel`` raises it.
    NotLean
        Parameters only the engine path answers exactly (see :class:`NotLean`).
    """
    period = funnel_period(since, until, journey, timezone)
    plan = _plan(steps, window, order, exclusions)
    if by is not None or journey is not None or plan.needs_journey:
        raise NotLean("a breakdown, a journey or touchpoint and stage steps")
    if not fits_bits(plan) or not fast_path_allowed():
        raise NotLean("the engine path's portable funnel")
    if plan.order == "any":
        _subsets(plan)  # the portable path's limit on overlapping steps, and its message
    if parts_for(len(events.codes)) > 1:
        raise NotLean("the engine path splits the events into parts")
    coded = coded_steps(plan, period)
    ranked, lookup = ranked_names(coded.names)
    rows = decoded_codes(
        events,
        ranked,
        lookup,
        every=coded.every,
        since=period.start,
        until=coded.until,
        with_codes=plan.order == "any",  # the other orders' pass needs only ``start``
        threads=_kernel_threads(),
    )
    if plan.order == "any":
        return _funnel_frame_numpy(coded_best(rows, plan, coded, ids=False), plan)
    _, best_row, level, step_rows = grouped_best_arrays(rows, len(events.customers), plan, coded)
    return _funnel_frame_steps(best_row, level, step_rows, rows.us, plan)


# -- the result frame --------------------------------------------------------------------------


def _funnel_frame_numpy(best: pa.Table, plan: _Plan) -> pd.DataFrame:
    """:func:`_funnel_frame_arrow` without a breakdown, on numpy arrays (no pandas grouping)."""
    level = best["_level"].to_numpy()
    wide_df = (
        pd.DataFrame([{f"count_{j}": int((level >= j).sum()) for j in range(1, plan.k + 1)}])
        if len(level)
        else pd.DataFrame()
    )
    mean_of: dict[tuple[Any, int], float | None] = {}
    median_of: dict[tuple[Any, int], float | None] = {}
    for j in range(2, plan.k + 1):
        u = best[f"_u{j}"].combine_chunks()
        reached = u.is_valid().to_numpy(zero_copy_only=False)
        if not reached.any():
            continue
        now = u.fill_null(0).to_numpy()[reached]
        before = best[f"_u{j - 1}"].combine_chunks().fill_null(0).to_numpy()[reached]
        seconds = (now - before) / 1_000_000.0
        mean_of[(None, j)] = mean_seconds(now - before)
        median_of[(None, j)] = float(np.median(seconds))
    return _funnel_rows(wide_df, mean_of, median_of, plan, [])


def _funnel_frame_steps(
    best_row: np.ndarray, level: np.ndarray, step_rows: np.ndarray, us: np.ndarray, plan: _Plan
) -> pd.DataFrame:
    """:func:`_funnel_frame_numpy` of :func:`grouped_best_table`'s table, from the arrays of
    :func:`grouped_best_arrays` and the rows' times ``us`` without the table: the same
    counts, and the same seconds in the same order, so the same means and middle values."""
    chosen = best_row >= 0  # customers in code order, as the table's rows
    if not chosen.any():
        return _funnel_rows(pd.DataFrame(), {}, {}, plan, [])
    # Customers at each level (level 0: those not chosen), then those at or above each step.
    at_level = np.bincount(np.where(chosen, level, 0), minlength=plan.k + 1)
    at_least = np.cumsum(at_level[::-1])[::-1]
    wide_df = pd.DataFrame([{f"count_{j}": int(at_least[j]) for j in range(1, plan.k + 1)}])
    mean_of: dict[tuple[Any, int], float | None] = {}
    median_of: dict[tuple[Any, int], float | None] = {}
    for j in range(2, plan.k + 1):
        # Positions, then one column at a time: a mask over the two-dimensional rows is
        # numpy's slow path (twice the time at a million customers).
        now_rows = step_rows[:, j - 1]
        reached = np.flatnonzero(chosen & (now_rows >= 0))
        if not len(reached):
            continue
        before_rows = step_rows[:, j - 2][reached]
        now = us[now_rows[reached]]
        before = np.where(before_rows >= 0, us[np.maximum(before_rows, 0)], 0)
        seconds = (now - before) / 1_000_000.0
        mean_of[(None, j)] = mean_seconds(now - before)
        median_of[(None, j)] = float(np.median(seconds))
    return _funnel_rows(wide_df, mean_of, median_of, plan, [])


def _funnel_rows(
    wide_df: pd.DataFrame,
    mean_of: dict[tuple[Any, int], float | None],
    median_of: dict[tuple[Any, int], float | None],
    plan: _Plan,
    group: list[str],
) -> pd.DataFrame:
    if group:
        wide_df = wide_df.sort_values("segment", kind="stable").reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    for _, w in wide_df.iterrows():
        seg = w["segment"] if group else None
        first = _int(w["count_1"])
        for j, step in enumerate(plan.steps, start=1):
            count = _int(w[f"count_{j}"])
            prev = _int(w[f"count_{j - 1}"]) if j > 1 else None
            row: dict[str, Any] = {"segment": seg} if group else {}
            row.update(
                step=j,
                event=str(step),
                count=count,
                conversion_from_previous=(count / prev) if prev else None,
                conversion_from_start=(count / first) if first else None,
                mean_seconds_to_convert=mean_of.get((seg, j)),
                median_seconds_to_convert=median_of.get((seg, j)),
            )
            rows.append(row)
    if not rows and not group:
        rows = [{"step": j, "event": str(s), "count": 0} for j, s in enumerate(plan.steps, start=1)]
    columns = [*group, *FUNNEL_COLUMNS]
    df = pd.DataFrame(rows, columns=columns)
    df["step"] = df["step"].astype("int64")
    df["count"] = df["count"].astype("int64")
    for c in FUNNEL_COLUMNS[3:]:
        df[c] = df[c].astype("float64")
    return df


def _int(value: Any) -> int:
    if value is None or pd.isna(value):
        return 0
    return int(value)


def _float(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)
