"""Touchpoint tagging and the stage funnel against plain-Python references."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics.stages import stage_funnel
from kundresa.analytics.touchpoints import tag_events, touchpoint_summary
from kundresa.model import Journey, assign_touchpoints, parse_journey
from kundresa.project import Project

JOURNEY = """
kundresa: 1
name: Test
template: kundresa-5
personas:
  - {id: priv, name: Private, match: {property: segment, equals: private}}
  - {id: biz, name: Business, match: {property: segment, in: [business, public]}}
touchpoints:
  - {id: repeat, stage: retention, match: {event: buy, nth: 2}}
  - {id: first_buy, stage: decision, match: {event: buy}}
  - {id: promoter, stage: advocacy, match: {event: nps, where: {score: {gte: 9}}}}
  - {id: nps, stage: retention, match: {event: nps}}
  - {id: pricing, stage: consideration, match: {event: view, where: {path: {regex: "^/pri"}}}}
  - {id: ad, stage: awareness, match: {event: [ad, view]}}
"""


def journey() -> Journey:
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


T0 = datetime(2025, 1, 1)

event_st = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(0, 20),  # hours: many equal timestamps
    st.sampled_from(["ad", "view", "buy", "nps", "other"]),
    st.sampled_from([None, "/pricing", "/", "/prices"]),
    st.sampled_from([None, "3", "9", "10", "x"]),
    st.sampled_from([None, "private", "business", "public"]),
)


def frame(rows: list[tuple]) -> pd.DataFrame:
    rows = sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    out = []
    for i, (c, h, e, path, score, seg) in enumerate(rows):
        props = {k: v for k, v in (("path", path), ("score", score), ("segment", seg)) if v}
        out.append(
            {
                "customer_id": c,
                "timestamp": T0 + timedelta(hours=h),
                "event": e,
                "event_id": f"{i:05d}",
                "properties": props,
            }
        )
    return pd.DataFrame(out)


def project_of(df: pd.DataFrame) -> Project:
    flat = df.drop(columns=["properties"]).copy()
    flat["properties"] = [__import__("json").dumps(p) for p in df["properties"]]
    return Project.from_events(flat, journey=journey())


@settings(max_examples=25, deadline=None)
@given(st.lists(event_st, max_size=40))
def test_tagging_matches_reference(rows: list[tuple]) -> None:
    df = frame(rows)
    if df.empty:
        return
    j = journey()
    expected = assign_touchpoints(j, df.to_dict("records"))
    with project_of(df) as p:
        got = (
            tag_events(p.events, j)
            .select("event_id", "touchpoint")
            .to_pandas()
            .set_index("event_id")["touchpoint"]
        )
    got_list = [None if pd.isna(v) else v for v in got.reindex(df["event_id"])]
    assert got_list == expected


def reference_funnel(df: pd.DataFrame, j: Journey) -> pd.DataFrame:
    tps = assign_touchpoints(j, df.to_dict("records"))
    idx = {s: i + 1 for i, s in enumerate(j.stage_ids)}
    per: dict[str, set[int]] = {}
    for c, tp in zip(df["customer_id"], tps, strict=True):
        per.setdefault(c, set())
        if tp is not None:
            per[c].add(idx[j.touchpoint(tp).stage])
    rows = []
    reached = [sum(1 for s in per.values() if s and max(s) >= i) for i in range(1, 6)]
    for i, sid in enumerate(j.stage_ids, start=1):
        prev = reached[i - 2] if i > 1 else None
        rows.append(
            {
                "stage": sid,
                "reached": reached[i - 1],
                "entered": sum(1 for s in per.values() if i in s),
                "conversion_from_previous": reached[i - 1] / prev if prev else None,
                "conversion_from_start": reached[i - 1] / reached[0] if reached[0] else None,
                "dropped": prev - reached[i - 1] if prev is not None else None,
            }
        )
    return pd.DataFrame(rows)


@settings(max_examples=20, deadline=None)
@given(st.lists(event_st, min_size=1, max_size=40))
def test_stage_funnel_matches_reference(rows: list[tuple]) -> None:
    df = frame(rows)
    j = journey()
    with project_of(df) as p:
        got = stage_funnel(p)
    want = reference_funnel(df, j)
    assert list(got["stage"]) == list(want["stage"])
    assert list(got["reached"]) == list(want["reached"])
    assert list(got["entered"]) == list(want["entered"])
    for col in ("conversion_from_previous", "conversion_from_start"):
        for a, b in zip(got[col], want[col], strict=True):
            assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b)
    norm = [None if pd.isna(v) else int(v) for v in want["dropped"]]
    assert [None if pd.isna(v) else int(v) for v in got["dropped"]] == norm


def test_funnel_hand_checked_with_breakdowns_and_period() -> None:
    rows = [
        # a: ad -> pricing -> buy -> buy (retention) -> promoter; private
        ("a", 0, "ad", None, None, "private"),
        ("a", 24, "view", "/pricing", None, "private"),
        ("a", 48, "buy", None, None, None),
        ("a", 96, "buy", None, None, None),
        ("a", 120, "nps", None, "10", None),
        # b: skips consideration: ad -> buy; business
        ("b", 0, "ad", None, None, "business"),
        ("b", 72, "buy", None, None, None),
        # c: only an ad; no segment
        ("c", 5, "ad", None, None, None),
        # d: only unmatched events: no stage at all
        ("d", 5, "other", None, None, "private"),
    ]
    df = frame([(c, h, e, p, s, g) for c, h, e, p, s, g in rows])
    with project_of(df) as p:
        f = stage_funnel(p)
        assert list(f["reached"]) == [3, 2, 2, 1, 1]
        assert list(f["entered"]) == [3, 1, 2, 1, 1]
        assert f["conversion_from_previous"].iloc[1] == pytest.approx(2 / 3)
        assert list(f["dropped"].iloc[1:]) == [1, 0, 1, 0]
        # a: awareness at 0h, consideration at 24h: 1 day; decision 24h later (1 day);
        # b entered decision (72h) without consideration: not counted for that gap.
        assert f["median_days_from_previous"].iloc[1] == pytest.approx(1.0)
        assert f["median_days_from_previous"].iloc[2] == pytest.approx(1.0)
        by = stage_funnel(p, by="persona")
        seg = {s: list(g["reached"]) for s, g in by.groupby("segment", sort=False)}
        assert seg == {
            "(none)": [1, 0, 0, 0, 0],
            "biz": [1, 1, 1, 0, 0],
            "priv": [1, 1, 1, 1, 1],
        }
        since = stage_funnel(p, since="2025-01-03")
        # From Jan 3 on: a buys (48h), buys again (96h), nps; b buys at 72h.
        assert list(since["reached"]) == [2, 2, 2, 1, 1]
        assert list(since["entered"]) == [0, 0, 2, 1, 1]
        tps = touchpoint_summary(p).set_index("touchpoint")
        assert tps.loc["ad", "customers"] == 3
        assert tps.loc["repeat", "events"] == 1
        assert tps.loc["(none)", "events"] == 1
        sv = stage_funnel(p, lang="sv")
        assert sv["label"].iloc[0] == "Medvetenhet"


def test_bad_period_is_reported() -> None:
    df = frame([("a", 0, "ad", None, None, None)])
    with project_of(df) as p, pytest.raises(ValueError, match="since 'last week' is not a date"):
        stage_funnel(p, since="last week")


def test_compare_periods_by_segment_counts_an_absent_segment_as_zero() -> None:
    """A segment with customers in one period only reached no stage in the other: its
    rows there are zeros with the stage labels, as the funnel of no customers counts, and
    every count stays a whole number (no 1.0 in CSV or JSON)."""
    from kundresa.analytics.stages import stage_funnel_periods

    events = pd.DataFrame(
        {
            "customer_id": ["p", "p", "b"],
            "timestamp": ["2025-01-05", "2025-02-05", "2025-01-06"],
            "event": ["ad", "buy", "ad"],
            "segment": ["private", None, "business"],
        }
    )
    project = Project.from_events(events, journey=journey())
    df = stage_funnel_periods(
        project, by="persona", since="2025-02-01", until="2025-03-01", compare_to="previous"
    )
    biz = df[df["segment"] == "biz"].set_index("stage")
    assert list(biz.index) == list(journey().stage_ids)
    assert biz["reached"].tolist() == [0, 0, 0, 0, 0]
    assert biz["entered"].tolist() == [0, 0, 0, 0, 0]
    assert biz["dropped"].tolist()[1:] == [0, 0, 0, 0]
    assert pd.isna(biz["dropped"].iloc[0])
    assert biz["label"].tolist() == [journey().stage_label(s) for s in biz.index]
    assert biz["previous_reached"].tolist() == [1, 0, 0, 0, 0]
    for col in ("reached", "entered", "previous_reached", "previous_entered"):
        assert df[col].dtype == "int64", col
    # The period of the segment that is there is as stage_funnel gives it.
    priv = df[df["segment"] == "priv"].set_index("stage")
    assert priv["reached"].tolist() == [1, 1, 1, 0, 0]
