"""A period changes what is counted, never who the customer is.

Every analysis gets the customers' whole history and ``since``/``until``; the numbers must equal
a plain-Python computation that tags touchpoints (``nth``) on the whole history, takes first
activity and cohorts from it, and only then restricts what is counted to the period
(docs/analytics.md, "Periods: who a customer is vs what is counted"). Timestamps are unique
here, so the references need no tie rules. The repros from the bug reports follow, and the
project time zone.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import Project
from kundresa.analytics._period import Period, local_clock, to_instant
from kundresa.analytics.bottlenecks import bottlenecks
from kundresa.analytics.funnel import conversion_trend, event_funnel, funnel_step_customers
from kundresa.analytics.journeys import (
    customer_journeys,
    journey_summary,
    time_in_stage,
    transition_matrix,
)
from kundresa.analytics.paths import directly_follows
from kundresa.analytics.retention import lifecycle, repeat_purchase_rate, retention
from kundresa.analytics.stages import stage_funnel
from kundresa.analytics.touchpoints import touchpoint_summary
from kundresa.attribution.journey import conversion_paths, stage_attribution
from kundresa.cli import main
from kundresa.model import Journey, assign_touchpoints, parse_journey

T0 = datetime(2025, 3, 3)  # a Monday
HOURS = 24 * 9

JOURNEY = """
kundresa: 1
name: Periods
template: kundresa-5
touchpoints:
  - {id: repeat, stage: retention, match: {event: buy, nth: 2}}
  - {id: first_buy, stage: decision, match: {event: buy}}
  - {id: promoter, stage: advocacy, match: {event: nps}}
  - {id: look, stage: consideration, match: {event: look}}
  - {id: ad, stage: awareness, match: {event: ad}}
"""


def journey(extra: str = "") -> Journey:
    j, problems = parse_journey(JOURNEY + extra)
    assert j is not None, problems
    return j


Row = tuple[str, int, str]  # customer, hour from T0, event

rows_st = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(0, HOURS),
        st.sampled_from(["ad", "look", "buy", "nps", "other"]),
    ),
    min_size=1,
    max_size=24,
    unique_by=lambda r: r[1],  # unique times: the references need no tie rules
)


@st.composite
def periods(draw: st.DrawFn) -> tuple[int | None, int | None]:
    since = draw(st.one_of(st.none(), st.integers(0, HOURS)))
    low = 1 if since is None else since + 1
    until = draw(st.one_of(st.none(), st.integers(low, HOURS + 24)))
    return since, until


def at(h: int | None) -> datetime | None:
    return None if h is None else T0 + timedelta(hours=h)


def project_of(rows: list[Row] | list[tuple[str, datetime, str]], j: Journey) -> Project:
    df = pd.DataFrame(
        [
            {
                "customer_id": c,
                "timestamp": h if isinstance(h, datetime) else at(h),
                "event": e,
                "value": 10.0 if e == "buy" else None,
                "properties": json.dumps({}),
            }
            for c, h, e in rows
        ]
    )
    return Project.from_events(df, journey=j)


def tagged(rows: list[Row], j: Journey) -> list[dict[str, Any]]:
    """The whole history with touchpoint, stage and stage number, in time order."""
    evs = [
        {"customer_id": c, "timestamp": at(h), "event": e, "properties": {}}
        for c, h, e in sorted(rows, key=lambda r: r[1])
    ]
    index = {s: i for i, s in enumerate(j.stage_ids, start=1)}
    for e, tp in zip(evs, assign_touchpoints(j, evs), strict=True):
        e["touchpoint"] = tp
        e["stage"] = j.touchpoint(tp).stage if tp else None
        e["n"] = index[e["stage"]] if tp else None
    return evs


def inside(t: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or t >= since) and (until is None or t < until)


# -- stages, touchpoints, transitions, journeys, bottlenecks ------------------------------------


def ref_visits(evs: list[dict[str, Any]]) -> dict[str, list[tuple[str, datetime]]]:
    """Each customer's visits (stage, entered at) over the whole history."""
    out: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for e in evs:
        if e["stage"] is None:
            continue
        mine = out[e["customer_id"]]
        if not mine or mine[-1][0] != e["stage"]:
            mine.append((e["stage"], e["timestamp"]))
    return out


@settings(max_examples=30, deadline=None)
@given(rows_st, periods())
def test_stage_analyses_tag_the_whole_history_and_count_the_period(
    rows: list[Row], period: tuple[int | None, int | None]
) -> None:
    j = journey()
    since, until = at(period[0]), at(period[1])
    evs = tagged(rows, j)
    counted = [e for e in evs if inside(e["timestamp"], since, until)]
    present = {e["customer_id"] for e in counted}
    highest = {c: 0 for c in present}
    entered: dict[str, set[str]] = defaultdict(set)
    for e in counted:
        if e["n"] is not None:
            highest[e["customer_id"]] = max(highest[e["customer_id"]], e["n"])
            entered[e["stage"]].add(e["customer_id"])
    want_reached = [sum(1 for v in highest.values() if v >= i) for i in range(1, 6)]
    want_entered = [len(entered[s]) for s in j.stage_ids]
    visits = ref_visits(evs)
    moves: Counter[tuple[str, str]] = Counter()
    stays: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for vs in visits.values():
        for k, (stage, t) in enumerate(vs):
            if not inside(t, since, until):
                continue
            stays[stage] += 1
            moves[("(start)" if k == 0 else vs[k - 1][0], stage)] += 1
            nxt = vs[k + 1][1] if k + 1 < len(vs) else None
            if nxt is None or (until is not None and nxt >= until):
                moves[(stage, "(end)")] += 1
            else:
                left[stage] += 1
    tps = Counter(e["touchpoint"] or "(none)" for e in counted)
    with project_of(rows, j) as p:
        kw = {"since": since, "until": until}
        funnel = stage_funnel(p, **kw)
        assert funnel["reached"].tolist() == want_reached
        assert funnel["entered"].tolist() == want_entered
        summary = touchpoint_summary(p, **kw)
        assert dict(zip(summary["touchpoint"], summary["events"], strict=True)) == {
            tp: tps.get(tp, 0) for tp in summary["touchpoint"]
        }
        tm = transition_matrix(p.events, j, **kw)
        got = {
            (f, t): int(n) for f, t, n in zip(tm.from_stage, tm.to_stage, tm["count"], strict=True)
        }
        assert got == dict(moves)
        tis = time_in_stage(p.events, j, **kw)
        assert tis["visits"].tolist() == [stays[s] for s in j.stage_ids]
        assert tis["left"].tolist() == [left[s] for s in j.stage_ids]
        cj = customer_journeys(p.events, j, **kw).to_pandas()
        staged_in = {e["customer_id"] for e in counted if e["n"] is not None}
        assert sorted(cj["customer_id"]) == sorted(staged_in)
        for r in cj.to_dict("records"):
            vs = visits[r["customer_id"]]
            assert r["visits"] == sum(1 for _, t in vs if inside(t, since, until))
            known = [s for s, t in vs if until is None or t < until]
            assert r["current_stage"] == known[-1]
            assert r["first_stage"] == vs[0][0]
        js = journey_summary(p.events, j, **kw)
        assert int(js.loc[js.measure == "customers", "total"].iloc[0]) == len(staged_in)
        bn = bottlenecks(p, compare_to=None, **kw).sort_values(
            "from", key=lambda s: s.map({x: i for i, x in enumerate(j.stage_ids)})
        )
        assert bn["entered_from"].tolist() == want_reached[:-1]
        assert bn["reached"].tolist() == want_reached[1:]


# -- event funnels ------------------------------------------------------------------------------

WINDOW_H = 30
STEP_SETS = [
    ["ad", "buy"],
    ["stage:retention", "stage:advocacy"],
    ["ad", "look", "buy"],
    ["buy", "buy"],
]


def fills(e: dict[str, Any], step: str) -> bool:
    if step.startswith("stage:"):
        return e["stage"] == step.removeprefix("stage:")
    return bool(e["event"] == step)


def ref_levels(evs: list[dict[str, Any]], steps: list[str], since: Any, until: Any) -> dict:
    """Best ordered-funnel level of each customer over attempts that start in the period;
    later steps may fall after ``until`` within the window."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        by[e["customer_id"]].append(e)
    out: dict[str, tuple[int, datetime]] = {}
    for c, seq in by.items():
        for i, e in enumerate(seq):
            if not fills(e, steps[0]) or not inside(e["timestamp"], since, until):
                continue
            end = e["timestamp"] + timedelta(hours=WINDOW_H)
            level, pos = 1, i
            for step in steps[1:]:
                nxt = next(
                    (k for k in range(pos + 1, len(seq)) if fills(seq[k], step)),
                    None,
                )
                if nxt is None or seq[nxt]["timestamp"] > end:
                    break
                level, pos = level + 1, nxt
            if c not in out or level > out[c][0]:
                out[c] = (level, e["timestamp"])
    return out


@settings(max_examples=30, deadline=None)
@given(rows_st, periods(), st.sampled_from(STEP_SETS))
def test_event_funnels_count_attempts_that_start_in_the_period(
    rows: list[Row], period: tuple[int | None, int | None], steps: list[str]
) -> None:
    j = journey()
    since, until = at(period[0]), at(period[1])
    levels = ref_levels(tagged(rows, j), steps, since, until)
    want = [sum(1 for lv, _ in levels.values() if lv >= k) for k in range(1, len(steps) + 1)]
    kw: dict[str, Any] = {"since": since, "until": until, "journey": j, "window": f"{WINDOW_H}h"}
    with project_of(rows, j) as p:
        got = event_funnel(p.events, steps, **kw)
        assert got["count"].tolist() == want
        last = funnel_step_customers(p.events, steps, step=len(steps), **kw).to_pandas()
        assert sorted(last["customer_id"]) == sorted(
            c for c, (lv, _) in levels.items() if lv == len(steps)
        )
        trend = conversion_trend(p.events, steps, period="day", **kw)
        days = Counter(t.date() for _, t in levels.values())
        shown = {d.date(): int(n) for d, n in zip(trend.period, trend.started, strict=True)}
        # Every day from the first start to the last, those nobody started on as 0.
        span = (min(days), max(days)) if days else None
        want_days = {} if span is None else dict.fromkeys(_days(*span), 0) | dict(days)
        assert shown == want_days


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


# -- retention, lifecycle, repeat purchases ------------------------------------------------------


def day_number(t: datetime) -> int:
    return (t.date() - date(1970, 1, 1)).days


@settings(max_examples=30, deadline=None)
@given(rows_st, periods())
def test_retention_keeps_whole_history_cohorts(
    rows: list[Row], period: tuple[int | None, int | None]
) -> None:
    j = journey()
    since, until = at(period[0]), at(period[1])
    lo = day_number(since) if since is not None else None
    hi = day_number(until - timedelta(microseconds=1)) if until is not None else None

    def shown(n: int) -> bool:
        return (lo is None or n >= lo) and (hi is None or n <= hi)

    active: dict[str, set[int]] = defaultdict(set)
    for c, h, _ in rows:
        active[c].add(day_number(at(h)))  # type: ignore[arg-type]
    last = max(max(v) for v in active.values())
    cohort = {c: min(v) for c, v in active.items()}
    want_ret = []
    for c0 in sorted(set(cohort.values())):
        members = [c for c, v in cohort.items() if v == c0]
        for k in range(last - c0 + 1):
            if shown(c0) and shown(c0 + k):
                n = sum(1 for c in members if c0 + k in active[c])
                want_ret.append((date(1970, 1, 1) + timedelta(days=c0), len(members), k, n))
    want_life = []
    for p_ in range(min(cohort.values()), last + 1):
        if not shown(p_):
            continue
        new = sum(1 for v in cohort.values() if v == p_)
        ret = sum(1 for v in active.values() if p_ in v and p_ - 1 in v)
        res = sum(
            1 for c, v in active.items() if p_ in v and p_ - 1 not in v and cohort[c] < p_ - 1
        )
        dor = sum(1 for v in active.values() if p_ - 1 in v and p_ not in v)
        want_life.append((date(1970, 1, 1) + timedelta(days=p_), new, ret, res, dor))
    buys: dict[str, list[datetime]] = defaultdict(list)
    for c, h, e in rows:
        if e == "buy":
            buys[c].append(at(h))  # type: ignore[arg-type]
    in_period = {c: [t for t in ts if inside(t, since, until)] for c, ts in buys.items()}
    purchasers = [c for c, ts in in_period.items() if ts]
    repeaters = [c for c in purchasers if sum(1 for t in buys[c] if inside(t, None, until)) >= 2]
    kw = {"since": since, "until": until}
    with project_of(rows, j) as p:
        got = retention(p.events, period="day", purchase="buy", **kw)
        assert [
            (r.cohort, r.cohort_size, r.period, r.customers) for r in got.itertuples()
        ] == want_ret
        life = lifecycle(p.events, period="day", purchase="buy", **kw)
        assert [
            (r.period, r.new, r.returning, r.resurrecting, r.dormant) for r in life.itertuples()
        ] == want_life
        rep = repeat_purchase_rate(p.events, purchase="buy", **kw).iloc[0]
        assert int(rep["purchasers"]) == len(purchasers)
        assert int(rep["repeat_purchasers"]) == len(repeaters)
        assert int(rep["purchases"]) == sum(len(ts) for ts in in_period.values())


# -- paths and attribution ----------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(rows_st, periods())
def test_paths_and_attribution_tag_the_whole_history(
    rows: list[Row], period: tuple[int | None, int | None]
) -> None:
    j = journey()
    since, until = at(period[0]), at(period[1])
    evs = tagged(rows, j)
    seqs: dict[str, list[str]] = defaultdict(list)
    for e in evs:
        if e["stage"] is not None and inside(e["timestamp"], since, until):
            seqs[e["customer_id"]].append(e["stage"])
    dfg: Counter[tuple[str, str]] = Counter()
    for seq in seqs.values():
        for a, b in zip(["(start)", *seq], [*seq, "(end)"], strict=True):
            dfg[(a, b)] += 1
    # Conversion paths: a purchase in the period closes the touches since the customer's
    # previous purchase (before the period too); the touches after the last purchase before
    # `until` are a null path when the last of them is in the period.
    want_paths: Counter[tuple[tuple[str, ...], bool]] = Counter()
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        if until is None or e["timestamp"] < until:
            by[e["customer_id"]].append(e)
    for mine in by.values():
        touches: list[dict[str, Any]] = []
        for e in mine:
            if e["event"] == "buy":
                if inside(e["timestamp"], since, until):
                    path = tuple(t["touchpoint"] for t in touches) or ("(no touch)",)
                    want_paths[(path, True)] += 1
                touches = []
            elif e["touchpoint"] is not None:
                touches.append(e)
        if touches and inside(touches[-1]["timestamp"], since, until):
            want_paths[(tuple(t["touchpoint"] for t in touches), False)] += 1
    # Stage attribution: customers who first entered a stage in the period.
    first_in: dict[tuple[str, int], datetime] = {}
    for e in evs:
        if e["n"] is not None:
            first_in.setdefault((e["customer_id"], e["n"]), e["timestamp"])
    kw = {"since": since, "until": until}
    with project_of(rows, j) as p:
        got = directly_follows(p.events, j, level="stage", **kw)
        assert {
            (s, t): int(n) for s, t, n in zip(got.source, got.target, got["count"], strict=True)
        } == dict(dfg)
        cp = conversion_paths(
            p.events, conversion="buy", journey=j, level="touchpoint", lookback=None, **kw
        )
        got_paths = Counter(
            (tuple(path), bool(conv > 0))
            for path, conv in zip(cp["path"], cp["conversions"], strict=True)
        )
        assert got_paths == want_paths
        sa = stage_attribution(p.events, j, level="touchpoint", lookback=None, **kw)
        for k, s in enumerate(j.stage_ids[:-1], start=1):
            n = sum(1 for (c, i), t in first_in.items() if i == k and inside(t, since, until))
            rows_k = sa[sa.from_stage == s]
            assert (int(rows_k["customers"].iloc[0]) if len(rows_k) else 0) == n


# -- the repros ---------------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def five(tmp_path: Path) -> Iterator[Path]:
    assert run("init", str(tmp_path / "p"), "--template", "kundresa-5").exit_code == 0
    events = tmp_path / "events.csv"
    events.write_text(
        "customer_id,timestamp,event,value,score\n"
        "c05,2025-03-01T08:00:00,ad_click,,\n"
        "c05,2025-03-02T08:00:00,purchase,20,\n"
        "c05,2025-03-10T08:00:00,purchase,30,\n"
        "c05,2025-03-11T08:00:00,nps_answer,,10\n"
        "c05,2025-03-21T08:00:00,purchase,40,\n"
    )
    assert run("ingest", str(events), "--project", str(tmp_path / "p")).exit_code == 0
    yield tmp_path / "p"


def test_a_second_purchase_in_the_period_is_still_the_second(five: Path) -> None:
    args = ["funnel", "--step", "stage:retention", "--step", "stage:advocacy"]
    got = run(*args, "--since", "2025-03-05", "--format", "json", "--project", str(five))
    assert got.exit_code == 0, got.output
    assert [r["count"] for r in json.loads(got.stdout)] == [1, 1]


def test_since_not_before_until_is_a_usage_error(five: Path) -> None:
    got = run("funnel", "--step", "a", "--step", "b", "--since", "2025-03-05",
              "--until", "2025-03-05", "--project", str(five))  # fmt: skip
    assert got.exit_code == 2
    assert "is not before --until" in got.output


def test_lifecycle_new_means_first_activity_ever(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text(
        "customer_id,timestamp,event\n"
        "u1,2025-01-10T10:00:00Z,visit\n"
        "u1,2025-03-10T10:00:00Z,visit\n"
        "u2,2025-03-12T10:00:00Z,visit\n"
    )
    args = ["retention", "--events", str(events), "--view", "lifecycle", "--period", "month"]
    got = run(*args, "--since", "2025-03-01", "--format", "json")
    assert got.exit_code == 0, got.output
    (march,) = json.loads(got.stdout)
    assert (march["period"], march["new"], march["resurrecting"]) == ("2025-03-01", 1, 1)


def test_stage_funnel_in_a_period_keeps_earlier_purchases() -> None:
    j = journey()
    rows = [("a", 0, "buy"), ("a", 100, "buy"), ("b", 101, "buy")]
    with project_of(rows, j) as p:
        got = stage_funnel(p, since=at(50))
    assert dict(zip(got.stage, got.entered, strict=True))["retention"] == 1
    assert dict(zip(got.stage, got.entered, strict=True))["decision"] == 1


# -- the project time zone ----------------------------------------------------------------------


def test_unknown_time_zone_is_reported_with_its_place() -> None:
    j, problems = parse_journey("kundresa: 1\nname: x\ntemplate: kundresa-5\ntimezone: Mars/Base")
    assert j is None
    (p,) = problems
    assert (p.line, p.column, p.path) == (4, 11, "timezone")
    assert "Mars/Base" in p.message


def test_a_stockholm_monday_just_after_midnight_is_in_that_week() -> None:
    j = journey("timezone: Europe/Stockholm\n")
    # Monday 2025-03-03 00:30 in Stockholm is Sunday 23:30 UTC (winter time).
    df = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "timestamp": [datetime(2025, 3, 2, 23, 30), datetime(2025, 3, 2, 23, 45)],
            "event": ["ad", "buy"],
        }
    )
    with Project.from_events(df, journey=j) as p:
        r = retention(p.events, period="week", journey=j)
        assert r["cohort"].tolist() == [date(2025, 3, 3)]
        t = conversion_trend(p.events, ["ad", "buy"], period="week", journey=j)
        assert t["period"].dt.date.tolist() == [date(2025, 3, 3)]
        # Without the zone (UTC) the same instants are on the Sunday before.
        assert retention(p.events, period="week")["cohort"].tolist() == [date(2025, 2, 24)]
        # A date without a time is local midnight: the events are inside --since 2025-03-03.
        assert stage_funnel(p, since="2025-03-03")["reached"].iloc[0] == 1
        assert stage_funnel(p, until="2025-03-03")["reached"].iloc[0] == 0


def test_summer_time_days_and_dst_gaps() -> None:
    # 2025-03-30 02:30 does not exist in Stockholm; 2025-10-26 02:30 happens twice.
    with pytest.raises(ValueError, match="does not exist in Europe/Stockholm"):
        Period.parse("2025-03-30T02:30", None, "Europe/Stockholm")
    with pytest.raises(ValueError, match="ambiguous in Europe/Stockholm"):
        Period.parse(None, "2025-10-26 02:30", "Europe/Stockholm")
    assert to_instant("2025-07-01", "since", "Europe/Stockholm") == datetime(2025, 6, 30, 22)
    span = (datetime(2025, 1, 1), datetime(2025, 12, 31))
    clock = local_clock("Europe/Stockholm", span)
    import ibis

    got = ibis.memtable(
        pd.DataFrame({"timestamp": [datetime(2025, 3, 30, 0, 59), datetime(2025, 3, 30, 1, 0)]})
    )
    local = got.select(t=clock(got.timestamp)).to_pandas()["t"].tolist()
    assert local == [datetime(2025, 3, 30, 1, 59), datetime(2025, 3, 30, 3, 0)]


def test_the_rendered_journey_names_its_time_zone(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    text = (tmp_path / "p" / "journey.yaml").read_text()
    assert "timezone: UTC" in text
    assert "# timezone:" in text


def test_demo_retention_in_september_counts_customers_who_bought_before(tmp_path: Path) -> None:
    from kundresa.demo.project import build_demo
    from kundresa.model.events import TIMESTAMP

    with build_demo(tmp_path / "demo") as project:
        got = stage_funnel(project, since="2025-09-01", until="2025-10-01").set_index("stage")
        # Filtering the events first restarts `nth` inside the period: the old, wrong count.
        t = project.events
        first = t.filter(
            (t[TIMESTAMP] >= datetime(2025, 9, 1)) & (t[TIMESTAMP] < datetime(2025, 10, 1))
        )
        wrong = stage_funnel(project, events=first).set_index("stage")
    assert int(got.loc["retention", "reached"]) == 707
    assert int(wrong.loc["retention", "reached"]) == 478


@pytest.mark.parametrize("name", ["Mars/Base", "Europe", "x" * 300, "a\x00b", ".."])
def test_any_bad_time_zone_name_is_one_clear_problem(name: str) -> None:
    text = f"kundresa: 1\nname: x\ntemplate: kundresa-5\ntimezone: {json.dumps(name)}"
    j, problems = parse_journey(text)
    assert j is None
    assert [p.path for p in problems] == ["timezone"]
    with pytest.raises(ValueError, match="unknown time zone"):
        Period.parse("2025-01-01", None, name)


# PySpark 4.0 passes pandas 3 a deprecated `copy=` and py4j leaves gateway sockets to the GC:
# both are PySpark's, not ours.
@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
def test_spark_gives_the_same_local_periods(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import random

    import ibis
    import pyarrow.parquet as pq

    from kundresa.store.engines import spark_session

    rnd = random.Random(5)
    j = journey("timezone: Europe/Stockholm\n")
    # Around both daylight-saving changes of 2025, at hours near local midnight.
    starts = [datetime(2025, 3, 28), datetime(2025, 10, 24)]
    rows = [
        (
            rnd.choice("abcdefg"),
            rnd.choice(starts) + timedelta(hours=rnd.randint(0, 96), minutes=rnd.randint(0, 59)),
            rnd.choice(["ad", "look", "buy"]),
        )
        for _ in range(200)
    ]
    with project_of(sorted(set(rows), key=lambda r: r[1]), j) as p:
        pq.write_table(p.events.to_pyarrow(), tmp_path / "events.parquet")
        duck = p.events
        session = spark_session("local[2]")
        spark = ibis.pyspark.connect(session).read_parquet(tmp_path / "events.parquet")
        kw: dict[str, Any] = {"journey": j, "since": "2025-03-29", "until": "2025-10-27"}
        for period in ("day", "week"):
            pd.testing.assert_frame_equal(
                retention(duck, period=period, **kw), retention(spark, period=period, **kw)
            )
            pd.testing.assert_frame_equal(
                lifecycle(duck, period=period, **kw), lifecycle(spark, period=period, **kw)
            )
            pd.testing.assert_frame_equal(
                conversion_trend(duck, ["ad", "buy"], period=period, **kw),
                conversion_trend(spark, ["ad", "buy"], period=period, **kw),
            )


def test_bottlenecks_default_periods_are_whole_local_days() -> None:
    j = journey("timezone: Europe/Stockholm\n")
    df = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": [datetime(2025, 3, 1, 9), datetime(2025, 4, 2, 21, 30), T0],
            "event": ["ad", "buy", "ad"],
        }
    )
    with Project.from_events(df, journey=j) as p:
        got = bottlenecks(p)
    # The last event is 2025-04-02 23:30 in Stockholm (summer time, UTC+2): the period ends at
    # local midnight after it and spans 30 local days; the one before spans the 30 before it
    # across the change to summer time (30 March).
    assert got.attrs["period"] == (datetime(2025, 3, 3, 23), datetime(2025, 4, 2, 22))
    assert got.attrs["previous_period"] == (datetime(2025, 2, 1, 23), datetime(2025, 3, 3, 23))
