"""Random events and funnel specifications shared by the fast-path tests (fast path against
portable path, and the journey-ordered store): one row is (customer, seconds after
:data:`T0`, event, channel, ``plan`` property, event id), times in whole 7-hour steps so that
one customer often has several rows at one instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
from hypothesis import strategies as st

from kundresa.store.schema import EVENT_SCHEMA

T0 = datetime(2025, 3, 1, 12, 0, 0)


def event_rows(
    customers: Sequence[str] = ("p", "q", "r", "s"),
    events: Sequence[str] = ("v", "c", "b", "x"),
    steps: int = 10,
) -> st.SearchStrategy[tuple[Any, ...]]:
    """One random event row (see the module notes)."""
    return st.tuples(
        st.sampled_from(list(customers)),
        st.integers(0, steps).map(lambda m: 3600 * 7 * m),
        st.sampled_from(list(events)),
        st.sampled_from([None, "ads", "email"]),
        st.sampled_from([None, "A", "B"]),
        st.sampled_from(["e1", "e2", None]),
    )


def events_table(rows: list[tuple[Any, ...]]) -> ibis.Table:
    """The rows as an in-memory events table (DuckDB) with the warehouse's schema."""
    data = {
        "customer_id": [r[0] for r in rows],
        "timestamp": [T0 + timedelta(seconds=r[1]) for r in rows],
        "event": [r[2] for r in rows],
        "channel": [r[3] for r in rows],
        "value": [None] * len(rows),
        "event_id": [r[5] for r in rows],
        "session_id": [None] * len(rows),
        "properties": [[("plan", r[4])] if r[4] else [] for r in rows],
    }
    return ibis.memtable(pa.table(data, schema=EVENT_SCHEMA.to_pyarrow()))


@st.composite
def funnel_specs(draw: st.DrawFn, orders: Sequence[str] = ("ordered", "strict")) -> dict[str, Any]:
    """Keyword arguments of a random event funnel over the events ``v``, ``c``, ``b`` (steps,
    alternatives, repeats), with exclusions (``x``, ``b``, ``v``), a window, a breakdown and a
    period; ``order`` drawn from ``orders``."""
    steps = draw(st.lists(st.sampled_from(["v", "c", "b", "v|c", "c|b"]), min_size=2, max_size=4))
    k = len(steps)
    exclusions = draw(
        st.lists(
            st.tuples(st.sampled_from(["x", "b", "v"]), st.integers(1, k - 1)).flatmap(
                lambda t: st.tuples(st.just(t[0]), st.just(t[1]), st.integers(t[1] + 1, k))
            ),
            max_size=2,
        )
    )
    return {
        "steps": steps,
        "window": draw(st.sampled_from([0, 3600 * 7, 86400, 86400 * 3])),
        "order": draw(st.sampled_from(list(orders))),
        "exclusions": exclusions,
        "by": draw(st.sampled_from([None, "plan", "channel"])),
        "since": draw(st.sampled_from([None, "2025-03-02"])),
        "until": draw(st.sampled_from([None, "2025-03-03"])),
    }
