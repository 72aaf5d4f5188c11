"""The live customer state: kept incrementally, it must equal what the stage analysis computes
from the whole history, whatever the order and grouping in which the events arrive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.analytics.journeys import stage_visits
from kundresa.analytics.stages import customer_stages
from kundresa.live.state import (
    catch_up,
    compute_states,
    read_state,
    stage_events_since,
)
from kundresa.model.parse import parse_journey
from kundresa.project import Project
from kundresa.store.warehouse import Warehouse

JOURNEY = """\
kundresa: 1
name: Live
template: buyers-journey
circular: true
personas:
  - {id: pro, name: Pro, match: {property: segment, equals: pro}}
  - {id: home, name: Home, match: {property: segment, in: [home, pro]}}
touchpoints:
  - {id: repeat, stage: decision, match: {event: buy, nth: 2}}
  - {id: first_buy, stage: decision, match: {event: buy}}
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: price, stage: consideration, match: {event: price}}
  - {id: cheap_view, stage: consideration, match: {event: view, where: {price: {lte: 100}}}}
"""

T0 = datetime(2025, 1, 1)


@pytest.fixture(scope="module")
def journey():  # type: ignore[no-untyped-def]
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


def frame(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows of (customer, minutes after T0, event[, segment[, price]]) as an Arrow table."""
    out: dict[str, list[Any]] = {
        "customer_id": [],
        "timestamp": [],
        "event": [],
        "event_id": [],
        "segment": [],
        "price": [],
    }
    for r in rows:
        c, minutes, event, *rest = r
        out["customer_id"].append(c)
        out["timestamp"].append((T0 + timedelta(minutes=minutes)).isoformat())
        out["event"].append(event)
        out["event_id"].append(f"{c}-{minutes}-{event}")
        out["segment"].append(rest[0] if rest else None)
        out["price"].append(str(rest[1]) if len(rest) > 1 else None)
    return pa.table(out)


def load(wh: Warehouse, rows: list[tuple[Any, ...]], journey) -> list[Any]:  # type: ignore[no-untyped-def]
    wh.ingest_arrow(frame(rows))
    return catch_up(wh.con, journey)


def stored(wh: Warehouse) -> pd.DataFrame:
    return wh.con.execute("SELECT * FROM customer_state ORDER BY customer_id").df()


def test_state_in_steps_by_hand(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    moves = load(wh, [("a", 0, "ad"), ("a", 10, "price", "home"), ("b", 5, "view")], journey)
    assert [(m.customer_id, m.from_stage, m.to_stage, m.at) for m in moves] == [
        ("a", None, "awareness", T0),
        ("a", "awareness", "consideration", T0 + timedelta(minutes=10)),
    ]
    a = read_state(wh.con, journey, "a")
    assert a is not None
    assert a["stage"] == "consideration" and a["stage_entered_at"] == "2025-01-01T00:10:00Z"
    assert a["persona"] == "home" and a["events"] == 2
    assert [v["stage"] for v in a["stages_visited"]] == ["awareness", "consideration"]
    b = read_state(wh.con, journey, "b")
    assert b is not None and b["stage"] is None  # a view without a price fits no touchpoint

    # Appended events: a buys twice (first_buy, then repeat: nth counts from the first ever),
    # goes back to pricing; a pro segment later makes a "pro" (first persona in file order).
    moves = load(
        wh,
        [
            ("a", 20, "buy"),
            ("a", 30, "buy", "pro"),
            ("a", 40, "price"),
            ("b", 50, "view", None, 80),
        ],
        journey,
    )
    assert [(m.customer_id, m.from_stage, m.to_stage) for m in moves] == [
        ("a", "consideration", "decision"),
        ("a", "decision", "consideration"),
        ("b", None, "consideration"),
    ]
    a = read_state(wh.con, journey, "a")
    assert a is not None
    assert a["stage"] == "consideration" and a["stage_entered_at"] == "2025-01-01T00:40:00Z"
    assert a["highest_stage"] == "decision" and a["persona"] == "pro"
    assert [t["touchpoint"] for t in a["last_touchpoints"]] == [
        "price",
        "repeat",
        "first_buy",
        "price",
        "ad",
    ]

    # Nothing new: nothing to do.
    assert catch_up(wh.con, journey) == []

    # A late event (before a's last one) makes a's state be recomputed, and only a's.
    before_b = stored(wh).set_index("customer_id").loc["b"]
    moves = load(wh, [("a", 35, "buy")], journey)
    a = read_state(wh.con, journey, "a")
    assert a is not None and a["stage"] == "consideration"
    assert a["last_touchpoints"][1]["touchpoint"] == "repeat"  # 35 min: a third buy
    assert moves == []  # still in consideration: no stage event
    after_b = stored(wh).set_index("customer_id").loc["b"]
    assert after_b["updated_at"] == before_b["updated_at"]
    moves = load(wh, [("a", 45, "buy")], journey)
    assert [(m.from_stage, m.to_stage) for m in moves] == [("consideration", "decision")]
    seqs = [e.seq for e in stage_events_since(wh.con, 0)]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 6


def test_a_late_event_that_changes_the_stage_records_one_move(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    load(wh, [("a", 0, "ad"), ("a", 60, "ad")], journey)
    moves = load(wh, [("a", 90, "price"), ("a", 30, "buy")], journey)  # 30 min is late
    # Recomputed: awareness → decision (30) → awareness (60) → consideration (90).
    assert [(m.from_stage, m.to_stage, m.at) for m in moves] == [
        ("awareness", "consideration", T0 + timedelta(minutes=90))
    ]
    state = read_state(wh.con, journey, "a")
    assert state is not None and state["highest_stage"] == "decision"


def test_identity_links_move_the_state_to_the_person(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    load(wh, [("anon-1", 0, "ad"), ("anon-1", 5, "price")], journey)
    assert read_state(wh.con, journey, "anon-1") is not None
    linked = pa.table(
        {
            "userId": ["u1"],
            "anonymousId": ["anon-1"],
            "timestamp": [(T0 + timedelta(minutes=20)).isoformat()],
            "event": ["buy"],
        }
    )
    wh.ingest_arrow(linked)
    moves = catch_up(wh.con, journey)
    assert [(m.customer_id, m.from_stage, m.to_stage) for m in moves] == [("u1", None, "decision")]
    assert list(stored(wh).customer_id) == ["u1"]
    u1 = read_state(wh.con, journey, "u1")
    assert u1 is not None and u1["events"] == 3
    assert [v["stage"] for v in u1["stages_visited"]] == ["awareness", "consideration", "decision"]


def test_a_journey_edit_rebuilds_quietly(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    load(wh, [("a", 0, "ad"), ("a", 10, "view", None, 50)], journey)
    other, _ = parse_journey(JOURNEY.replace("lte: 100", "lte: 10"))
    assert other is not None
    assert catch_up(wh.con, other) == []  # the map changed, not the customer
    state = read_state(wh.con, other, "a")
    assert state is not None and state["stage"] == "awareness"


def test_read_state_without_a_catch_up_computes_it(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    wh.ingest_arrow(frame([("a", 0, "ad"), ("a", 10, "price")]))
    state = read_state(wh.con, journey, "a")  # no live tables yet: from a's events
    assert state is not None and state["stage"] == "consideration"
    assert read_state(wh.con, journey, "nobody") is None
    assert stage_events_since(wh.con, 0) == []


# -- incremental == full recompute, on random histories ---------------------------------------

row_st = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(0, 400),
    st.sampled_from(["ad", "price", "buy", "view", "other"]),
    st.sampled_from([None, "home", "pro"]),
    st.sampled_from([None, 50, 150]),
)


def _value(x: Any) -> Any:
    return None if x is None or (not isinstance(x, list | str) and pd.isna(x)) else x


def _unique(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # One event per customer and minute: ties in time would leave the event order to chance.
    seen: dict[tuple[str, int], tuple[Any, ...]] = {}
    for r in rows:
        seen.setdefault((r[0], r[1]), r)
    return list(seen.values())


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(row_st, min_size=1, max_size=40), st.data())
def test_incremental_equals_full_recompute(journey, rows, data) -> None:  # type: ignore[no-untyped-def]
    rows = _unique(rows)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    chunks = [rows[i:j] for i, j in zip([0, *cuts], [*cuts, len(rows)], strict=True)]
    wh = Warehouse(None)
    recorded = 0
    for chunk in chunks:
        if chunk:
            recorded += len(load(wh, chunk, journey))
    state = stored(wh).set_index("customer_id")

    # The stage analysis over the whole history.
    project = Project(None, journey, wh)
    full = customer_stages(project.events, journey).to_pandas().set_index("customer_id")
    assert sorted(state.index) == sorted(full.index)
    ids = list(journey.stage_ids)
    for c, r in full.iterrows():
        s = state.loc[c]
        assert _value(s["stage"]) == _value(r["current"])
        hi = None if pd.isna(r["highest"]) else ids[int(r["highest"]) - 1]
        assert _value(s["highest_stage"]) == hi
        assert _value(s["persona"]) == _value(r["persona"])
        firsts = dict(zip(s["stages_visited"], s["stages_first_at"], strict=True))
        for stage in ids:
            want = r[f"first_{stage}"]
            assert firsts.get(stage) == (None if pd.isna(want) else want.to_pydatetime())

    # stage_entered_at is the entry of the customer's last visit (journeys.stage_visits).
    visits = stage_visits(project.events, journey).to_pandas()
    last = visits.sort_values("visit").groupby("customer_id").tail(1).set_index("customer_id")
    for c, s in state.iterrows():
        if c in last.index:
            assert s["stage_entered_at"] == last.loc[c, "entered_at"].to_pydatetime()
        else:
            assert pd.isna(s["stage_entered_at"])

    # And everything else the state holds equals a recompute from the whole history.
    again = compute_states(wh.con, journey)
    for c, s in state.iterrows():
        want = again[c]
        assert s["events"] == want.events and list(s["_counts"]) == want.counts
        assert list(s["last_touchpoints"]) == [tp for tp, _ in want.last_touchpoints]

    # In one chunk, the feed holds every stage change; in more, never more than that.
    changes = int((visits.groupby("customer_id").size()).sum())
    assert recorded <= changes
    if len([c for c in chunks if c]) == 1:
        assert recorded == changes


def test_catch_up_inside_the_loaders_transaction(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    load(wh, [("a", 0, "ad")], journey)
    wh.con.execute("BEGIN TRANSACTION")
    wh.con.execute("INSERT INTO ingests VALUES (2, now(), now(), ['x'], 1, 1, 0, 0, NULL)")
    wh.con.execute(
        "INSERT INTO events SELECT customer_id, timestamp + INTERVAL 1 HOUR, 'price', "
        "channel, value, 'e2', session_id, properties, _key + 1, 2, anonymous_id, _c, _e "
        "FROM events"
    )
    moves = catch_up(wh.con, journey, in_transaction=True)
    assert [(m.from_stage, m.to_stage) for m in moves] == [("awareness", "consideration")]
    wh.con.execute("ROLLBACK")  # the load failed: the state goes with it
    state = read_state(wh.con, journey, "a")
    assert state is not None and state["stage"] == "awareness"
    assert len(stage_events_since(wh.con, 0)) == 1


def test_a_first_build_records_every_change_in_time_order(journey) -> None:  # type: ignore[no-untyped-def]
    wh = Warehouse(None)
    rows = [(c, m, e) for c in "abcde" for m, e in ((0, "ad"), (5, "price"), (9, "buy"))]
    moves = load(wh, rows, journey)
    assert len(moves) == 15 and [m.seq for m in moves] == list(range(1, 16))
    assert [m.at for m in moves] == sorted(m.at for m in moves)
    state = stored(wh)
    assert list(state.customer_id) == list("abcde") and set(state.stage) == {"decision"}
