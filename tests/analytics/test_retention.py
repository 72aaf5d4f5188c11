"""Retention, repeat purchases and lifecycle against a plain-Python reference, golden cases,
bad input, empty data and Spark parity."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics.retention import (
    LIFECYCLE_COLUMNS,
    REPEAT_COLUMNS,
    RETENTION_COLUMNS,
    customer_periods,
    lifecycle,
    repeat_purchase_rate,
    retention,
    retention_matrix,
)
from kundresa.model.parse import parse_journey
from kundresa.store.schema import EVENT_SCHEMA

GOLDEN = Path(__file__).parent.parent / "golden" / "retention"

Row = tuple[str, datetime, str]  # customer, UTC time, event name


# -- the reference, written from the definitions -----------------------------------------------


def period_start(d: date, period: str) -> date:
    """The first day of the day, ISO week (Monday) or month that ``d`` is in."""
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.weekday())
    return d.replace(day=1)


def periods_between(a: date, b: date, period: str) -> int:
    """Whole periods from the period starting ``a`` to the one starting ``b``."""
    if period == "day":
        return (b - a).days
    if period == "week":
        return (b - a).days // 7
    return (b.year - a.year) * 12 + b.month - a.month


def next_period(d: date, period: str) -> date:
    if period == "day":
        return d + timedelta(days=1)
    if period == "week":
        return d + timedelta(days=7)
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def is_purchase(event: str, purchase: str) -> bool:
    return event in purchase.split("|")


def ref_retention(
    rows: list[Row],
    cohort: str,
    period: str,
    returning: str,
    purchase: str,
    periods: int | None = None,
) -> list[tuple[date, int, int, int, float]]:
    if not rows:
        return []
    last = max(period_start(t.date(), period) for _, t, _ in rows)
    active: dict[str, set[date]] = {}
    bought: dict[str, set[date]] = {}
    for c, t, e in rows:
        p = period_start(t.date(), period)
        active.setdefault(c, set()).add(p)
        if is_purchase(e, purchase):
            bought.setdefault(c, set()).add(p)
    start = {
        c: min(ps) for c, ps in (active.items() if cohort == "first_event" else bought.items())
    }
    back = active if returning == "any" else bought
    out = []
    for k0 in sorted(set(start.values())):
        members = [c for c, s in start.items() if s == k0]
        span = periods_between(k0, last, period) + 1
        for k in range(span if periods is None else min(span, periods)):
            n = sum(
                1
                for c in members
                if any(periods_between(k0, p, period) == k for p in back.get(c, ()))
            )
            out.append((k0, len(members), k, n, n / len(members)))
    return out


def ref_repeat(rows: list[Row], purchase: str, period: str | None) -> list[tuple[Any, ...]]:
    times: dict[str, list[datetime]] = {}
    for c, t, e in rows:
        if is_purchase(e, purchase):
            times.setdefault(c, []).append(t)
    groups: dict[Any, list[int]] = {}
    for ts in times.values():
        key = period_start(min(ts).date(), period) if period else None
        groups.setdefault(key, []).append(len(ts))
    if period is None and not groups:
        return [(0, 0, None, 0, None)]
    out = []
    for key in sorted(groups, key=lambda k: (k is not None, k)):
        counts = groups[key]
        n, repeat, total = len(counts), sum(1 for x in counts if x >= 2), sum(counts)
        row = (n, repeat, repeat / n, total, total / n)
        out.append(row if period is None else (key, *row))
    return out


def ref_lifecycle(
    rows: list[Row], period: str, active_kind: str, purchase: str
) -> list[tuple[date, int, int, int, int, int]]:
    if not rows:
        return []
    last = max(period_start(t.date(), period) for _, t, _ in rows)
    active: dict[str, set[date]] = {}
    for c, t, e in rows:
        if active_kind == "any" or is_purchase(e, purchase):
            active.setdefault(c, set()).add(period_start(t.date(), period))
    if not active:
        return []
    first = min(min(ps) for ps in active.values())
    out = []
    prev: date | None = None
    p = first
    while p <= last:
        new = ret = res = dormant = 0
        for ps in active.values():
            was = prev is not None and prev in ps
            if p in ps:
                if p == min(ps):
                    new += 1
                elif was:
                    ret += 1
                else:
                    res += 1
            elif was:
                dormant += 1
        out.append((p, new, ret, res, dormant, new + ret + res))
        prev, p = p, next_period(p, period)
    return out


# -- events tables -----------------------------------------------------------------------------


def events_table(rows: Iterable[Row], props: list[dict[str, str]] | None = None) -> ibis.Table:
    rows = list(rows)
    n = len(rows)
    data = {
        "customer_id": [r[0] for r in rows],
        "timestamp": [r[1] for r in rows],
        "event": [r[2] for r in rows],
        "channel": [None] * n,
        "value": [None] * n,
        "event_id": [f"{i:05d}" for i in range(n)],
        "session_id": [None] * n,
        "properties": [list((props[i] if props else {}).items()) for i in range(n)],
    }
    return ibis.memtable(pa.table(data, schema=EVENT_SCHEMA.to_pyarrow()))


def as_tuples(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    out = []
    for row in df.itertuples(index=False, name=None):
        out.append(tuple(None if isinstance(v, float) and pd.isna(v) else v for v in row))
    return out


def assert_rows_equal(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w)
        for a, b in zip(g, w, strict=True):
            if isinstance(b, float):
                assert a == pytest.approx(b), (g, w)
            else:
                assert a == b, (g, w)


# -- property tests ----------------------------------------------------------------------------

# Starts chosen so that a few months cross a year boundary (2024-12-30 starts ISO week 1 of
# 2025), an ISO week 53 (2020-12-28) and a leap-year February (2024).
STARTS = [datetime(2024, 11, 20), datetime(2020, 12, 1), datetime(2024, 1, 25)]
EDGES_US = [0, 86_399_999_999]  # midnight, and the last microsecond of a day


@st.composite
def event_rows(draw: st.DrawFn) -> list[Row]:
    start = draw(st.sampled_from(STARTS))
    n = draw(st.integers(0, 24))
    rows = []
    for _ in range(n):
        day = draw(st.integers(0, 110))
        us = draw(st.one_of(st.sampled_from(EDGES_US), st.integers(0, 86_399_999_999)))
        t = start + timedelta(days=day, microseconds=us)
        rows.append((draw(st.sampled_from("abcde")), t, draw(st.sampled_from(["v", "b", "o"]))))
    return rows


PURCHASES = st.sampled_from(["b", "b|o"])
PERIOD_KINDS = st.sampled_from(["day", "week", "month"])


@settings(max_examples=120, deadline=None)
@given(
    event_rows(),
    st.sampled_from(["first_event", "first_purchase"]),
    PERIOD_KINDS,
    st.sampled_from(["any", "purchase"]),
    PURCHASES,
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_retention_matches_reference(
    rows: list[Row],
    cohort: str,
    period: str,
    returning: str,
    purchase: str,
    periods: int | None,
) -> None:
    df = retention(
        events_table(rows),
        cohort=cohort,
        period=period,
        returning=returning,
        purchase=purchase,
        periods=periods,
    )
    assert list(df.columns) == list(RETENTION_COLUMNS)
    want = ref_retention(rows, cohort, period, returning, purchase, periods)
    assert_rows_equal(as_tuples(df), want)
    # The matrix holds the same rates, one row per cohort.
    matrix = retention_matrix(df)
    assert len(matrix) == len({w[0] for w in want})
    for c, _, k, _, rate in want:
        assert matrix.loc[matrix["cohort"] == c, str(k)].item() == pytest.approx(rate)


@settings(max_examples=80, deadline=None)
@given(event_rows(), st.one_of(st.none(), PERIOD_KINDS), PURCHASES)
def test_repeat_purchase_rate_matches_reference(
    rows: list[Row], period: str | None, purchase: str
) -> None:
    df = repeat_purchase_rate(events_table(rows), purchase=purchase, period=period)
    lead = ["cohort"] if period else []
    assert list(df.columns) == [*lead, *REPEAT_COLUMNS]
    assert_rows_equal(as_tuples(df), ref_repeat(rows, purchase, period))
    if period:  # the cohort rows add up to the totals
        totals = repeat_purchase_rate(events_table(rows), purchase=purchase)
        for c in ("purchasers", "repeat_purchasers", "purchases"):
            assert df[c].sum() == totals[c].item()


@settings(max_examples=100, deadline=None)
@given(event_rows(), PERIOD_KINDS, st.sampled_from(["any", "purchase"]), PURCHASES)
def test_lifecycle_matches_reference(
    rows: list[Row], period: str, active: str, purchase: str
) -> None:
    df = lifecycle(events_table(rows), period=period, active=active, purchase=purchase)
    assert list(df.columns) == list(LIFECYCLE_COLUMNS)
    want = ref_lifecycle(rows, period, active, purchase)
    assert_rows_equal(as_tuples(df), want)
    # Bookkeeping: who was active last period either returns or goes dormant.
    for prev, cur in itertools.pairwise(want):
        assert cur[2] + cur[4] == prev[5]


# -- hand-written cases ------------------------------------------------------------------------


def test_customer_periods_counts_events_and_purchases() -> None:
    rows = [
        ("a", datetime(2024, 12, 31, 10), "v"),
        ("a", datetime(2025, 1, 5, 23, 59, 59), "b"),
        ("a", datetime(2025, 1, 6), "b"),
    ]
    df = customer_periods(events_table(rows), period="week", purchase="b").to_pandas()
    df = df.sort_values("period_number").reset_index(drop=True)
    assert df["events"].tolist() == [2, 1]
    assert df["purchases"].tolist() == [1, 1]
    assert df["period_number"].diff().iloc[1] == 1  # consecutive ISO weeks across New Year


def test_period_starts_are_dates() -> None:
    rows = [("a", datetime(2025, 3, 15, 12), "v"), ("a", datetime(2025, 4, 2), "v")]
    df = retention(events_table(rows), period="month")
    assert df["cohort"].tolist() == [date(2025, 3, 1)] * 2
    life = lifecycle(events_table(rows), period="week")
    assert life["period"].tolist()[:2] == [date(2025, 3, 10), date(2025, 3, 17)]


JOURNEY = """
kundresa: 1
name: Shop
template: kundresa-5
touchpoints:
  - {id: repeat_purchase, stage: retention, match: {event: b, nth: 2}}
  - {id: first_purchase, stage: decision, match: {event: b}}
  - {id: visit, stage: awareness, match: {event: v}}
"""


def journey() -> Any:
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


def test_touchpoint_and_stage_purchases() -> None:
    j = journey()
    start = datetime(2025, 1, 6)
    rows = [
        ("a", start, "v"),
        ("a", start + timedelta(days=8), "b"),
        ("a", start + timedelta(days=15), "b"),
        ("a", start + timedelta(days=16), "b"),
        ("b", start + timedelta(days=1), "b"),
        ("c", start + timedelta(days=2), "v"),
    ]
    t = events_table(rows)
    # Stages decision and retention together are every purchase: the same as the event.
    both = "stage:decision|retention"
    for kw in (
        {"cohort": "first_purchase", "returning": "purchase"},
        {"cohort": "first_event", "returning": "purchase"},
    ):
        assert_rows_equal(
            as_tuples(retention(t, purchase=both, journey=j, **kw)),
            as_tuples(retention(t, purchase="b", **kw)),
        )
    # Only first purchases are the first_purchase touchpoint: nobody repeats.
    first = repeat_purchase_rate(t, purchase="touchpoint:first_purchase", journey=j)
    assert first[["purchasers", "repeat_purchasers", "purchases"]].values.tolist() == [[2, 0, 2]]
    # Repeat purchases alone: a's 2nd and 3rd.
    again = repeat_purchase_rate(t, purchase="touchpoint:repeat_purchase", journey=j)
    assert again[["purchasers", "repeat_purchasers", "purchases"]].values.tolist() == [[1, 1, 2]]
    life = lifecycle(t, active="purchase", purchase="stage:retention", journey=j)
    assert life["new"].tolist() == [1]  # a's first repeat purchase, in week 3


def test_bad_input_names_the_option() -> None:
    t = events_table([("a", datetime(2025, 1, 1), "v")])
    j = journey()
    with pytest.raises(ValueError, match="unknown period 'year'; use one of day, week, month"):
        retention(t, period="year")
    with pytest.raises(ValueError, match="unknown period 'hour'"):
        lifecycle(t, period="hour")
    with pytest.raises(ValueError, match="unknown period 'quarter'"):
        repeat_purchase_rate(t, period="quarter")
    with pytest.raises(ValueError, match="unknown cohort 'signup'; use one of first_event"):
        retention(t, cohort="signup")
    with pytest.raises(ValueError, match="unknown returning 'visit'"):
        retention(t, returning="visit")
    with pytest.raises(ValueError, match="unknown active 'visit'"):
        lifecycle(t, active="visit")
    with pytest.raises(ValueError, match="periods must be a whole number of at least 1"):
        retention(t, periods=0)
    with pytest.raises(ValueError, match="purchase 'stage:decision' needs a journey"):
        retention(t, purchase="stage:decision")
    with pytest.raises(ValueError, match="purchase 'touchpoint:first_purchase' needs a journey"):
        repeat_purchase_rate(t, purchase="touchpoint:first_purchase")
    with pytest.raises(ValueError, match="the journey has no touchpoint 'checkout'"):
        retention(t, purchase="touchpoint:checkout", journey=j)
    with pytest.raises(ValueError, match="the journey has no stage 'loyalty'"):
        lifecycle(t, purchase="stage:loyalty", journey=j)
    with pytest.raises(ValueError, match="purchase: step 'stage:' names no stage"):
        retention(t, purchase="stage:")
    with pytest.raises(ValueError, match="needs the retention\\(\\) table"):
        retention_matrix(pd.DataFrame({"cohort": []}))


def test_empty_events_give_empty_frames_with_the_columns() -> None:
    t = events_table([])
    for cohort in ("first_event", "first_purchase"):
        df = retention(t, cohort=cohort)
        assert df.empty
        assert list(df.columns) == list(RETENTION_COLUMNS)
    matrix = retention_matrix(retention(t))
    assert matrix.empty
    assert list(matrix.columns) == ["cohort", "cohort_size"]
    life = lifecycle(t)
    assert life.empty
    assert list(life.columns) == list(LIFECYCLE_COLUMNS)
    by_month = repeat_purchase_rate(t, period="month")
    assert by_month.empty
    assert list(by_month.columns) == ["cohort", *REPEAT_COLUMNS]
    # The totals row says "nobody purchased" rather than nothing.
    totals = repeat_purchase_rate(t)
    assert list(totals.columns) == list(REPEAT_COLUMNS)
    assert totals[["purchasers", "repeat_purchasers", "purchases"]].values.tolist() == [[0, 0, 0]]
    assert totals[["repeat_rate", "purchases_per_purchaser"]].isna().all(axis=None)


def test_events_without_purchases() -> None:
    t = events_table([("a", datetime(2025, 1, 1), "v"), ("b", datetime(2025, 2, 1), "v")])
    assert retention(t, cohort="first_purchase").empty
    assert lifecycle(t, active="purchase").empty
    df = retention(t, returning="purchase", period="month")
    assert df["customers"].tolist() == [0, 0, 0]
    assert df["cohort_size"].tolist() == [1, 1, 1]


# -- golden cases ------------------------------------------------------------------------------


def golden_cases() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


def run_golden(case: Path) -> pd.DataFrame:
    from kundresa.project import read_events

    params = json.loads((case / "params.json").read_text(encoding="utf-8"))
    analysis = params.pop("analysis")
    events = read_events(case / "events.csv")
    if analysis == "retention":
        return retention(events, **params)
    if analysis == "retention_matrix":
        return retention_matrix(retention(events, **params))
    if analysis == "repeat_purchase_rate":
        return repeat_purchase_rate(events, **params)
    if analysis == "lifecycle":
        return lifecycle(events, **params)
    raise AssertionError(f"unknown analysis {analysis!r} in {case}")


@pytest.mark.parametrize("case", golden_cases(), ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    got = run_golden(case)
    expected = pd.read_csv(case / "expected.csv", keep_default_na=False, na_values=[""])
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected), got.to_string()
    for col in expected.columns:
        if expected[col].dtype.kind == "f" or got[col].dtype.kind == "f":
            pd.testing.assert_series_equal(
                got[col].astype("float64"),
                expected[col].astype("float64"),
                check_names=False,
                rtol=1e-9,
            )
        else:
            assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col


def test_golden_cases_exist_with_a_readme() -> None:
    names = {p.name for p in golden_cases()}
    assert names >= {
        "weekly_year_boundary",
        "monthly_first_purchase_repeat",
        "lifecycle_resurrected",
    }
    readme = (GOLDEN / "README.md").read_text(encoding="utf-8")
    assert all(f"`{n}`" in readme for n in names)


# -- engines -----------------------------------------------------------------------------------


# PySpark 4.0 passes pandas 3 a deprecated `copy=` and py4j leaves gateway sockets to the GC:
# both are PySpark's, not ours.
@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
def test_spark_gives_the_same_retention(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import random

    import pyarrow.parquet as pq

    from kundresa.store.engines import spark_session

    rnd = random.Random(11)
    start = datetime(2024, 11, 25)
    rows = [
        (
            rnd.choice("pqrstuvwxyz"),
            start + timedelta(days=rnd.randint(0, 100), seconds=rnd.randint(0, 86_399)),
            rnd.choice(["v", "v", "b", "o"]),
        )
        for _ in range(400)
    ]
    duck = events_table(rows)
    pq.write_table(duck.to_pyarrow(), tmp_path / "events.parquet")
    session = spark_session("local[2]")
    spark = ibis.pyspark.connect(session).read_parquet(tmp_path / "events.parquet")
    j = journey()
    for kw in (
        {"cohort": "first_event", "period": "week"},
        {"cohort": "first_purchase", "period": "month", "returning": "purchase", "purchase": "b|o"},
        {"cohort": "first_event", "period": "day", "returning": "purchase", "periods": 10},
        {"cohort": "first_purchase", "purchase": "stage:retention", "journey": j},
    ):
        args: dict[str, Any] = kw
        pd.testing.assert_frame_equal(retention(duck, **args), retention(spark, **args))
    for kw in ({}, {"period": "week", "purchase": "b|o"}):
        pd.testing.assert_frame_equal(
            repeat_purchase_rate(duck, **kw), repeat_purchase_rate(spark, **kw)
        )
    for kw in (
        {"period": "week"},
        {
            "period": "month",
            "active": "purchase",
            "purchase": "touchpoint:first_purchase",
            "journey": j,
        },
    ):
        pd.testing.assert_frame_equal(lifecycle(duck, **kw), lifecycle(spark, **kw))


def test_matrix_of_a_long_day_history_is_built_in_linear_time() -> None:
    """Two customers two centuries apart (the widest span a load keeps) make a triangle of
    73,000 day periods: the matrix is one cast of the block, not one per column (which took
    minutes, quadratic in the periods)."""
    import time
    from datetime import date

    n = 73_000
    long = pd.DataFrame(
        {
            "cohort": [date(1900, 1, 2)] * n + [date(2099, 12, 30)],
            "cohort_size": [1] * (n + 1),
            "period": [*range(n), 0],
            "customers": [1, *([0] * (n - 1)), 1],
            "rate": [1.0, *([0.0] * (n - 1)), 1.0],
        }
    )
    start = time.perf_counter()
    matrix = retention_matrix(long)
    assert time.perf_counter() - start < 20
    assert matrix.shape == (2, n + 2)
    assert matrix["cohort_size"].dtype == "int64"
    assert (matrix.dtypes.iloc[2:] == "float64").all()
    assert matrix["0"].tolist() == [1.0, 1.0]
    assert matrix.loc[1, "1"] != matrix.loc[1, "1"]  # NaN: no period 1 for the last cohort
