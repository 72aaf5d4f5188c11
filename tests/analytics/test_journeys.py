"""Non-linear journeys (visits, moves, cycles, transitions, time in stage) against a
plain-Python reference written straight from the definitions."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import read_events
from kundresa.analytics.journeys import (
    customer_journeys,
    cycle_stage,
    journey_summary,
    stage_visits,
    time_in_stage,
    transition_matrix,
)
from kundresa.model import Journey, parse_journey

T0 = datetime(2025, 3, 1)
STAGES = ["awareness", "consideration", "decision", "retention", "advocacy"]


def journey(circular: bool = True) -> Journey:
    text = f"""
kundresa: 1
name: Test
template: kundresa-5
circular: {str(circular).lower()}
touchpoints:
  - {{id: t1, stage: awareness, match: {{event: e1}}}}
  - {{id: t2, stage: consideration, match: {{event: e2}}}}
  - {{id: t3, stage: decision, match: {{event: e3}}}}
  - {{id: t4, stage: retention, match: {{event: e4}}}}
  - {{id: t5, stage: advocacy, match: {{event: e5}}}}
"""
    j, problems = parse_journey(text)
    assert j is not None, problems
    return j


Row = tuple[str, int, str]  # customer, hour, event

row_st = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 30),
    st.sampled_from(["e1", "e2", "e3", "e4", "e5", "x"]),
)


def table(rows: list[Row]):
    return read_events(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "timestamp": [T0 + timedelta(hours=r[1]) for r in rows],
                "event": [r[2] for r in rows],
                "event_id": [f"{i:04d}" for i in range(len(rows))],
            }
        )
    )


def reference_visits(rows: list[Row], j: Journey) -> list[dict]:
    """Visits straight from the definitions, one customer at a time, with explicit state."""
    cyc = cycle_stage(j)
    indexed = [(c, h, e, f"{i:04d}") for i, (c, h, e) in enumerate(rows)]
    out: list[dict] = []
    by_customer: dict[str, list] = defaultdict(list)
    for r in indexed:
        by_customer[r[0]].append(r)
    for c in sorted(by_customer):
        evs = sorted(by_customer[c], key=lambda r: (r[1], r[2], r[3]))
        visits: list[dict] = []
        for _, h, e, _ in evs:
            if e == "x":
                continue
            s = int(e[1])
            if visits and visits[-1]["stage_index"] == s:
                visits[-1]["events"] += 1
                visits[-1]["last"] = h
                continue
            visits.append(
                {"customer_id": c, "stage_index": s, "entered": h, "last": h, "events": 1}
            )
        cycle, reached, entered = 1, False, set()
        for i, v in enumerate(visits):
            prev = visits[i - 1]["stage_index"] if i else None
            s = v["stage_index"]
            if i and s == 1 and reached:
                cycle, reached, entered = cycle + 1, False, set()
                move = "new_cycle"
            elif prev is None:
                move = "start"
            elif s > prev:
                skipped = any(k not in entered for k in range(prev + 1, s))
                move = "skip" if skipped else "forward"
            else:
                move = "backward"
            v.update(
                visit=i + 1,
                cycle=cycle,
                stage=STAGES[s - 1],
                previous_stage=STAGES[prev - 1] if prev else None,
                move=move,
                loop=s in entered,
                left=visits[i + 1]["entered"] if i + 1 < len(visits) else None,
            )
            entered.add(s)
            reached = reached or s >= cyc
        out.extend(visits)
    return out


def _hours(ts: pd.Timestamp) -> int:
    return int((ts - pd.Timestamp(T0)).total_seconds() // 3600)


@settings(max_examples=60, deadline=None)
@given(st.lists(row_st, max_size=30), st.booleans())
def test_visits_match_reference(rows: list[Row], circular: bool) -> None:
    j = journey(circular)
    want = reference_visits(rows, j)
    got = stage_visits(table(rows), j).to_pandas()
    assert len(got) == len(want)
    for g, w in zip(got.to_dict("records"), want, strict=True):
        assert g["customer_id"] == w["customer_id"]
        assert (g["visit"], g["cycle"], g["stage"]) == (w["visit"], w["cycle"], w["stage"])
        assert (g["move"], bool(g["loop"])) == (w["move"], w["loop"]), (g, w)
        assert _hours(g["entered_at"]) == w["entered"]
        assert _hours(g["last_event_at"]) == w["last"]
        assert g["events"] == w["events"]
        if w["left"] is None:
            assert pd.isna(g["left_at"]) and pd.isna(g["seconds"])
        else:
            assert _hours(g["left_at"]) == w["left"]
            assert g["seconds"] == (w["left"] - w["entered"]) * 3600


@settings(max_examples=40, deadline=None)
@given(st.lists(row_st, max_size=30), st.booleans())
def test_matrix_time_and_customers_match_reference(rows: list[Row], circular: bool) -> None:
    j = journey(circular)
    visits = reference_visits(rows, j)
    t = table(rows)

    moves: Counter = Counter()
    who: dict[tuple, set] = defaultdict(set)
    gaps: dict[tuple, list] = defaultdict(list)
    per: dict[str, list[dict]] = defaultdict(list)
    for v in visits:
        per[v["customer_id"]].append(v)
    for c, vs in per.items():
        for key in [("(start)", vs[0]["stage"]), (vs[-1]["stage"], "(end)")]:
            moves[key] += 1
            who[key].add(c)
        for a, b in itertools.pairwise(vs):
            key = (a["stage"], b["stage"])
            moves[key] += 1
            who[key].add(c)
            gaps[key].append((b["entered"] - a["entered"]) * 3600)
    m = transition_matrix(t, j)
    got = {(r.from_stage, r.to_stage): r for r in m.itertuples()}
    assert set(got) == set(moves)
    out_of = Counter()
    for (a, _), n in moves.items():
        out_of[a] += n
    for key, n in moves.items():
        r = got[key]
        assert r.count == n and r.customers == len(who[key])
        assert r.probability == pytest.approx(n / out_of[key[0]])
        if gaps[key]:
            assert r.median_seconds == pytest.approx(statistics.median(gaps[key]))
        else:
            assert pd.isna(r.median_seconds)
        backward = (
            key[0] in STAGES and key[1] in STAGES and STAGES.index(key[1]) < STAGES.index(key[0])
        )
        assert (r.direction == "backward") == backward

    tis = time_in_stage(t, j).set_index("stage")
    for s in STAGES:
        vs = [v for v in visits if v["stage"] == s]
        days = [(v["left"] - v["entered"]) / 24 for v in vs if v["left"] is not None]
        assert tis.loc[s, "visits"] == len(vs)
        assert tis.loc[s, "customers"] == len({v["customer_id"] for v in vs})
        assert tis.loc[s, "left"] == len(days)
        if days:
            assert tis.loc[s, "median_days"] == pytest.approx(statistics.median(days))
            assert tis.loc[s, "mean_days"] == pytest.approx(statistics.mean(days))
        else:
            assert pd.isna(tis.loc[s, "median_days"])

    cj = customer_journeys(t, j).to_pandas().set_index("customer_id")
    assert set(cj.index) == set(per)
    for c, vs in per.items():
        r = cj.loc[c]
        assert r["first_stage"] == vs[0]["stage"]
        assert r["current_stage"] == vs[-1]["stage"]
        assert r["highest_stage"] == STAGES[max(v["stage_index"] for v in vs) - 1]
        assert r["visits"] == len(vs)
        assert r["backward_moves"] == sum(
            1 for a, b in itertools.pairwise(vs) if b["stage_index"] < a["stage_index"]
        )
        assert r["skips"] == sum(v["move"] == "skip" for v in vs)
        assert r["loops"] == sum(v["loop"] for v in vs)
        assert r["cycles"] == vs[-1]["cycle"]
        for s in STAGES:
            first = [v["entered"] for v in vs if v["stage"] == s]
            if first:
                assert _hours(r[f"entered_{s}"]) == min(first)
            else:
                assert pd.isna(r[f"entered_{s}"])


def test_hand_checked_journey() -> None:
    # a: e1 e3 e2 e3 e5 e1 e2 — skip, backward, loop, reaches advocacy, then a new cycle.
    # b: e2 e2 x e4 — starts in consideration, skips decision; x is ignored.
    rows: list[Row] = [
        ("a", 0, "e1"),
        ("a", 1, "e3"),
        ("a", 2, "e2"),
        ("a", 4, "e3"),
        ("a", 8, "e5"),
        ("a", 9, "e1"),
        ("a", 12, "e2"),
        ("b", 0, "e2"),
        ("b", 1, "e2"),
        ("b", 2, "x"),
        ("b", 5, "e4"),
    ]
    j = journey(circular=True)
    v = stage_visits(table(rows), j).to_pandas()
    assert list(v["move"]) == [
        "start",
        "skip",
        "backward",
        "forward",
        "skip",
        "new_cycle",
        "forward",
        "start",
        "skip",
    ]
    assert list(v["loop"]) == [False, False, False, True, False, False, False, False, False]
    assert list(v["cycle"]) == [1, 1, 1, 1, 1, 2, 2, 1, 1]
    assert list(v["events"]) == [1, 1, 1, 1, 1, 1, 1, 2, 1]
    s = journey_summary(table(rows), j).set_index("measure")
    assert s.loc["customers", "total"] == 2
    assert s.loc["skips", "total"] == 3 and s.loc["skips", "customers"] == 2
    # Backward: e3 -> e2 and the cycle's e5 -> e1.
    assert s.loc["backward_moves", "total"] == 2
    assert s.loc["repeat_cycles", "total"] == 1
    assert s.loc["loops", "total"] == 1
    assert s.loc["backward_moves", "share_of_customers"] == 0.5
    # Non-circular: the cycle stage is decision; a's return to e1 after e3 starts cycle 2.
    lin = stage_visits(table(rows), journey(circular=False)).to_pandas()
    assert list(lin["cycle"])[:7] == [1, 1, 1, 1, 1, 2, 2]


def test_no_staged_events() -> None:
    t = table([("a", 0, "x")])
    j = journey()
    assert stage_visits(t, j).to_pandas().empty
    m = transition_matrix(t, j)
    assert m.empty and "probability" in m.columns
    tis = time_in_stage(t, j)
    assert list(tis["visits"]) == [0] * 5
    s = journey_summary(t, j)
    assert s.loc[0, "total"] == 0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_gives_the_same_journeys(tmp_path) -> None:
    pytest.importorskip("pyspark")
    import ibis

    from kundresa.store.engines import spark_session

    rows = [(c, h, e) for c, h, e in reference_rows()]
    duck = table(rows)
    duck.to_parquet(tmp_path / "events.parquet")
    session = spark_session("local[2]")
    spark = ibis.pyspark.connect(session).read_parquet(tmp_path / "events.parquet")
    j = journey()

    def norm(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        df = df.sort_values(keys).reset_index(drop=True)
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c].astype("datetime64[us]")
        return df

    keys = ["customer_id", "visit"]
    a = norm(stage_visits(duck, j).to_pandas(), keys)
    b = norm(stage_visits(spark, j).to_pandas(), keys)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    pd.testing.assert_frame_equal(
        transition_matrix(duck, j), transition_matrix(spark, j), check_dtype=False
    )
    pd.testing.assert_frame_equal(
        time_in_stage(duck, j), time_in_stage(spark, j), check_dtype=False
    )
    pd.testing.assert_frame_equal(
        journey_summary(duck, j), journey_summary(spark, j), check_dtype=False
    )


def reference_rows() -> list[Row]:
    import random

    rng = random.Random(7)
    return [
        (
            rng.choice("abcdefgh"),
            rng.randint(0, 200),
            rng.choice(["e1", "e2", "e3", "e4", "e5", "x"]),
        )
        for _ in range(400)
    ]
