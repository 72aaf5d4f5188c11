"""Events of one customer at one instant with one name and no event id are ordered by the
rest of the event order (session id, channel, value): a file read in place, the same file
copied into the warehouse, and the portable path give the same channel paths and credits
(docs/analytics.md, "Event order")."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.analyses import AnalysisError
from kundresa.analytics._fast import portable
from kundresa.analytics.touchpoints import EVENT_ORDER
from kundresa.model.events import CHANNEL, EVENT, EVENT_ID, SESSION_ID, TIMESTAMP, VALUE
from kundresa.project import Project

T0 = datetime(2025, 3, 1, 12, 0, 0)

# Few customers, instants and names: many rows apart only by session id, channel or value.
row_st = st.tuples(
    st.sampled_from(["c1", "c2", "c3"]),
    st.integers(0, 3).map(lambda m: T0 + timedelta(hours=m)),
    st.sampled_from(["view", "buy"]),
    st.none() | st.sampled_from(["web", "email", "ads"]),
    st.none() | st.sampled_from([0.0, 1.0, 2.5]),
    st.none() | st.sampled_from(["s1", "s2"]),
)


def _write(folder: Path, rows: list[tuple[Any, ...]], seed: int | None) -> Path:
    """The rows (distinct: a file the ingest would keep whole), shuffled by ``seed`` unless
    it is None."""
    rows = list(dict.fromkeys(rows))
    if seed is not None:
        random.Random(seed).shuffle(rows)
    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("event", pa.string()),
            ("channel", pa.string()),
            ("value", pa.float64()),
            ("session_id", pa.string()),
        ]
    )
    records = [dict(zip(schema.names, r, strict=True)) for r in rows]
    path = folder / "events.parquet"
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)
    return path


def _results(project: Project) -> dict[str, pd.DataFrame | str]:
    """Every model's credits (``--model all``: one set of conversion paths, each model's
    credits stacked), and the paths; a refused run (nothing to attribute) as its message,
    which must then be the same message on every side."""
    out: dict[str, pd.DataFrame | str] = {}
    try:
        out["models"] = project.run(
            "attribution", model="all", conversion="buy", level="channel"
        ).frame
    except AnalysisError as exc:
        out["models"] = str(exc)
    out["paths"] = project.run("paths", level="channel").frame
    return out


def _same(a: dict[str, pd.DataFrame | str], b: dict[str, pd.DataFrame | str]) -> None:
    for key in a:
        left, right = a[key], b[key]
        if isinstance(left, str) or isinstance(right, str):
            assert left == right, key
        else:
            pdt.assert_frame_equal(left, right, obj=key)


def test_the_event_order_is_the_store_orders_refinement() -> None:
    assert EVENT_ORDER == (TIMESTAMP, EVENT, EVENT_ID, SESSION_ID, CHANNEL, VALUE)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(row_st, min_size=1, max_size=16), st.integers(0, 1000))
def test_ties_are_ordered_alike_in_place_copied_and_portable(
    tmp_path: Path, rows: list[tuple[Any, ...]], seed: int
) -> None:
    path = _write(tmp_path, rows, seed)
    copied = Project.from_events(path)
    placed = Project.from_events(path, in_place=True)
    try:
        assert placed.warehouse.in_place is not None
        fast = _results(placed)
        _same(fast, _results(copied))
        with portable():
            _same(fast, _results(placed))
    finally:
        copied.close()
        placed.close()


def test_repro_channel_ties_credit_alike_in_place_and_copied(tmp_path: Path) -> None:
    # The review's repro: 10% of rows copied at the same instant under another channel.
    rnd = random.Random(3)
    rows = []
    for _ in range(2000):
        who = f"c{rnd.randrange(200):04d}"
        at = T0 + timedelta(seconds=rnd.randrange(0, 30 * 86400))
        event = rnd.choice(["ad_click", "page_view", "buy"])
        channel = rnd.choice(["web", "email", "direct"])
        value = float(rnd.randrange(5))
        rows.append((who, at, event, channel, value, None))
        if rnd.random() < 0.1:
            rows.append((who, at, event, "zz", value, None))
            rows.append((who, at, event, channel, value + 1, None))
    path = _write(tmp_path, rows, 0)
    copied = Project.from_events(path)
    placed = Project.from_events(path, in_place=True)
    try:
        assert placed.warehouse.in_place is not None
        _same(_results(placed), _results(copied))
    finally:
        copied.close()
        placed.close()


_JOURNEY = """kundresa: 1
name: ties
language: en
stages:
  - id: awareness
  - id: decision
touchpoints:
  - {id: visit, stage: awareness, match: {event: [aa_visit, zz_visit]}}
  - {id: buy, stage: decision, match: {event: purchase}}
"""


def test_a_first_channel_tied_at_the_first_instant_is_the_first_in_event_order(
    tmp_path: Path,
) -> None:
    # The review's repro: each customer's two visits at one instant, email's row first in the
    # file; by the event order (event name first) aa_visit, through search, comes first.
    rows = []
    for k in range(20):
        rows.append((f"c{k:02d}", T0, "zz_visit", "email", None, None))
        rows.append((f"c{k:02d}", T0, "aa_visit", "search", None, None))
        rows.append((f"c{k:02d}", T0 + timedelta(hours=1), "purchase", "web", 10.0, None))
    path = _write(tmp_path, rows, None)
    journey = tmp_path / "journey.yaml"
    journey.write_text(_JOURNEY)
    copied = Project.from_events(path, journey=journey)
    placed = Project.from_events(path, journey=journey, in_place=True)
    try:
        assert placed.warehouse.in_place is not None
        for project in (placed, copied):
            frame = project.run("stages", by="channel").frame
            assert set(frame["segment"]) == {"search"}
        with portable():
            assert set(placed.run("stages", by="channel").frame["segment"]) == {"search"}
    finally:
        copied.close()
        placed.close()
