"""The fast paths in parts (``KUNDRESA_FAST_PATH_ROWS``): the stage analysis in parts gives what
one walk of every customer gives (the parts' facts are concatenated, so a chunking boundary
must not change a count, a median or a segment); the funnel sizes its parts by the events it
keeps."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas.testing as pdt
import pytest
from fastpath_cases import event_rows
from fastpath_cases import events_table as _table
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics import _stage_fast
from kundresa.analytics._period import Period
from kundresa.analytics._stage_kernels import stage_walk
from kundresa.analytics.journeys import stage_analysis, time_in_stage, transition_matrix
from kundresa.analytics.stages import stage_funnel
from kundresa.model.parse import parse_journey

JOURNEY, _ = parse_journey(
    """
kundresa: 1
name: Shop
template: kundresa-5
personas:
  - {id: biz, name: Business, match: {property: plan, equals: B}}
touchpoints:
  - {id: ad, stage: awareness, match: {event: v}}
  - {id: price, stage: consideration, match: {event: c}}
  - {id: repeat, stage: retention, match: {event: b, nth: 2}}
  - {id: buy, stage: decision, match: {event: b}}
  - {id: talk, stage: advocacy, match: {event: x}}
"""
)

rows_st = st.lists(event_rows(customers=("p", "q", "r", "s", "t", "u")), max_size=30)
periods = st.sampled_from([(None, None), ("2025-03-02", None), (None, "2025-03-03")])


def _all(t: Any, p: tuple[Any, Any]) -> dict[str, Any]:
    project = SimpleNamespace(journey=JOURNEY, events=t)
    kw = {"since": p[0], "until": p[1]}
    out = {f"analysis.{k}": v for k, v in stage_analysis(project, **kw).items()}
    out["funnel.plan"] = stage_funnel(project, by="plan", **kw)
    out["funnel.persona"] = stage_funnel(project, by="persona", **kw)
    out["matrix"] = transition_matrix(t, JOURNEY, ends=False, **kw)
    out["time"] = time_in_stage(t, JOURNEY, **kw)
    return out


@settings(max_examples=25, deadline=None)
@given(rows_st, periods, st.integers(1, 8))
def test_parts_equal_one_walk(rows: list[tuple[Any, ...]], p: Any, per_part: int) -> None:
    t = _table(rows)
    whole = _all(t, p)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUNDRESA_FAST_PATH_ROWS", str(per_part))
        assert _stage_fast.fits(t, JOURNEY)
        parts = _all(t, p)
    for key, frame in whole.items():
        # Medians and means are doubles: the same values, summed in another order at worst.
        pdt.assert_frame_equal(parts[key], frame, check_exact=False, rtol=1e-12, obj=key)


def test_parts_are_walked_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [(c, 3600 * 7 * i, e, None, None, None) for i, c in enumerate("pqrstu") for e in "vcb"]
    t = _table(rows)
    seen: list[int] = []
    real = _stage_fast.staged_rows

    def spy(events: Any, journey: Any, *, ids: bool = False, span: Any = None) -> Any:
        assert span is not None  # the time span is read once, not once a part
        out = real(events, journey, ids=ids, span=span)
        seen.append(len(out.bounds) - 1)
        return out

    monkeypatch.setattr(_stage_fast, "staged_rows", spy)
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "5")  # 18 events: four parts
    facts, ids = _stage_fast.walk_parts(t, JOURNEY, Period.parse(None, None, "UTC"), ids=True)
    assert len(seen) == 4
    assert sum(seen) == 6  # every customer in exactly one part
    assert ids is not None
    assert sorted(ids.to_pylist()) == list("pqrstu")
    assert facts["highest"].tolist() == [3] * 6  # awareness, consideration, decision


def test_concat_facts_by_hand() -> None:
    # Customers a (stages 1, 2) and b (stage 2, then 1) walked together and apart.
    bounds = np.array([0, 2, 4], np.int64)
    us = np.array([0, 5, 1, 9], np.int64)
    stage = np.array([1, 2, 2, 1], np.int64)
    lo, hi = int(np.iinfo(np.int64).min) + 1, int(np.iinfo(np.int64).max)
    one = stage_walk(bounds, us, stage, 2, lo, hi)
    a = stage_walk(bounds[:2], us[:2], stage[:2], 2, lo, hi)
    b = stage_walk(bounds[:2], us[2:], stage[2:], 2, lo, hi)
    two = _stage_fast._concat_facts([a, b])
    assert two["customer"].tolist() == [0, 0, 1, 1]
    for key, value in one.items():
        assert two[key].tolist() == value.tolist(), key


def test_funnel_parts_count_the_kept_events(monkeypatch: pytest.MonkeyPatch) -> None:
    # 12 events, 4 of them funnel steps: with 5 events a part, the events alone would make
    # three parts; the kept step events fit one. (Event-name steps without a breakdown: one
    # scan of the coded events a part.)
    from kundresa.analytics import _ordered, funnel

    rows = [(c, 3600 * 7 * i, e, None, None, None) for i, c in enumerate("pq") for e in "vcxxxx"]
    t = _table(rows)
    calls: list[int] = []
    real = _ordered.fetched_codes

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_ordered, "fetched_codes", spy)
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "5")
    counts = funnel.event_funnel(t, ["v", "c"], window="7d")["count"].tolist()
    assert (counts, len(calls)) == ([2, 2], 1)
    calls.clear()
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "3")  # 4 kept events: two parts
    assert funnel.event_funnel(t, ["v", "c"], window="7d")["count"].tolist() == [2, 2]
    assert len(calls) == 2
    calls.clear()
    # A strict funnel keeps every event (any event breaks a run): parts by all events.
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "5")
    assert funnel.event_funnel(t, ["v", "c"], window="7d", order="strict")["count"].tolist() == [
        2,
        2,
    ]
    assert len(calls) == 3


def test_breakdown_funnel_parts_count_the_kept_events(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same with a breakdown (the grouping path): parts sized by the kept step events.
    from kundresa.analytics import funnel

    rows = [(c, 3600 * 7 * i, e, "ads", None, None) for i, c in enumerate("pq") for e in "vcxxxx"]
    t = _table(rows)
    calls: list[int] = []
    real = funnel._fast_best_part

    def spy(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(funnel, "_fast_best_part", spy)
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "5")
    out = funnel.event_funnel(t, ["v", "c"], window="7d", by="channel")
    assert (out["count"].tolist(), len(calls)) == ([2, 2], 1)
    calls.clear()
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "3")
    assert funnel.event_funnel(t, ["v", "c"], window="7d", by="channel")["count"].tolist() == [
        2,
        2,
    ]
    assert len(calls) == 2
