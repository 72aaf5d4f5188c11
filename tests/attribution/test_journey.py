"""Paths from events and stage paths against a plain-Python reference."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import read_events
from kundresa.attribution.journey import NO_TOUCH, conversion_paths, stage_paths
from kundresa.model import Journey, parse_journey

T0 = datetime(2025, 1, 1)
STAGE = {"ad": 1, "mail": 1, "demo": 2, "buy": 3, "nps": 4}


def journey() -> Journey:
    j, problems = parse_journey(
        """
kundresa: 1
name: Test
template: kundresa-5
touchpoints:
  - {id: t_ad, stage: awareness, match: {event: ad}}
  - {id: t_mail, stage: awareness, match: {event: mail}}
  - {id: t_demo, stage: consideration, match: {event: demo}}
  - {id: t_buy, stage: decision, match: {event: buy}}
  - {id: t_nps, stage: retention, match: {event: nps}}
"""
    )
    assert j is not None, problems
    return j


Row = tuple[str, int, str, str | None, float | None]
row_st = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 60),  # days
    st.sampled_from(["ad", "mail", "demo", "buy", "nps", "x"]),
    st.sampled_from([None, "email", "search", "social"]),
    st.sampled_from([None, 10.0, 25.5]),
)


def table(rows: list[Row]):
    return read_events(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "timestamp": [T0 + timedelta(days=r[1]) for r in rows],
                "event": [r[2] for r in rows],
                "channel": [r[3] for r in rows],
                "value": [r[4] for r in rows],
                "event_id": [f"{i:04d}" for i in range(len(rows))],
            }
        )
    )


def ordered(rows: list[Row]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for i, r in enumerate(rows):
        out.setdefault(r[0], []).append((r[1], r[2], f"{i:04d}", r[3], r[4]))
    return {c: sorted(v, key=lambda e: (e[0], e[1], e[2])) for c, v in out.items()}


def node(e: tuple, level: str) -> str | None:
    return e[3] if level == "channel" else (f"t_{e[1]}" if e[1] in STAGE else None)


def reference_paths(rows: list[Row], conv: str, level: str, lookback: int | None) -> Counter:
    out: Counter = Counter()
    for evs in ordered(rows).values():
        entered = False
        pending: list[tuple] = []
        for e in evs:
            if conv == "stage:decision":
                is_conv = STAGE.get(e[1]) == 3 and not entered
                entered = entered or STAGE.get(e[1]) == 3
            else:
                is_conv = e[1] == conv
            if is_conv:
                kept = [p for p in pending if lookback is None or e[0] - p[0] <= lookback]
                path = tuple(node(p, level) for p in kept) or (NO_TOUCH,)
                out[(path, 1.0, e[4] or 0.0)] += 1
                pending = []
            elif node(e, level) is not None:
                pending.append(e)
        if pending:
            end = pending[-1][0]
            kept = [p for p in pending if lookback is None or end - p[0] <= lookback]
            out[(tuple(node(p, level) for p in kept), 0.0, 0.0)] += 1
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["buy", "stage:decision"]),
    st.sampled_from(["channel", "touchpoint"]),
    st.sampled_from([None, 10]),
)
def test_conversion_paths_match_reference(rows, conv, level, lookback) -> None:
    got = conversion_paths(
        table(rows),
        conversion=conv,
        journey=journey(),
        level=level,
        lookback=None if lookback is None else f"{lookback}d",
    )
    have = Counter(
        (p, c, v) for p, c, v in zip(got["path"], got["conversions"], got["value"], strict=True)
    )
    assert have == reference_paths(rows, conv, level, lookback)
    assert (got["nulls"] == 1 - got["conversions"]).all()
    assert all(len(p) == len(a) for p, a in zip(got["path"], got["ages"], strict=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(row_st, max_size=30), st.sampled_from(["awareness", "consideration"]))
def test_stage_paths_match_reference(rows, stage) -> None:
    k = {"awareness": 1, "consideration": 2}[stage]
    want: Counter = Counter()
    for evs in ordered(rows).values():
        start = next((e[0] for e in evs if STAGE.get(e[1]) == k), None)
        if start is None:
            continue
        after = [e for e in evs if e[0] >= start]
        out = next((e[0] for e in after if STAGE.get(e[1], 0) > k), None)
        end = out if out is not None else after[-1][0]
        touches = [
            e
            for e in after
            if e[3] is not None and (out is None or e[0] < out) and end - e[0] <= 30
        ]
        if touches:
            want[(tuple(e[3] for e in touches), 1.0 if out is not None else 0.0)] += 1
        elif out is not None:
            want[((NO_TOUCH,), 1.0)] += 1
    got = stage_paths(table(rows), journey(), stage)
    assert Counter(zip(got["path"], got["conversions"], strict=True)) == want


def test_bad_options() -> None:
    t = table([("a", 0, "ad", "email", None)])
    with pytest.raises(ValueError, match="level 'page' is not one of"):
        conversion_paths(t, level="page")
    with pytest.raises(ValueError, match="need a journey"):
        conversion_paths(t, conversion="stage:decision")
    with pytest.raises(ValueError, match="no stage 'nowhere'"):
        conversion_paths(t, conversion="stage:nowhere", journey=journey())
    with pytest.raises(ValueError, match="lookback must be longer than zero"):
        conversion_paths(t, lookback=0)
    with pytest.raises(ValueError, match="is the last stage"):
        stage_paths(t, journey(), "advocacy")
    with pytest.raises(ValueError, match="'nowhere' is not a stage"):
        stage_paths(t, journey(), "nowhere")
