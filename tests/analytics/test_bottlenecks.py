"""KPI status and bottlenecks: plain-Python recounts, periods, golden cases, bad input, empty
data and Spark parity."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import Project
from kundresa.analytics._stats import two_proportion_test
from kundresa.analytics.bottlenecks import (
    BOTTLENECK_COLUMNS,
    KPI_COLUMNS,
    bottlenecks,
    kpi_status,
)
from kundresa.analytics.funnel import event_funnel
from kundresa.analytics.journeys import time_in_stage
from kundresa.analytics.stages import stage_funnel
from kundresa.model import Journey, assign_touchpoints, parse_journey

GOLDEN = Path(__file__).parent.parent / "golden" / "bottlenecks"
T0 = datetime(2025, 3, 1)

JOURNEY = """
kundresa: 1
name: Test
language: en
stages:
  - id: s1
    label: {en: One}
    kpis:
      - {metric: reached, target: 3}
      - {metric: median_days_in_stage, target: 1, direction: at_most}
  - id: s2
    label: {en: Two}
    kpis:
      - {metric: conversion_from_previous, target: 0.6}
      - {metric: dropped, target: 1, direction: at_most}
  - id: s3
    label: {en: Three}
    kpis: [{metric: conversion_from_start, target: 0.3}, {metric: entered, target: 2}]
  - id: s4
    label: {en: Four}
    kpis: [{metric: conversion_from_previous, target: 0.5, direction: at_least}]
touchpoints:
  - {id: t1, stage: s1, match: {event: e1}}
  - {id: t2, stage: s2, match: {event: e2}}
  - {id: t3, stage: s3, match: {event: e3}}
  - {id: t4, stage: s4, match: {event: e4}}
"""


def journey() -> Journey:
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


# (customer, day, event): days 0..59 after T0, so two 30-day periods.
event_st = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),
    st.integers(0, 59),
    st.sampled_from(["e1", "e2", "e3", "e4", "x"]),
)


def frame(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    rows = sorted(rows)
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [T0 + timedelta(days=r[1], hours=i % 24) for i, r in enumerate(rows)],
            "event": [r[2] for r in rows],
            "event_id": [f"{i:05d}" for i in range(len(rows))],
        },
        columns=["customer_id", "timestamp", "event", "event_id"],
    )


def project_of(df: pd.DataFrame) -> Project:
    return Project.from_events(df, journey=journey())


def ref_reached(df: pd.DataFrame, j: Journey, start: datetime, end: datetime) -> list[int]:
    """Customers whose highest stage in [start, end) is each stage or later; touchpoints are
    tagged on the whole history first (a period never restarts `nth`)."""
    recs = [{**r, "properties": {}} for r in df.to_dict("records")]
    tps = assign_touchpoints(j, recs)
    index = {s: i for i, s in enumerate(j.stage_ids, start=1)}
    highest: dict[str, int] = {}
    for r, tp in zip(recs, tps, strict=True):
        if not start <= r["timestamp"].to_pydatetime() < end:
            continue
        level = index[j.touchpoint(tp).stage] if tp else 0
        highest[r["customer_id"]] = max(highest.get(r["customer_id"], 0), level)
    return [sum(1 for h in highest.values() if h >= i) for i in range(1, len(j.stages) + 1)]


@settings(max_examples=40, deadline=None)
@given(st.lists(event_st, min_size=1, max_size=50), st.booleans())
def test_bottlenecks_equal_a_recount_of_both_periods(
    rows: list[tuple[str, int, str]], with_steps: bool
) -> None:
    df = frame(rows)
    j = journey()
    now = (T0 + timedelta(days=30), T0 + timedelta(days=60))
    before = (T0, T0 + timedelta(days=30))
    reached, previous = ref_reached(df, j, *now), ref_reached(df, j, *before)
    # The event funnel itself is tested against its own brute-force reference elsewhere;
    # here its counts per period are what the step rows must show.
    steps = ["e1", "e2|e3", "e4"] if with_steps else []
    with project_of(df) as p:
        got = bottlenecks(p, since=now[0], until=now[1], steps=steps or None, window="10d")
        if steps:
            # Attempts that start in each period, on the whole history.
            funnel_now = event_funnel(p.events, steps, window="10d", since=now[0], until=now[1])
            funnel_before = event_funnel(
                p.events, steps, window="10d", since=before[0], until=before[1]
            )
    assert got.attrs["period"] == now and got.attrs["previous_period"] == before
    assert list(got.columns) == list(BOTTLENECK_COLUMNS)
    want: dict[tuple[str, str, str], tuple[int, int, int, int]] = {}
    for i in range(1, 4):
        key = ("stage", j.stage_ids[i - 1], j.stage_ids[i])
        want[key] = (reached[i - 1], reached[i], previous[i - 1], previous[i])
    for k in range(1, len(steps)):
        key = ("step", steps[k - 1], steps[k])
        want[key] = (
            int(funnel_now["count"].iloc[k - 1]),
            int(funnel_now["count"].iloc[k]),
            int(funnel_before["count"].iloc[k - 1]),
            int(funnel_before["count"].iloc[k]),
        )
    seen = {}
    for r in got.to_dict("records"):
        seen[(r["kind"], r["from"], r["to"])] = (
            r["entered_from"],
            r["reached"],
            r["previous_entered_from"],
            r["previous_reached"],
        )
        n, x, pn, px = want[(r["kind"], r["from"], r["to"])]
        assert r["lost"] == n - x and r["previous_lost"] == pn - px
        same(r["conversion"], x / n if n else math.nan)
        same(r["previous_conversion"], px / pn if pn else math.nan)
        test = two_proportion_test(px, pn, x, n)
        same(r["z"], test.z)
        same(r["p_value"], test.p_value)
        same(r["change"], (x / n - px / pn) if n and pn else math.nan)
    assert seen == want
    # Sorted by lost customers, most first; rank 1 is the most lost.
    assert list(got["lost"]) == sorted(got["lost"], reverse=True)
    assert all(
        r == 1 + sum(1 for v in got["lost"] if v > lost)
        for r, lost in zip(got["rank_lost"], got["lost"], strict=True)
    )
    gaps = got["kpi_gap"].dropna()
    assert set(got.loc[got["kpi_gap"].isna(), "rank_kpi"].isna()) <= {True}
    if len(gaps):
        worst = got.loc[got["rank_kpi"] == 1, "kpi_gap"]
        assert worst.iloc[0] == gaps.min()


def same(got: Any, want: float) -> None:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        assert got is None or pd.isna(got)
    else:
        assert got == pytest.approx(want)


@settings(max_examples=40, deadline=None)
@given(st.lists(event_st, min_size=0, max_size=50))
def test_kpi_status_reads_the_stage_funnel_and_time_in_stage(
    rows: list[tuple[str, int, str]],
) -> None:
    df = frame(rows)
    j = journey()
    with project_of(df) as p:
        got = kpi_status(p)
        funnel = stage_funnel(p).set_index("stage")
        days = time_in_stage(p.events, j).set_index("stage")["median_days"]
    assert list(got.columns) == list(KPI_COLUMNS)
    assert len(got) == sum(len(s.kpis) for s in j.stages)
    for r in got.to_dict("records"):
        kpi = next(k for k in j.stage(r["stage"]).kpis if k.metric == r["metric"])
        if r["metric"] == "median_days_in_stage":
            want = days.loc[r["stage"]]
        else:
            want = funnel.loc[r["stage"], r["metric"]]
        want = None if pd.isna(want) else float(want)
        same(r["actual"], math.nan if want is None else want)
        assert r["met"] == kpi.met(want)
        if want is None:
            assert pd.isna(r["gap"]) and pd.isna(r["relative_gap"])
            continue
        sign = 1 if kpi.direction == "at_least" else -1
        assert r["gap"] == pytest.approx(sign * (want - kpi.target))
        assert (r["gap"] >= 0) == r["met"]
        assert r["relative_gap"] == pytest.approx(r["gap"] / abs(kpi.target))


# -- golden cases ------------------------------------------------------------------------------


def golden_cases() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if (p / "params.json").exists())


@pytest.mark.parametrize("case", golden_cases(), ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    params = json.loads((case / "params.json").read_text(encoding="utf-8"))
    analysis = params.pop("analysis")
    with Project.from_events(case / "events.csv", journey=GOLDEN / "journey.yaml") as project:
        got = {"kpi_status": kpi_status, "bottlenecks": bottlenecks}[analysis](project, **params)
    expected = pd.read_csv(case / "expected.csv", keep_default_na=False, na_values=[""])
    assert len(got) == len(expected), got.to_string()
    for col in expected.columns:
        g, e = got[col].reset_index(drop=True), expected[col]
        if e.dtype.kind == "f" or g.dtype.kind == "f":
            pd.testing.assert_series_equal(
                g.astype("float64"), e.astype("float64"), check_names=False, rtol=1e-8
            )
        else:
            want = ["" if pd.isna(v) else str(v) for v in e]
            have = ["" if v is None or pd.isna(v) else str(v) for v in g]
            assert have == want, f"{col}: {have} != {want}"


def test_golden_folder_has_a_readme() -> None:
    assert (GOLDEN / "README.md").exists()


# -- periods -----------------------------------------------------------------------------------

ROWS = [
    ("a", 0, "e1"),
    ("a", 1, "e2"),
    ("b", 20, "e1"),
    ("b", 40, "e2"),
    ("b", 41, "e3"),
    ("c", 45, "e1"),
    ("d", 59, "e1"),
]


@pytest.fixture
def shop() -> Iterator[Project]:
    with project_of(frame(ROWS)) as p:
        yield p


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def test_default_is_the_last_30_days_against_the_30_before(shop: Project) -> None:
    # The last event is on day 59 (in its first hours): the period ends at midnight after it.
    df = bottlenecks(shop)
    assert df.attrs["period"] == (day(30), day(60))
    assert df.attrs["previous_period"] == (day(0), day(30))
    by = {(r["from"], r["to"]): r for r in df.to_dict("records")}
    # Days 30-59: b (e2, e3), c, d: s1 reached by 3, s2 by b.
    assert (by[("s1", "s2")]["entered_from"], by[("s1", "s2")]["reached"]) == (3, 1)
    # Days 0-29: a (e1, e2), b (e1).
    assert by[("s1", "s2")]["previous_entered_from"] == 2
    assert by[("s1", "s2")]["previous_reached"] == 1


def test_periods_from_since_until_or_explicit(shop: Project) -> None:
    df = bottlenecks(shop, since=day(40), until=day(50))
    assert df.attrs["previous_period"] == (day(30), day(40))
    only_since = bottlenecks(shop, since="2025-04-20")  # to the end of the data (day 60)
    assert only_since.attrs["period"] == (day(50), day(60))
    assert only_since.attrs["previous_period"] == (day(40), day(50))
    only_until = bottlenecks(shop, until=day(30))  # from the first day of data
    assert only_until.attrs["period"] == (day(0), day(30))
    assert only_until.attrs["previous_period"] == (day(-30), day(0))
    assert only_until["previous_entered_from"].fillna(0).eq(0).all()
    explicit = bottlenecks(shop, compare_to="2025-03-01:2025-03-21")
    assert explicit.attrs["period"] == (None, None)  # everything
    assert explicit.attrs["previous_period"] == (day(0), day(20))
    pair = bottlenecks(shop, since=day(30), compare_to=(day(0), day(30)))
    assert pair.attrs["previous_period"] == (day(0), day(30))
    none = bottlenecks(shop, compare_to=None)
    assert none.attrs["previous_period"] is None
    assert none[["previous_conversion", "change", "z", "p_value"]].isna().all().all()
    assert none["previous_lost"].isna().all() and not none["significant"].any()
    assert none["rank_change"].isna().all()
    assert bottlenecks(shop, compare_to="none").attrs["previous_period"] is None
    # All of the data: s1 reached by a, b, c, d.
    assert none.set_index("from").loc["s1", "entered_from"] == 4


def test_bad_periods_and_options_name_the_option(shop: Project) -> None:
    with pytest.raises(ValueError, match="compare_to 'last month' is not a period"):
        bottlenecks(shop, compare_to="last month")
    with pytest.raises(ValueError, match="compare_to '2025-03-10:2025-03-01' ends before"):
        bottlenecks(shop, compare_to="2025-03-10:2025-03-01")
    with pytest.raises(ValueError, match="compare_to 5 is not a period"):
        bottlenecks(shop, compare_to=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"since .* must come before until"):
        bottlenecks(shop, since="2025-04-01", until="2025-03-01")
    with pytest.raises(ValueError, match="since 'tomorrow' is not a date"):
        bottlenecks(shop, since="tomorrow")
    with pytest.raises(ValueError, match="the period holds no time"):
        bottlenecks(shop, since="2026-01-01")
    with pytest.raises(ValueError, match="confidence"):
        bottlenecks(shop, confidence=0)
    with pytest.raises(ValueError, match="unknown order"):
        bottlenecks(shop, steps=["e1", "e2"], order="backwards")
    with pytest.raises(ValueError, match="until 'later' is not a date"):
        kpi_status(shop, until="later")


def test_labels_in_another_language_and_repeated_step_pairs(shop: Project) -> None:
    df = bottlenecks(shop, compare_to=None, steps=["e1", "e2", "e1", "e2"], window="60d")
    steps = df[df["kind"] == "step"]
    assert len(steps) == 3  # e1 → e2 appears twice and is kept twice
    assert sorted(steps["label"]) == ["e1 → e2", "e1 → e2", "e2 → e1"]


def test_empty_data() -> None:
    empty = frame([])
    with project_of(frame([("a", 0, "x")])) as p:
        later = {"since": "2030-01-01", "until": "2030-02-01"}
        df = bottlenecks(p, **later)
        assert df["entered_from"].eq(0).all() and df["conversion"].isna().all()
        assert df["previous_entered_from"].eq(0).all()
        status = kpi_status(p, **later)
        assert status["actual"].iloc[0] == 0  # reached: 0 customers
        assert status["met"].iloc[0] is False
    with project_of(empty) as p:
        df = bottlenecks(p)
        assert df.attrs["previous_period"] is None
        assert len(df) == 3 and df["lost"].eq(0).all()


def test_no_kpis_gives_an_empty_table() -> None:
    j, _ = parse_journey("kundresa: 1\nname: Plain\ntemplate: buyers-journey")
    assert j is not None
    with Project.from_events(frame([("a", 0, "x")]), journey=j) as p:
        status = kpi_status(p)
        assert status.empty and list(status.columns) == list(KPI_COLUMNS)
        df = bottlenecks(p, compare_to=None)
        assert df["kpi_target"].isna().all() and df["rank_kpi"].isna().all()


# -- Spark -------------------------------------------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
def test_spark_gives_the_same_bottlenecks_and_kpis(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import random

    import ibis
    import pyarrow.parquet as pq

    from kundresa.store.engines import spark_session

    rnd = random.Random(5)
    rows = [
        (f"c{rnd.randint(0, 60)}", rnd.randint(0, 59), rnd.choice(["e1", "e2", "e3", "e4", "x"]))
        for _ in range(250)
    ]
    with project_of(frame(rows)) as p:
        pq.write_table(p.events.to_pyarrow(), tmp_path / "events.parquet")
        session = spark_session("local[2]")
        spark = ibis.pyspark.connect(session).read_parquet(tmp_path / "events.parquet")
        for kw in (
            {},
            {"since": day(20), "until": day(50), "steps": ["e1", "e2|e3"], "window": "20d"},
        ):
            pd.testing.assert_frame_equal(bottlenecks(p, **kw), bottlenecks(p, events=spark, **kw))
        pd.testing.assert_frame_equal(kpi_status(p), kpi_status(p, events=spark))
