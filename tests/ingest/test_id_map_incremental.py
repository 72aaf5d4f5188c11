"""The id map kept up to date per ingest equals the id map recomputed from every link."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.store.identity import materialise_id_map
from kundresa.store.warehouse import Warehouse

# Ids used on both sides make chains (alias calls) and cycles; few ids make conflicts.
IDS = st.sampled_from(["a0", "a1", "a2", "a3", "u0", "u1", "u2"])
ROW = st.tuples(IDS, IDS, st.integers(1, 28))
BATCHES = st.lists(st.lists(ROW, min_size=1, max_size=5), min_size=1, max_size=4)


def _batch(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.table(
        {
            "anonymous_id": pa.array([a for a, _, _ in rows], pa.string()),
            "user_id": pa.array([u for _, u, _ in rows], pa.string()),
            "timestamp": pa.array([f"2025-03-{d:02d} 10:00" for _, _, d in rows], pa.string()),
            "event": pa.array(["page_view"] * len(rows), pa.string()),
        }
    )


def _id_map(wh: Warehouse) -> list[tuple[str, str]]:
    return [tuple(r) for r in wh.con.execute("SELECT * FROM id_map ORDER BY ALL").fetchall()]


def _whole(con: Any, touched: str | None = None) -> int:
    return materialise_id_map(con)  # every person recomputed, as before the touched scope


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BATCHES)
def test_incremental_id_map_equals_the_whole_recompute(
    batches: list[list[tuple[str, str, int]]],
) -> None:
    incremental, whole = Warehouse(None), Warehouse(None)
    try:
        for rows in batches:
            # Later batches may carry earlier links (backfills that change the kept link).
            incremental.ingest_arrow(_batch(rows))
            with mock.patch("kundresa.store.warehouse.materialise_id_map", _whole):
                whole.ingest_arrow(_batch(rows))
            assert _id_map(incremental) == _id_map(whole)
    finally:
        incremental.close()
        whole.close()


def test_a_new_link_joins_two_persons_and_keeps_the_others() -> None:
    wh = Warehouse(None)
    try:
        wh.ingest_arrow(_batch([("a1", "u1", 5), ("a2", "u2", 5), ("a3", "u3", 5)]))
        assert _id_map(wh) == [("a1", "u1"), ("a2", "u2"), ("a3", "u3")]
        # u1 used as an anonymous id of u2 (an alias call): u1's person becomes u2's.
        wh.ingest_arrow(_batch([("u1", "u2", 6)]))
        assert _id_map(wh) == [("a1", "u2"), ("a2", "u2"), ("a3", "u3"), ("u1", "u2")]
        # A backfill: a1 was linked to u3 before u1 (day 2), so a1 is u3's; u1 stays u2's.
        wh.ingest_arrow(_batch([("a1", "u3", 2)]))
        assert _id_map(wh) == [("a1", "u3"), ("a2", "u2"), ("a3", "u3"), ("u1", "u2")]
    finally:
        wh.close()
