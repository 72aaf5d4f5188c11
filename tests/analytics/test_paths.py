"""Paths, Sankey links and the directly-follows graph against a plain-Python reference."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import read_events
from kundresa.analytics.paths import directly_follows, path_links, paths
from kundresa.model import Journey, parse_journey

T0 = datetime(2025, 3, 1)

JOURNEY = """
kundresa: 1
name: Test
template: buyers-journey
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: price, stage: consideration, match: {event: [price, demo]}}
  - {id: buy, stage: decision, match: {event: buy}}
"""


def journey() -> Journey:
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


STAGE_OF = {"ad": "awareness", "price": "consideration", "demo": "consideration", "buy": "decision"}
TP_OF = {"ad": "ad", "price": "price", "demo": "price", "buy": "buy"}

Row = tuple[str, int, str, str | None]  # customer, minute, event, channel
row_st = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 240),
    st.sampled_from(["ad", "price", "demo", "buy", "x"]),
    st.sampled_from([None, "email", "web"]),
)


def table(rows: list[Row]):
    return read_events(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "timestamp": [T0 + timedelta(minutes=r[1]) for r in rows],
                "event": [r[2] for r in rows],
                "channel": [r[3] for r in rows],
                "event_id": [f"{i:04d}" for i in range(len(rows))],
            }
        )
    )


def node_of(row: Row, level: str) -> str | None:
    _, _, e, ch = row
    if level == "event":
        return e
    if level == "channel":
        return ch
    if level == "touchpoint":
        return TP_OF.get(e)
    return STAGE_OF.get(e)


def sequences(rows: list[Row], level: str, gap: int | None, collapse: bool) -> list[tuple]:
    """(customer, [(minute, node, event)]) per sequence, in order."""
    indexed = [(r, f"{i:04d}") for i, r in enumerate(rows)]
    out = []
    for c in sorted({r[0] for r in rows}):
        evs = sorted((x for x in indexed if x[0][0] == c), key=lambda x: (x[0][1], x[0][2], x[1]))
        nodes = [(r[1], node_of(r, level), r[2]) for r, _ in evs if node_of(r, level) is not None]
        seqs: list[list] = []
        for n in nodes:
            if not seqs or (gap is not None and n[0] - seqs[-1][-1][0] >= gap):
                seqs.append([n])
            else:
                seqs[-1].append(n)
        for s in seqs:
            if collapse:
                s = [n for i, n in enumerate(s) if i == 0 or s[i - 1][1] != n[1]]
            out.append((c, s))
    return out


def fits(n: tuple, point: str | None) -> bool:
    if point is None:
        return False
    kind, _, name = point.partition(":") if ":" in point else ("event", "", point)
    names = name.split("|")
    _, _node, event = n
    if kind == "event":
        return event in names
    if kind == "stage":
        return STAGE_OF.get(event) in names
    return TP_OF.get(event) in names


def reference_paths(seqs, start, end, steps):
    """Counter of (path tuple, more) -> [count, customers]."""
    counts: Counter = Counter()
    who: dict = defaultdict(set)
    for c, s in seqs:
        more = False
        if start is not None:
            a = next((i for i, n in enumerate(s) if fits(n, start)), None)
            if a is None:
                continue
            if end is not None:
                b = next((i for i in range(a + 1, len(s)) if fits(s[i], end)), None)
                if b is None or b - a >= steps:
                    continue
                kept = s[a : b + 1]
            else:
                kept = s[a : a + steps]
                more = len(s) > a + steps
        elif end is not None:
            b = next((i for i, n in enumerate(s) if fits(n, end)), None)
            if b is None:
                continue
            lo = max(0, b - steps + 1)
            kept = s[lo : b + 1]
            more = lo > 0
        else:
            kept = s[:steps]
            more = len(s) > steps
        key = (tuple(n[1] for n in kept), more)
        counts[key] += 1
        who[key].add(c)
    return counts, who


settings_ = settings(max_examples=50, deadline=None)


@settings_
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["event", "touchpoint", "stage", "channel"]),
    st.sampled_from([None, 30, 90]),
    st.booleans(),
    st.sampled_from([None, "ad", "stage:consideration", "touchpoint:buy|ad"]),
    st.sampled_from([None, "buy", "stage:decision", "price|demo"]),
    st.integers(1, 4),
)
def test_paths_match_reference(rows, level, gap, collapse, start, end, steps) -> None:
    seqs = sequences(rows, level, gap, collapse)
    counts, who = reference_paths(seqs, start, end, steps)
    got = paths(
        table(rows),
        journey=journey(),
        level=level,
        start=start,
        end=end,
        steps=steps,
        session_gap=None if gap is None else gap * 60,
        collapse_repeats=collapse,
        top=None,
    )
    leading = end is not None and start is None
    want = {}
    for (nodes, more), n in counts.items():
        text = " > ".join(nodes)
        if more:
            text = f"… > {text}" if leading else f"{text} > …"
        want[text] = (n, len(who[(nodes, more)]), len(nodes))
    assert {r.path: (r.count, r.customers, r.steps) for r in got.itertuples()} == want
    if want:
        assert got["share"].sum() == pytest.approx(1.0)

    links = path_links(
        table(rows),
        journey=journey(),
        level=level,
        start=start,
        end=end,
        steps=steps,
        session_gap=None if gap is None else gap * 60,
        collapse_repeats=collapse,
    )
    want_links: Counter = Counter()
    link_who: dict = defaultdict(set)
    for (nodes, more), n in counts.items():
        for k, (a, b) in enumerate(itertools.pairwise(nodes), start=1):
            want_links[(k, a, b)] += n
            link_who[(k, a, b)] |= who[(nodes, more)]
        if not more:
            want_links[(len(nodes), nodes[-1], "(end)")] += n
            link_who[(len(nodes), nodes[-1], "(end)")] |= who[(nodes, more)]
    got_links = {
        (r.source_step, r.source, r.target): (r.count, r.customers) for r in links.itertuples()
    }
    assert got_links == {k: (n, len(link_who[k])) for k, n in want_links.items()}


@settings_
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["event", "touchpoint", "channel"]),
    st.sampled_from([None, 30]),
)
def test_dfg_matches_reference(rows, level, gap) -> None:
    seqs = sequences(rows, level, gap, collapse=False)
    counts: Counter = Counter()
    who: dict = defaultdict(set)
    secs: dict = defaultdict(list)
    for c, s in seqs:
        for key in [("(start)", s[0][1]), (s[-1][1], "(end)")]:
            counts[key] += 1
            who[key].add(c)
        for a, b in itertools.pairwise(s):
            counts[(a[1], b[1])] += 1
            who[(a[1], b[1])].add(c)
            secs[(a[1], b[1])].append((b[0] - a[0]) * 60)
    got = directly_follows(
        table(rows), journey(), level=level, session_gap=None if gap is None else f"{gap}m"
    )
    assert {(r.source, r.target): (r.count, r.customers) for r in got.itertuples()} == {
        k: (n, len(who[k])) for k, n in counts.items()
    }
    for r in got.itertuples():
        times = secs.get((r.source, r.target))
        if times:
            assert r.median_seconds == pytest.approx(statistics.median(times))
            assert r.mean_seconds == pytest.approx(statistics.mean(times))
        else:
            assert pd.isna(r.median_seconds)


def test_hand_checked_sessions_and_points() -> None:
    rows: list[Row] = [
        ("a", 0, "ad", "web"),
        ("a", 5, "price", "web"),
        ("a", 6, "price", "web"),
        ("a", 10, "buy", "web"),
        ("a", 100, "ad", "email"),  # a new session after 90 minutes
        ("b", 0, "x", None),
        ("b", 1, "ad", "web"),
        ("b", 2, "buy", "web"),
    ]
    j = journey()
    p = paths(table(rows), journey=j, level="stage", collapse_repeats=True)
    assert dict(zip(p["path"], p["count"], strict=True)) == {
        "awareness > consideration > decision": 1,
        "awareness > decision": 1,
        "awareness": 1,
    }
    whole = paths(table(rows), journey=j, level="touchpoint", session_gap=None)
    assert list(whole["path"]) == ["ad > buy", "ad > price > price > buy > ad"]
    before = paths(table(rows), journey=j, level="event", end="buy", steps=2)
    assert dict(zip(before["path"], before["count"], strict=True)) == {
        "… > ad > buy": 1,  # b's x event is a node at the event level
        "… > price > buy": 1,
    }
    dfg = directly_follows(table(rows), j, level="stage")
    row = dfg[(dfg.source == "consideration") & (dfg.target == "consideration")]
    assert int(row["count"].iloc[0]) == 1 and row["median_seconds"].iloc[0] == 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "page"}, "level 'page' is not one of"),
        ({"level": "stage", "journey": None}, "needs a journey"),
        ({"steps": 0}, "steps must be a whole number from 1 to 20"),
        ({"steps": 21}, "steps must be a whole number"),
        ({"start": "stage:nowhere"}, "start 'stage:nowhere': no stage 'nowhere'"),
        ({"end": "touchpoint:"}, "end: step 'touchpoint:' names no touchpoint"),
        ({"session_gap": "soon"}, "soon"),
        ({"session_gap": 0}, "session_gap must be longer than zero"),
    ],
)
def test_bad_options(kwargs: dict, message: str) -> None:
    args = {"journey": journey(), "level": "event", **kwargs}
    with pytest.raises(ValueError, match=message):
        paths(table([("a", 0, "ad", None)]), **args)


def test_empty() -> None:
    t = table([("a", 0, "x", None)])
    assert paths(t, journey=journey()).empty
    assert path_links(t, journey=journey()).empty
    d = directly_follows(t, journey())
    assert d.empty and list(d.columns)[:3] == ["source", "target", "count"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_gives_the_same_paths(tmp_path) -> None:
    pytest.importorskip("pyspark")
    import random

    import ibis

    from kundresa.store.engines import spark_session

    rng = random.Random(3)
    rows = [
        (
            rng.choice("abcdefgh"),
            rng.randint(0, 600),
            rng.choice(["ad", "price", "demo", "buy", "x"]),
            rng.choice([None, "web", "email"]),
        )
        for _ in range(300)
    ]
    duck = table(rows)
    duck.to_parquet(tmp_path / "events.parquet")
    spark = ibis.pyspark.connect(spark_session("local[2]")).read_parquet(
        tmp_path / "events.parquet"
    )
    j = journey()
    for kwargs in ({}, {"start": "ad", "level": "event"}, {"end": "stage:decision", "steps": 3}):
        pd.testing.assert_frame_equal(
            paths(duck, journey=j, top=None, **kwargs),
            paths(spark, journey=j, top=None, **kwargs),
            check_dtype=False,
        )
        pd.testing.assert_frame_equal(
            path_links(duck, journey=j, **kwargs),
            path_links(spark, journey=j, **kwargs),
            check_dtype=False,
        )
    for level in ("event", "stage"):
        pd.testing.assert_frame_equal(
            directly_follows(duck, j, level=level),
            directly_follows(spark, j, level=level),
            check_dtype=False,
        )


def test_a_session_gap_given_as_a_number_or_zero(tmp_path: Path) -> None:
    """``Project.run("paths", session_gap=1800)`` failed with AttributeError ('int' object has
    no attribute 'strip'); a gap of zero in any spelling is one path per customer, as ``0``
    and ``none`` were."""
    from kundresa.project import Project

    csv = tmp_path / "e.csv"
    csv.write_text(
        "customer_id,timestamp,event\n"
        "a,2025-01-01T00:00:00,x\na,2025-01-01T00:10:00,y\na,2025-01-01T05:00:00,z\n"
    )
    with Project.from_events(csv) as project:

        def rows(gap: object) -> list[tuple[object, ...]]:
            frame = project.run("paths", level="event", session_gap=gap).frame
            return sorted(map(tuple, frame.astype(str).to_numpy().tolist()))

        assert rows(1800) == rows("30m") != rows("none")
        for zero in (0, 0.0, "0s", "0.0", "00"):
            assert rows(zero) == rows("none")
