"""Durations are differences of whole microseconds, turned into seconds (or days) at the end:
two events 1 ms apart are exactly 0.001 s apart, not epoch-seconds float dust."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import read_events
from kundresa.analytics.journeys import stage_visits, time_in_stage, transition_matrix
from kundresa.analytics.paths import directly_follows, paths
from kundresa.model import Journey, parse_journey

# Far from 1970, where a float of epoch seconds has the fewest bits left for the fraction.
T0 = datetime(2025, 3, 1, 12, 0, 0, 123_000)
MS = timedelta(milliseconds=1)


def journey() -> Journey:
    j, problems = parse_journey(
        "kundresa: 1\ntemplate: buyers-journey\ntouchpoints:\n"
        "  - {id: ad, stage: awareness, match: {event: ad}}\n"
        "  - {id: price, stage: consideration, match: {event: price}}\n"
        "  - {id: buy, stage: decision, match: {event: buy}}\n"
    )
    assert j is not None, problems
    return j


def events(offsets: list[timedelta]) -> object:
    names = ["ad", "price", "buy"][: len(offsets)]
    return read_events(
        pd.DataFrame(
            {
                "customer_id": ["c"] * len(offsets),
                "timestamp": [T0 + o for o in offsets],
                "event": names,
            }
        )
    )


def test_directly_follows_one_millisecond_is_exactly_0_001_seconds() -> None:
    dfg = directly_follows(events([timedelta(0), MS]), journey())  # type: ignore[arg-type]
    row = dfg[(dfg.source == "ad") & (dfg.target == "price")].iloc[0]
    assert row.median_seconds == 0.001
    assert row.mean_seconds == 0.001


def test_directly_follows_mean_of_microseconds() -> None:
    # ad -> price 1 ms, price -> buy 3 µs: each exact.
    t = events([timedelta(0), MS, MS + timedelta(microseconds=3)])
    dfg = directly_follows(t, journey()).set_index(["source", "target"])  # type: ignore[arg-type]
    assert dfg.loc[("price", "buy"), "median_seconds"] == 3e-6
    assert dfg.loc[("ad", "price"), "mean_seconds"] == 0.001


def test_session_gap_compares_exact_durations() -> None:
    # 30 minutes apart exactly is a new session with a 30m gap; 1 µs less is not.
    gap = timedelta(minutes=30)
    split = paths(events([timedelta(0), gap]), journey=journey(), session_gap="30m")  # type: ignore[arg-type]
    together = paths(
        events([timedelta(0), gap - timedelta(microseconds=1)]),  # type: ignore[arg-type]
        journey=journey(),
        session_gap="30m",
    )
    assert int(split["count"].sum()) == 2
    assert int(together["count"].sum()) == 1


def test_stage_times_are_exact() -> None:
    t = events([timedelta(0), MS, 3 * MS])
    v = stage_visits(t, journey()).to_pandas()  # type: ignore[arg-type]
    assert list(v.seconds.iloc[:2]) == [0.001, 0.002]
    m = transition_matrix(t, journey()).set_index(["from_stage", "to_stage"])  # type: ignore[arg-type]
    assert m.loc[("awareness", "consideration"), "median_seconds"] == 0.001
    days = time_in_stage(t, journey()).set_index("stage")  # type: ignore[arg-type]
    assert days.loc["consideration", "median_days"] == 0.002 / 86400


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 10**13), min_size=1, max_size=30))
def test_time_in_stage_means_are_exact_on_every_path(stays: list[int]) -> None:
    # Stays in awareness of whole microseconds of very different sizes: both paths give the
    # true mean in days rounded once, bit for bit (a float sum depends on its order).
    from fractions import Fraction

    from kundresa.analytics._fast import portable

    rows = []
    for i, d in enumerate(stays):
        rows.append((f"c{i}", T0, "ad"))
        rows.append((f"c{i}", T0 + timedelta(microseconds=d), "price"))
    t = read_events(pd.DataFrame(rows, columns=["customer_id", "timestamp", "event"]))
    want = float(Fraction(sum(stays), len(stays) * 86_400_000_000))
    fast = time_in_stage(t, journey()).set_index("stage")  # type: ignore[arg-type]
    with portable():
        slow = time_in_stage(t, journey()).set_index("stage")  # type: ignore[arg-type]
    assert fast.loc["awareness", "mean_days"] == want
    assert slow.loc["awareness", "mean_days"] == want
