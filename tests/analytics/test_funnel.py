"""Event funnels against a brute-force reference written from the README ("Event funnels"),
golden cases, bad input."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics._duration import parse_duration
from kundresa.analytics._fast import portable
from kundresa.analytics.funnel import (
    FUNNEL_COLUMNS,
    Exclusion,
    Step,
    conversion_trend,
    event_funnel,
    funnel_attempts,
    funnel_customers,
    funnel_report,
    funnel_step_customers,
    parse_exclusion,
    parse_step,
    time_to_convert_histogram,
)
from kundresa.store.schema import EVENT_SCHEMA

T0 = datetime(2025, 1, 1)
GOLDEN = Path(__file__).parent.parent / "golden" / "funnel"

Row = tuple[str, int, str]  # customer, seconds since T0, event name


# -- the reference -----------------------------------------------------------------------------


def _names(step: str) -> set[str]:
    return set(step.split("|"))


def _fills(name: str, step: str) -> bool:
    return name in _names(step)


def _sequence(rows: list[tuple[int, str]], steps: list[str]) -> list[tuple[int, str]]:
    """A customer's events by time; ties in the funnel's step order (an event's first step),
    events that fill no step last."""

    def first(name: str) -> int:
        return next((j for j, s in enumerate(steps) if _fills(name, s)), len(steps))

    return sorted(rows, key=lambda r: (r[0], first(r[1]), r[1]))


def _max_matching(names: list[str], steps: list[str]) -> int:
    """How many steps distinct events can fill (maximum bipartite matching, Kuhn)."""
    owner: dict[int, int] = {}  # step -> event

    def place(e: int, seen: set[int]) -> bool:
        for s, step in enumerate(steps):
            if s in seen or not _fills(names[e], step):
                continue
            seen.add(s)
            if s not in owner or place(owner[s], seen):
                owner[s] = e
                return True
        return False

    return sum(1 for e in range(len(names)) if place(e, set()))


def _ordered_level(seq: list[tuple[int, str]], steps: list[str], i: int, w: int) -> int:
    """Highest step reachable from start i over ALL ways of picking later events."""
    limit = seq[i][0] + w

    def deeper(pos: int, j: int) -> int:
        if j == len(steps):
            return j
        best = j
        for p in range(pos + 1, len(seq)):
            if seq[p][0] <= limit and _fills(seq[p][1], steps[j]):
                best = max(best, deeper(p, j + 1))
        return best

    return deeper(i, 1)


def _attempts(
    seq: list[tuple[int, str]], steps: list[str], w: int, order: str
) -> list[tuple[int, list[int]]]:
    """(start index, step times) of every attempt, step events picked earliest first."""
    out = []
    k = len(steps)
    for i, (t0, name) in enumerate(seq):
        if order == "any":
            if not any(_fills(name, s) for s in steps):
                continue
            window = [(t, n) for t, n in seq if t0 <= t <= t0 + w]
            times = []
            for j in range(1, k + 1):
                reach = [
                    tau
                    for tau in sorted({t for t, _ in window})
                    if _max_matching([n for t, n in window if t <= tau], steps) >= j
                ]
                if not reach:
                    break
                times.append(reach[0])
            out.append((i, times))
            continue
        if not _fills(name, steps[0]):
            continue
        times, pos = [t0], i
        for j in range(1, k):
            if order == "strict":
                nxt = pos + 1 if pos + 1 < len(seq) and _fills(seq[pos + 1][1], steps[j]) else None
            else:
                nxt = next(
                    (p for p in range(pos + 1, len(seq)) if _fills(seq[p][1], steps[j])), None
                )
            if nxt is None or seq[nxt][0] > t0 + w:
                break
            times.append(seq[nxt][0])
            pos = nxt
        if order == "ordered":
            assert len(times) == _ordered_level(seq, steps, i, w), "greedy is not optimal"
        out.append((i, times))
    return out


def reference_funnel(
    rows: list[Row],
    steps: list[str],
    window_s: int,
    order: str,
    exclusions: list[tuple[str, int, int]],
) -> dict[str, tuple[int, list[int]]]:
    """Customer -> (level, step times of the best attempt), straight from the README ("Event
    funnels")."""
    out: dict[str, tuple[int, list[int]]] = {}
    for customer in sorted({r[0] for r in rows}):
        seq = _sequence([(t, e) for c, t, e in rows if c == customer], steps)
        attempts = _attempts(seq, steps, window_s, order)
        if not attempts:
            continue
        excluded = False
        for _, times in attempts:
            t0 = times[0]
            for x, a, b in exclusions:
                if len(times) < a:
                    continue
                end = times[b - 1] if len(times) >= b else None
                for t, n in seq:
                    inside = t < end if end is not None else t <= t0 + window_s
                    if n == x and times[a - 1] < t and inside:
                        excluded = True
        if excluded:
            continue
        level = max(len(times) for _, times in attempts)
        best = next(times for _, times in attempts if len(times) == level)
        out[customer] = (level, best)
    return out


# -- running the Ibis implementation -----------------------------------------------------------


def events_table(rows: list[Row], props: list[dict[str, str]] | None = None) -> ibis.Table:
    n = len(rows)
    data = {
        "customer_id": [r[0] for r in rows],
        "timestamp": [T0 + timedelta(seconds=r[1]) for r in rows],
        "event": [r[2] for r in rows],
        "channel": [None] * n,
        "value": [None] * n,
        "event_id": [f"{i:04d}" for i in range(n)],
        "session_id": [None] * n,
        "properties": [list((props[i] if props else {}).items()) for i in range(n)],
    }
    arrow = pa.table(data, schema=EVENT_SCHEMA.to_pyarrow())
    return ibis.memtable(arrow)


def implementation(
    rows: list[Row], steps: list[str], window_s: int, order: str, exclusions: list[Any]
) -> dict[str, tuple[int, list[int]]]:
    t = events_table(rows)
    df = funnel_customers(
        t,
        steps,
        window=window_s,
        order=order,
        exclusions=[Exclusion(*e) for e in exclusions],
    ).to_pandas()
    out = {}
    for r in df.itertuples(index=False):
        level = int(r.level)
        times = [
            int((getattr(r, f"t{j}") - pd.Timestamp(T0)).total_seconds())
            for j in range(1, level + 1)
        ]
        assert all(pd.isna(getattr(r, f"t{j}")) for j in range(level + 1, len(steps) + 1))
        out[r.customer_id] = (level, times)
    return out


# -- property tests ----------------------------------------------------------------------------

NAMES = ["v", "c", "b", "x"]
row_st = st.tuples(
    st.sampled_from(["p", "q", "r"]),
    st.integers(0, 8).map(lambda m: 60 * m),
    st.sampled_from(NAMES),
)
steps_st = st.lists(st.sampled_from(["v", "c", "b", "v|c", "c|b"]), min_size=2, max_size=4)


@st.composite
def cases(draw: st.DrawFn, orders: tuple[str, ...] = ("ordered", "strict", "any")) -> tuple:
    rows = draw(st.lists(row_st, max_size=14))
    steps = draw(steps_st)
    window = draw(st.sampled_from([0, 60, 120, 300, 3600]))
    order = draw(st.sampled_from(orders))
    k = len(steps)
    excl = draw(
        st.lists(
            st.tuples(st.sampled_from(["x", "b", "v"]), st.integers(1, k - 1)).flatmap(
                lambda t: st.tuples(st.just(t[0]), st.just(t[1]), st.integers(t[1] + 1, k))
            ),
            max_size=2,
        )
    )
    return rows, steps, window, order, excl


@settings(max_examples=60, deadline=None)
@given(cases())
def test_customers_match_reference(case: tuple) -> None:
    rows, steps, window, order, excl = case
    assert implementation(rows, steps, window, order, excl) == reference_funnel(
        rows, steps, window, order, excl
    )


@settings(max_examples=20, deadline=None)
@given(cases())
def test_funnel_table_matches_reference(case: tuple) -> None:
    rows, steps, window, order, excl = case
    ref = reference_funnel(rows, steps, window, order, excl)
    df = event_funnel(events_table(rows), steps, window=window, order=order, exclusions=excl)
    assert list(df.columns) == list(FUNNEL_COLUMNS)
    assert df["count"].tolist() == [
        sum(1 for level, _ in ref.values() if level >= j) for j in range(1, len(steps) + 1)
    ]
    for j in range(2, len(steps) + 1):
        gaps = sorted(t[j - 1] - t[j - 2] for level, t in ref.values() if level >= j)
        row = df.iloc[j - 1]
        if not gaps:
            assert math.isnan(row["mean_seconds_to_convert"])
            assert math.isnan(row["median_seconds_to_convert"])
            continue
        assert row["mean_seconds_to_convert"] == pytest.approx(sum(gaps) / len(gaps))
        mid = len(gaps) // 2
        median = gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2
        assert row["median_seconds_to_convert"] == median


@settings(max_examples=10, deadline=None)
@given(cases())
def test_attempts_agree_with_customers(case: tuple) -> None:
    rows, steps, window, order, excl = case
    t = events_table(rows)
    attempts = funnel_attempts(t, steps, window=window, order=order, exclusions=excl).to_pandas()
    customers = funnel_customers(t, steps, window=window, order=order, exclusions=excl)
    kept = attempts.groupby("customer_id").filter(lambda g: not g["excluded"].any())
    best = kept.groupby("customer_id")["level"].max().to_dict()
    got = customers.to_pandas().set_index("customer_id")["level"].to_dict()
    assert got == best


# -- hand-written cases ------------------------------------------------------------------------


def test_tie_rule_examples() -> None:
    # Same instant: taken in step order, so view then buy converts either way round.
    rows = [("a", 0, "buy"), ("a", 0, "v")]
    assert implementation(rows, ["v", "buy"], 0, "ordered", []) == {"a": (2, [0, 0])}
    # One event fills one step: [v, v] needs two views.
    assert implementation([("a", 0, "v")], ["v", "v"], 60, "ordered", []) == {"a": (1, [0])}
    two = [("a", 0, "v"), ("a", 0, "v")]
    assert implementation(two, ["v", "v"], 0, "strict", []) == {"a": (2, [0, 0])}
    # [a, b, a] all at one instant: the sequence is a, a, b (first step of each event).
    aba = [("a", 0, "a"), ("a", 0, "b"), ("a", 0, "a")]
    assert implementation(aba, ["a", "b", "a"], 60, "ordered", []) == {"a": (2, [0, 0])}
    assert implementation(aba, ["a", "b", "a"], 60, "any", []) == {"a": (3, [0, 0, 0])}


def test_any_times_are_when_each_level_is_reached() -> None:
    rows = [("a", 0, "b"), ("a", 60, "v"), ("a", 120, "c")]
    assert implementation(rows, ["v", "c", "b"], 300, "any", []) == {"a": (3, [0, 60, 120])}


def test_strict_breaks_on_other_events() -> None:
    rows = [("a", 0, "v"), ("a", 60, "x"), ("a", 120, "b"), ("a", 180, "v"), ("a", 240, "b")]
    assert implementation(rows, ["v", "b"], 3600, "strict", []) == {"a": (2, [180, 240])}
    assert implementation(rows, ["v", "b"], 3600, "ordered", []) == {"a": (2, [0, 120])}


def test_breakdown_by_property_uses_first_step_event() -> None:
    rows = [("a", 0, "v"), ("a", 60, "b"), ("b", 0, "v"), ("c", 0, "b")]
    t = events_table(rows, props=[{"src": "ads"}, {"src": "mail"}, {}, {"src": "ads"}])
    df = event_funnel(t, ["v", "b"], by="src")
    assert df.columns[0] == "segment"
    assert df[["segment", "step", "count"]].values.tolist() == [
        ["(none)", 1, 1],
        ["(none)", 2, 0],
        ["ads", 1, 1],
        ["ads", 2, 1],
    ]


def test_empty_events() -> None:
    df = event_funnel(events_table([]), ["v", "b"])
    assert df["count"].tolist() == [0, 0]
    assert list(df.columns) == list(FUNNEL_COLUMNS)


# -- golden cases ------------------------------------------------------------------------------


def _golden_cases() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    from kundresa.project import read_events

    params = json.loads((case / "params.json").read_text(encoding="utf-8"))
    events = read_events(case / "events.csv")
    got = event_funnel(
        events,
        params["steps"],
        window=params.get("window", "7d"),
        order=params.get("order", "ordered"),
        exclusions=params.get("exclusions", []),
        by=params.get("by"),
    )
    expected = pd.read_csv(case / "expected.csv", keep_default_na=False, na_values=[""])
    assert list(got.columns) == list(expected.columns)
    for col in expected.columns:
        if expected[col].dtype.kind == "f" or got[col].dtype.kind == "f":
            pd.testing.assert_series_equal(
                got[col].astype("float64"), expected[col].astype("float64"), check_names=False
            )
        else:
            assert got[col].astype(str).tolist() == expected[col].astype(str).tolist(), col


def test_golden_cases_exist() -> None:
    assert len(_golden_cases()) >= 6


# -- parsing and bad input ---------------------------------------------------------------------


def test_parse_step_kinds() -> None:
    assert parse_step("buy") == Step("event", "buy")
    assert parse_step("touchpoint:pricing") == Step("touchpoint", "pricing")
    assert parse_step("stage:decision") == Step("stage", "decision")
    assert parse_step("a | b").names == ("a", "b")
    assert parse_step("event:odd:name") == Step("event", "odd:name")
    assert str(parse_step("stage:decision")) == "stage:decision"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "names no event"),
        ("a||b", "empty alternative"),
        ("touchpoint:", "names no touchpoint"),
    ],
)
def test_bad_steps(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_step(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("logout", "must be written EVENT:A:B"),
        ("logout:1", "must be written EVENT:A:B"),
        (":1:2", "names no event"),
        ("logout:one:2", "whole numbers"),
        ("logout:2:2", "must come after"),
        ("logout:0:2", "numbered from 1"),
    ],
)
def test_bad_exclusions(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_exclusion(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "sideways"}, "unknown order 'sideways'"),
        ({"window": "7 days"}, "not a duration"),
        ({"window": "-5"}, "not a duration"),
        ({"exclusions": ["x:1"]}, "EVENT:A:B"),
        ({"exclusions": ["x:1:5"]}, "step 5 does not exist"),
        ({"steps": ["v"]}, "at least 2 steps"),
        ({"steps": "v"}, "at least 2 steps"),
        ({"steps": ["v", "touchpoint:t"]}, "need a journey"),
        ({"by": "persona"}, "needs a journey"),
    ],
)
def test_bad_funnel_input(kwargs: dict[str, Any], message: str) -> None:
    params: dict[str, Any] = {"steps": ["v", "b"], **kwargs}
    steps = params.pop("steps")
    with pytest.raises(ValueError, match=message):
        event_funnel(events_table([("a", 0, "v")]), steps, **params)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("3600", 3600),
        (15, 15),
        ("0", 0),
        ("1.5h", 5400),
        ("7D", 604800),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    # Digits of other scripts (Arabic-Indic, fullwidth) were read as 3 and 1: ASCII only.
    [
        "",
        "7 days",
        "d",
        "1e3",
        "-1",
        "1y",
        True,
        float("nan"),
        -3,
        "\u0663d",
        "\uff11m",
        "7\u00a0d",
    ],
)
def test_bad_durations(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# -- extras ------------------------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(cases())
def test_extras_match_reference(case: tuple) -> None:
    rows, steps, window, order, excl = case
    ref = reference_funnel(rows, steps, window, order, excl)
    t = events_table(rows)
    kw: dict[str, Any] = {"window": window, "order": order, "exclusions": excl}
    k = len(steps)
    for j in range(1, k + 1):
        got = funnel_step_customers(t, steps, step=j, **kw).to_pandas()["customer_id"].tolist()
        assert got == sorted(c for c, (level, _) in ref.items() if level >= j)
        if j < k:
            got = funnel_step_customers(t, steps, step=j, dropped=True, **kw).to_pandas()
            assert got["customer_id"].tolist() == sorted(
                c for c, (level, _) in ref.items() if level == j
            )
    hist = time_to_convert_histogram(t, steps, bins=[0, 60, 300], **kw)
    for j in range(2, k + 1):
        gaps = [times[j - 1] - times[j - 2] for level, times in ref.values() if level >= j]
        got_bins = hist[hist["step"] == j]["customers"].tolist()
        assert got_bins == [
            sum(1 for g in gaps if g < 60),
            sum(1 for g in gaps if 60 <= g < 300),
            sum(1 for g in gaps if g >= 300),
        ]
    # Every event falls on 2025-01-01 here, so the trend has at most one day.
    trend = conversion_trend(t, steps, **kw)
    if ref:
        assert trend["started"].tolist() == [len(ref)]
        assert trend["converted"].tolist() == [sum(1 for lv, _ in ref.values() if lv == k)]
    else:
        assert trend.empty


@settings(max_examples=15, deadline=None)
@given(cases(), st.lists(st.sampled_from(["x", "y"]), min_size=14, max_size=14), st.booleans())
def test_report_equals_the_separate_analyses(case: tuple, plan: list[str], by: bool) -> None:
    """funnel_report shares one pass over the events; its tables equal the separate calls."""
    rows, steps, window, order, excl = case
    t = events_table(rows, [{"plan": p} for p in plan[: len(rows)]])
    kw: dict[str, Any] = {"window": window, "order": order, "exclusions": excl}
    segment = "plan" if by else None
    report = funnel_report(t, steps, by=segment, period="week", bins=[0, 60, 300], **kw)
    pdt.assert_frame_equal(report["funnel"], event_funnel(t, steps, by=segment, **kw))
    pdt.assert_frame_equal(
        report["time_to_convert"], time_to_convert_histogram(t, steps, bins=[0, 60, 300], **kw)
    )
    pdt.assert_frame_equal(report["trend"], conversion_trend(t, steps, period="week", **kw))


def test_trend_by_week_and_month() -> None:
    day = 86400
    rows = [("a", 0, "v"), ("a", 60, "b"), ("b", 6 * day, "v"), ("c", 40 * day, "v")]
    t = events_table(rows)
    weeks = conversion_trend(t, ["v", "b"], period="week")
    # 2025-01-01 is a Wednesday: weeks start on Monday 2024-12-30 and 2025-01-06.
    # Every week in between too, nobody entering them (a review's repro: they were left out).
    mondays = ["2024-12-30", "2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27"]
    mondays += ["2025-02-03", "2025-02-10"]
    assert [str(p.date()) for p in weeks["period"]] == mondays
    assert weeks["started"].tolist() == [1, 1, 0, 0, 0, 0, 1]
    assert weeks["converted"].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert weeks["conversion"].tolist()[:2] + weeks["conversion"].tolist()[-1:] == [1.0, 0.0, 0.0]
    assert weeks["conversion"][2:6].isna().all()
    months = conversion_trend(t, ["v", "b"], period="month")
    assert months["started"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="unknown period 'year'"):
        conversion_trend(t, ["v", "b"], period="year")


def test_trend_has_every_period_on_both_paths() -> None:
    """Days without a start are rows of zeros, on the fast path and the portable path alike."""
    day = 86400
    rows = [("a", 0, "v"), ("a", 60, "b"), ("b", 3 * day, "v"), ("c", 3 * day + 60, "v")]
    fast = conversion_trend(events_table(rows), ["v", "b"], period="day", window="1h")
    with portable():
        slow = conversion_trend(events_table(rows), ["v", "b"], period="day", window="1h")
    pdt.assert_frame_equal(fast, slow)
    assert [str(p.date()) for p in fast["period"]] == [
        "2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04",
    ]  # fmt: skip
    assert fast["started"].tolist() == [1, 0, 0, 2]
    assert fast["converted"].tolist() == [1, 0, 0, 0]
    # The data ends 2025-01-04 00:01; the 3rd of January's window closes 2025-01-04 01:00.
    assert fast["complete"].tolist() == [True, True, False, False]


def test_trend_marks_the_periods_still_converting() -> None:
    """A period is complete only when its last entrant's window closed before the data ends
    (hand-checked: events from Wed 2025-01-01 to Sat 2025-01-25 12:00, weeks from Monday)."""
    day = 86400
    rows = [("a", 0, "v"), ("a", 60, "b"), ("b", 8 * day, "v"), ("c", 24 * day + day / 2, "v")]
    t = events_table(rows)
    # Weeks of 2024-12-30, 2025-01-06, 2025-01-13 (nobody enters), 2025-01-20; the data
    # ends 2025-01-25 12:00. A 7-day window: the first week closes 2025-01-13 (complete),
    # the second 2025-01-20 (complete), the third 2025-01-27 and the fourth 2025-02-03 (not).
    weeks = conversion_trend(t, ["v", "b"], period="week", window="7d")
    assert weeks["complete"].tolist() == [True, True, False, False]
    # A 12-day window: the second week closes 2025-01-25 00:00, still before the end.
    weeks = conversion_trend(t, ["v", "b"], period="week", window="12d")
    assert weeks["complete"].tolist() == [True, True, False, False]
    # A 13-day window: it closes 2025-01-26, after the end.
    weeks = conversion_trend(t, ["v", "b"], period="week", window="13d")
    assert weeks["complete"].tolist() == [True, False, False, False]
    # ``until`` ends the data earlier: on 2025-01-14 only the first week is complete; on
    # 2025-01-12 none (the first week's window closes 2025-01-13).
    early = conversion_trend(t, ["v", "b"], period="week", window="7d", until="2025-01-14")
    assert early["complete"].tolist() == [True, False]
    assert conversion_trend(t, ["v", "b"], period="week", window="7d", until="2025-01-12")[
        "complete"
    ].tolist() == [False, False]


def test_extras_bad_input() -> None:
    t = events_table([("a", 0, "v")])
    with pytest.raises(ValueError, match="step 3 does not exist"):
        funnel_step_customers(t, ["v", "b"], step=3)
    with pytest.raises(ValueError, match="no one drops after the last step"):
        funnel_step_customers(t, ["v", "b"], step=2, dropped=True)
    with pytest.raises(ValueError, match="increasing"):
        time_to_convert_histogram(t, ["v", "b"], bins=[60, 0])


# -- engines -----------------------------------------------------------------------------------


# PySpark 4.0 passes pandas 3 a deprecated `copy=` and py4j leaves gateway sockets to the GC:
# both are PySpark's, not ours.
@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
def test_spark_gives_the_same_funnels(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import random

    import pyarrow.parquet as pq

    from kundresa.store.engines import spark_session

    rnd = random.Random(7)
    rows = [
        (rnd.choice("pqrstu"), 60 * rnd.randint(0, 30), rnd.choice(["v", "c", "b", "x"]))
        for _ in range(300)
    ]
    props = [{"src": rnd.choice(["ads", "mail"])} if rnd.random() < 0.7 else {} for _ in rows]
    duck = events_table(rows, props)
    pq.write_table(duck.to_pyarrow(), tmp_path / "events.parquet")
    session = spark_session("local[2]")
    spark = ibis.pyspark.connect(session).read_parquet(tmp_path / "events.parquet")
    for kw in (
        {"order": "ordered", "by": "src"},
        {"order": "strict", "exclusions": ["x:1:2"]},
        {"order": "any", "exclusions": ["x:2:3"], "by": "src"},
    ):
        args: dict[str, Any] = {"window": "10m", **kw}
        pd.testing.assert_frame_equal(
            event_funnel(duck, ["v", "c|b", "b"], **args),
            event_funnel(spark, ["v", "c|b", "b"], **args),
        )


# -- journey steps -----------------------------------------------------------------------------

JOURNEY = """
kundresa: 1
name: Shop
template: buyers-journey
personas:
  - {id: biz, name: Business, match: {property: segment, equals: business}}
touchpoints:
  - {id: pricing, stage: consideration, match: {event: view, where: {path: {regex: "^/pricing"}}}}
  - {id: ad, stage: awareness, match: {event: [ad, view]}}
  - {id: buy, stage: decision, match: {event: purchase}}
"""


def test_touchpoint_and_stage_steps_and_persona_breakdown() -> None:
    from kundresa.model import parse_journey

    journey, problems = parse_journey(JOURNEY)
    assert journey is not None, problems
    rows = [
        ("a", 0, "ad"),
        ("a", 60, "view"),  # /pricing: touchpoint pricing, stage consideration
        ("a", 120, "purchase"),
        ("b", 0, "view"),  # / : touchpoint ad, stage awareness
        ("b", 60, "purchase"),
    ]
    props = [{}, {"path": "/pricing"}, {"segment": "business"}, {"path": "/"}, {}]
    t = events_table(rows, props)
    steps = ["stage:awareness", "touchpoint:pricing", "stage:decision"]
    df = event_funnel(t, steps, journey=journey)
    assert df["event"].tolist() == steps
    assert df["count"].tolist() == [2, 1, 1]
    by = event_funnel(t, ["view|ad", "purchase"], journey=journey, by="persona")
    assert by[["segment", "step", "count"]].values.tolist() == [
        ["(none)", 1, 1],
        ["(none)", 2, 1],
        ["biz", 1, 1],
        ["biz", 2, 1],
    ]
