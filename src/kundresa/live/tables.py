"""The live customer state's tables as the warehouse sees them: what ``kundresa forget``
erases (:meth:`kundresa.store.warehouse.Warehouse.forget`). Kept apart from
:mod:`kundresa.live.state` so that the store needs nothing of the analyses that state uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["forget_ids", "has_tables"]


def has_tables(con: Any) -> bool:
    """Whether the live tables exist in the warehouse on ``con``."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND table_name IN ('customer_state', 'stage_events')"
    ).fetchone()
    return bool(row and row[0] == 2)


def forget_ids(con: Any, ids: Sequence[str]) -> dict[str, int]:
    """Erase ``ids`` from the live tables (inside the caller's transaction); the numbers of
    ``customer_state`` and ``stage_events`` rows removed. No-op without the tables."""
    if not has_tables(con):
        return {"customer_state": 0, "stage_events": 0}
    counts = {}
    for table in ("customer_state", "stage_events"):
        row = con.execute(
            f"DELETE FROM {table} WHERE customer_id IN (SELECT unnest(?))", [list(ids)]
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    con.execute(
        "DELETE FROM live_id_map WHERE id IN (SELECT unnest($i)) "
        "OR customer_id IN (SELECT unnest($i))",
        {"i": list(ids)},
    )
    return counts
