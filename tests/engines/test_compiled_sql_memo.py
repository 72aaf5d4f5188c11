"""The DuckDB engine compiles one expression once (kundresa.store.engines): the SQL is
remembered, the query still runs on the data of the moment, and expressions that differ
(another filter, a limit, parameters) get SQL of their own."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest
from ibis.backends.sql import SQLBackend

from kundresa import Project


def _events(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i % 3}" for i in range(n)],
            "timestamp": pd.date_range("2025-03-01", periods=n, freq="h"),
            "event": ["visit" if i % 2 else "buy" for i in range(n)],
        }
    )


def _counting_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every compile Ibis does from now on, in order."""
    compiled: list[str] = []
    real = SQLBackend.compile

    def counting(self: Any, expr: Any, /, **kwargs: Any) -> str:
        sql: str = real(self, expr, **kwargs)
        compiled.append(sql)
        return sql

    monkeypatch.setattr(SQLBackend, "compile", counting)
    return compiled


def test_one_expression_is_compiled_once_and_runs_on_the_data_of_the_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled = _counting_compiles(monkeypatch)
    with Project.from_events(_events(6)) as p:
        buys = p.events.filter(p.events.event == "buy").count()
        assert buys.execute() == 3
        assert buys.execute() == 3
        assert len(compiled) == 1
        # The same expression built again is the same expression: no new compile.
        again = p.events.filter(p.events.event == "buy").count()
        assert again.execute() == 3 and len(compiled) == 1
        # Another expression, a limit, a parameter: compiled, each with its own SQL.
        visits = p.events.filter(p.events.event == "visit")
        assert visits.count().execute() == 3 and len(compiled) == 2
        assert len(visits.to_pandas(limit=2)) == 2 and len(compiled) == 3
        name = ibis.param("string")
        chosen = p.events.filter(p.events.event == name).count()
        assert chosen.execute(params={name: "buy"}) == 3
        assert chosen.execute(params={name: "nothing"}) == 0
        assert len(compiled) == 5
        # Rows changed after: the remembered SQL reads the table as it is now.
        p.warehouse.con.execute("DELETE FROM events WHERE event = 'buy' AND customer_id = 'c0'")
        assert buys.execute() == 2 and len(compiled) == 5


def test_an_expression_over_an_in_memory_table_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its key would keep the table's data alive as long as the project (a server's), and each
    in-memory table has a name of its own: compiled every time, nothing kept."""
    import gc
    import weakref

    compiled = _counting_compiles(monkeypatch)
    with Project.from_events(_events(6)) as p:
        frame = pd.DataFrame({"customer_id": ["c0", "c1"]})
        seen = weakref.ref(frame)
        mine = ibis.memtable(frame)
        joined = p.events.join(mine, "customer_id").count()
        assert joined.execute() == 4 and joined.execute() == 4
        assert len(compiled) == 2
        del mine, joined, frame
        gc.collect()
        assert seen() is None
