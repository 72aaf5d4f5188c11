"""The stage analysis' DuckDB fast path gives exactly what the portable Ibis path gives."""

from __future__ import annotations

import statistics
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pytest
from fastpath_cases import events_table as _table
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics import _ordered, _stage_fast
from kundresa.analytics._fast import portable
from kundresa.analytics._stage_kernels import (
    assign_stages,
    distinct_per_key,
    sort_runs,
    stage_walk,
)
from kundresa.analytics.journeys import stage_analysis, time_in_stage, transition_matrix
from kundresa.analytics.stages import stage_funnel
from kundresa.model.parse import parse_journey
from kundresa.project import Project
from kundresa.store.warehouse import Warehouse

T0 = datetime(2025, 3, 1, 12, 0, 0)

JOURNEY, _ = parse_journey(
    """
kundresa: 1
name: Shop
template: kundresa-5
personas:
  - {id: biz, name: Business, match: {property: plan, equals: B}}
  - {id: priv, name: Private, match: {property: plan, in: [A]}}
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: vip, stage: decision, match: {event: price, where: {plan: {equals: B}}}}
  - {id: price, stage: consideration, match: {event: price}}
  - {id: repeat, stage: retention, match: {event: buy, nth: 2}}
  - {id: buy, stage: decision, match: {event: buy}}
  - {id: talk, stage: advocacy, match: {event: talk}}
  - {id: chat, stage: retention, match: {event: [view, talk], where: {plan: {in: [A]}}}}
  - {id: any_a, stage: consideration, match: {where: {plan: {equals: A}}, nth: 3}}
"""
)

row_st = st.tuples(
    st.sampled_from(["p", "q", "r", "s", "t"]),
    # Whole 7-hour steps: many rows of one customer at one instant.
    st.integers(0, 12).map(lambda m: 3600 * 7 * m),
    st.sampled_from(["ad", "price", "buy", "talk", "view"]),
    st.sampled_from([None, "ads", "email"]),
    st.sampled_from([None, "A", "B"]),
    st.sampled_from(["e1", "e2", None]),
)
periods = st.tuples(
    st.sampled_from([None, "2025-03-02", "2025-03-02T05:00:00"]),
    st.sampled_from([None, "2025-03-03", "2025-03-04"]),
)


def _both(fn: Any) -> tuple[Any, Any]:
    fast = fn()
    with portable():
        slow = fn()
    return fast, slow


def _same(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    # Medians and means are doubles: the same formula, summed in another order at worst.
    pdt.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12, check_dtype=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(row_st, max_size=30), periods)
def test_stage_analysis_fast_equals_portable(rows: list[tuple[Any, ...]], p: Any) -> None:
    t = _table(rows)
    project = SimpleNamespace(journey=JOURNEY, events=t)
    since, until = p
    if since and until and until <= since:
        return
    assert _stage_fast.fits(t, JOURNEY)
    fast, slow = _both(lambda: stage_analysis(project, since=since, until=until))
    for key in ("funnel", "transitions", "time_in_stage"):
        _same(fast[key], slow[key])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(row_st, max_size=30),
    periods,
    st.sampled_from([None, "persona", "channel", "plan"]),
    st.booleans(),
)
def test_stage_parts_fast_equal_portable(
    rows: list[tuple[Any, ...]], p: Any, by: str | None, ends: bool
) -> None:
    t = _table(rows)
    project = SimpleNamespace(journey=JOURNEY, events=t)
    since, until = p
    if since and until and until <= since:
        return
    kw: dict[str, Any] = {"since": since, "until": until}
    _same(*_both(lambda: stage_funnel(project, by=by, **kw)))
    _same(*_both(lambda: transition_matrix(t, JOURNEY, ends=ends, **kw)))
    _same(*_both(lambda: time_in_stage(t, JOURNEY, **kw)))


def _warehouse(chunks: list[list[tuple[Any, ...]]]) -> Warehouse:
    """A warehouse (journey-ordered store) with one ingest per chunk of rows."""
    wh = Warehouse(None)
    for rows in chunks:
        wh.ingest_arrow(
            pa.table(
                {
                    "customer_id": [r[0] for r in rows],
                    "timestamp": [(T0 + pd.Timedelta(seconds=r[1])).isoformat() for r in rows],
                    "event": [r[2] for r in rows],
                    "channel": [r[3] for r in rows],
                    "event_id": [r[5] for r in rows],
                    "plan": [r[4] for r in rows],
                }
            )
        )
    return wh


def _store_reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each call of the store's reader gave rows (None: the caller grouped them)."""
    seen: list[bool] = []
    real = _ordered.ordered_rows

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(_ordered, "ordered_rows", spy)
    return seen


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(row_st, max_size=15), min_size=1, max_size=3), periods)
def test_stage_analysis_over_the_store_equals_portable(
    chunks: list[list[tuple[Any, ...]]], p: Any
) -> None:
    # Random chunked ingests: the main part in store order plus a tail merged in, or (rows of
    # the tail and the main part at one instant) the grouping path.
    since, until = p
    if since and until and until <= since:
        return
    events = Project(None, None, _warehouse(chunks)).events
    project = SimpleNamespace(journey=JOURNEY, events=events)
    with pytest.MonkeyPatch.context() as mp:
        seen = _store_reads(mp)
        fast = stage_analysis(project, since=since, until=until)
        fast_by = stage_funnel(project, by="persona", since=since, until=until)
    with portable():
        slow = stage_analysis(project, since=since, until=until)
        slow_by = stage_funnel(project, by="persona", since=since, until=until)
    for key in ("funnel", "transitions", "time_in_stage"):
        _same(fast[key], slow[key])
    _same(fast_by, slow_by)
    assert seen  # the store's reader was asked


def test_the_stage_analysis_reads_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stages at one instant ("ad" < "buy" < "price" by name) come in the store order.
    rows = [
        (
            f"c{i % 4}",
            3600 * (i // 3),
            ["price", "ad", "buy", "talk", "view"][i % 5],
            None,
            None,
            None,
        )
        for i in range(40)
    ]
    wh = _warehouse([rows[:36], rows[36:]])
    seen = _store_reads(monkeypatch)
    events = Project(None, None, wh).events
    fast = transition_matrix(events, JOURNEY, ends=True)
    assert seen == [True]
    with portable():
        slow = transition_matrix(events, JOURNEY, ends=True)
    _same(fast, slow)


def test_empty_input() -> None:
    t = _table([])
    project = SimpleNamespace(journey=JOURNEY, events=t)
    fast, slow = _both(lambda: stage_analysis(project))
    for key in ("funnel", "transitions", "time_in_stage"):
        _same(fast[key], slow[key])
    _same(*_both(lambda: stage_funnel(project, by="persona")))


def test_stages_at_one_instant_follow_the_event_order() -> None:
    # "ad" < "buy" < "price" by name: at one instant the walk is awareness, decision,
    # consideration (three visits), whatever order the rows come in; DuckDB reads them again
    # in its full event order.
    rows = [
        ("p", 0, "price", None, None, "3"),
        ("p", 0, "ad", None, None, "1"),
        ("p", 0, "buy", None, None, "2"),
        ("p", 3600, "ad", None, None, "4"),
    ]
    t = _table(rows)
    fast, slow = _both(lambda: transition_matrix(t, JOURNEY))
    _same(fast, slow)
    moves = list(zip(fast["from_stage"], fast["to_stage"], fast["count"], strict=True))
    assert ("awareness", "decision", 1) in moves
    assert ("decision", "consideration", 1) in moves
    assert ("consideration", "awareness", 1) in moves


def test_walk_by_hand() -> None:
    # Customer 0: stages 1, 1, 3, 2 at 0, 5, 10, 20 us; customer 1: nothing; customer 2:
    # stage 2 at 7 us. The counted period is [5, 15).
    bounds = np.array([0, 4, 4, 5], np.int64)
    us = np.array([0, 5, 10, 20, 7], np.int64)
    stage = np.array([1, 1, 3, 2, 2], np.int64)
    f = stage_walk(bounds, us, stage, 3, 5, 15)
    none = _stage_fast.NONE
    assert f["highest"].tolist() == [3, 0, 2]
    assert f["first"].tolist() == [[5, none, 10], [none] * 3, [none, 7, none]]
    assert f["customer"].tolist() == [0, 0, 0, 2]
    assert f["stage"].tolist() == [1, 3, 2, 2]
    assert f["previous"].tolist() == [0, 1, 3, 0]
    assert f["entered"].tolist() == [0, 10, 20, 7]
    assert f["previous_entered"].tolist() == [none, 0, 10, none]
    assert f["left"].tolist() == [10, 20, none, none]


@pytest.mark.parametrize(
    ("values", "ambiguous"),
    [
        ([9 << 6 | 2, 3 << 6 | 1, 9 << 6 | 2], False),
        ([9 << 6 | 2, 9 << 6 | 1, 3 << 6 | 1], True),
    ],
)
def test_sort_runs(values: list[int], ambiguous: bool) -> None:
    # Sorted by time; rows at one instant keep their order (the caller re-reads them when
    # their stages differ).
    v = np.array(values, np.int64)
    assert sort_runs(v, np.array([0, len(v)], np.int64), 6) is ambiguous
    assert v.tolist() == sorted(values, key=lambda x: x >> 6)


def test_exact_medians() -> None:
    keys = np.array([2, 1, 2, 1, 1, 2, 2], np.int64)
    values = np.array([4, 9, 1, 3, 5, 3, 10], np.int64)
    assert _stage_fast.exact_medians(keys, values) == {1: 5.0, 2: 3.5}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(-50, 50)), max_size=40),
    st.sampled_from([1000, 10**6]),  # keys counted in a small range, or made unique by sorting
)
def test_exact_medians_against_statistics(pairs: list[tuple[int, int]], scale: int) -> None:
    keys = np.array([k * scale for k, _ in pairs], np.int64)
    values = np.array([v for _, v in pairs], np.int64)
    want = {k * scale: float(statistics.median(v for kk, v in pairs if kk == k)) for k, _ in pairs}
    assert _stage_fast.exact_medians(keys, values) == want
    halves = _stage_fast.exact_medians(keys, values / 7.0)
    assert halves == pytest.approx({k: m / 7.0 for k, m in want.items()}, rel=1e-12)


def test_distinct_per_key() -> None:
    customer = np.array([0, 0, 0, 1, 1, 2], np.int64)
    key = np.array([1, 1, 2, 1, 0, 1], np.int64)
    mask = np.array([True, True, True, True, False, True])
    assert distinct_per_key(customer, key, mask, 3).tolist() == [0, 3, 1]


def test_assign_stages_by_hand() -> None:
    # Touchpoints in file order: 0 buy (stage 3), 1 repeat buy nth 2 (stage 4), 2 ad (stage 1).
    # plain = (0, 2), nth = (1,): code = nth_bits * 3 + p.
    plain = np.array([0, 2], np.int64)
    nth = np.array([1], np.int64)
    need = np.array([2], np.int64)
    stage_of = np.array([3, 4, 1], np.int64)
    buy, ad, nothing_but_nth = 1 * 3 + 0, 0 * 3 + 1, 1 * 3 + 2
    code = np.array([buy, buy, ad, nothing_but_nth, nothing_but_nth, buy], np.int64)
    bounds = np.array([0, 3, 6], np.int64)
    # The plain "buy" comes first in the file, so a second buy is still a buy (3); an event
    # that fits only the nth touchpoint is taken from its second one on (0, then 4); counts
    # start again for each customer.
    assert assign_stages(bounds, code, plain, nth, need, stage_of).tolist() == [3, 3, 1, 0, 4, 3]


def test_the_stage_analysis_in_parts_reads_the_store_without_a_span_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [
        (f"c{i % 9}", 600 * (i * 7 % 50), "vcbx"[i % 4], None, None, f"e{i}") for i in range(120)
    ]
    events = Project(None, None, _warehouse([rows[:100], rows[100:]])).events
    with portable():
        slow = transition_matrix(events, JOURNEY, ends=True)
    seen = _store_reads(monkeypatch)
    spans: list[object] = []
    real_span = _stage_fast._span
    monkeypatch.setattr(_stage_fast, "_span", lambda t: spans.append(t) or real_span(t))
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "30")  # four parts, by customer
    fast = transition_matrix(events, JOURNEY, ends=True)
    assert seen == [True] * 4
    assert spans == []  # every part came from the store: the time span was never scanned
    _same(fast, slow)
