"""Every analysis compiles for BigQuery, Snowflake, ClickHouse, Trino and PostgreSQL, with no
server: each analysis runs on a DuckDB engine that holds the events as another backend would
(properties as JSON text, through the ``duckdb://`` Ibis URL), every query it sends is
recorded, compiled with ``ibis.to_sql(expr, dialect=...)`` and parsed back by sqlglot.

The same run checks the JSON-text properties path against the warehouse's map: equal results.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
import sqlglot
import sqlglot.expressions as sge
from ibis.backends.sql.compilers import DuckDBCompiler

from kundresa import Project
from kundresa.analytics._portable import property_keys, property_value
from kundresa.demo.project import build_demo

sys.path.insert(0, str(Path(__file__).parents[1] / "parity"))
from parity_cases import ANALYSES, normalise

DIALECTS = ["bigquery", "snowflake", "clickhouse", "trino", "postgres"]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Project]]:
    target = tmp_path_factory.mktemp("dialects") / "demo"
    build_demo(target, customers=80, seed=7).close()
    duck = Project.open(target, read_only=True)
    text = Project.open(target, read_only=True, engine="duckdb://")
    yield duck, text
    duck.close()
    text.close()


_CONDITIONS = (sge.Predicate, sge.Connector, sge.Not, sge.Boolean)


def _boolean_casts(tree: sge.Expression) -> list[str]:
    """Casts of a condition to a number: ``cannot cast type boolean to bigint`` on Postgres."""
    out = []
    for cast in tree.find_all(sge.Cast):
        inner = cast.this
        while isinstance(inner, sge.Paren):
            inner = inner.this
        if isinstance(inner, _CONDITIONS) and cast.to.is_type(*sge.DataType.NUMERIC_TYPES):
            out.append(cast.sql("postgres"))
    return out


def test_boolean_cast_check_can_fail() -> None:
    t = ibis.table({"x": "int64"}, name="events")
    sql = str(ibis.to_sql(t.select(f=(t.x > 1).cast("int64")), dialect="postgres"))
    assert _boolean_casts(sqlglot.parse_one(sql, read="postgres"))


def _recorded(monkeypatch: pytest.MonkeyPatch, run: Any) -> list[Any]:
    seen: list[Any] = []
    original = DuckDBCompiler.to_sqlglot

    def record(self: Any, expr: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(expr)
        return original(self, expr, *args, **kwargs)

    monkeypatch.setattr(DuckDBCompiler, "to_sqlglot", record)
    run()
    monkeypatch.undo()
    return seen


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_analysis_compiles_for_every_dialect(
    projects: tuple[Project, Project], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    duck, text = projects
    assert text.events.schema()["properties"].is_string()
    result: list[pd.DataFrame] = []
    queries = _recorded(monkeypatch, lambda: result.append(ANALYSES[name](text)))
    assert queries, f"{name} sent no query"
    for dialect in DIALECTS:
        for expr in queries:
            sql = str(ibis.to_sql(expr, dialect=dialect))
            trees = sqlglot.parse(sql, read=dialect)
            assert trees, f"{name}: {dialect} SQL did not parse back"
            if dialect == "postgres":
                for tree in trees:
                    assert tree is not None
                    bad = _boolean_casts(tree)
                    assert not bad, f"{name}: PostgreSQL cannot cast a boolean: {bad[0]}"
    # JSON text and the map give the same answer.
    expected = normalise(ANALYSES[name](duck))
    pd.testing.assert_frame_equal(
        expected, normalise(result[0]), check_dtype=False, check_exact=False, rtol=1e-9
    )


def test_property_accessor_sql_per_dialect() -> None:
    t = ibis.table({"properties": "string"}, name="events")
    expr = t.select(v=property_value(t, "plan.tier"), k=property_keys(t))
    expected = {
        "postgres": ["JSON_EXTRACT_PATH_TEXT(CAST", "'plan.tier')", "JSON_OBJECT_KEYS"],
        "bigquery": ["JSON_VALUE(`t0`.`properties`, '$.\"plan.tier\"')", "JSON_KEYS(PARSE_JSON"],
        "snowflake": ['JSON_EXTRACT_PATH_TEXT("t0"."properties", \'"plan.tier"\')'],
        "clickhouse": ["JSONExtract(\"t0\".\"properties\", 'plan.tier', 'Nullable(String)')"],
        "trino": ['JSON_EXTRACT_SCALAR("t0"."properties", \'$["plan.tier"]\')'],
    }
    for dialect, parts in expected.items():
        sql = str(ibis.to_sql(expr, dialect=dialect))
        for part in parts:
            assert part in sql, (dialect, part, sql)


def test_property_accessor_on_duckdb_json_text() -> None:
    t = ibis.memtable(
        {"properties": ['{"plan.tier": "pro", "a": "x"}', "{}", None, '{"quote\\"d": "y"}']}
    )
    got = t.select(v=property_value(t, "plan.tier"), q=property_value(t, 'quote"d')).to_pandas()
    assert got["v"].tolist()[:1] == ["pro"]
    assert got["v"].isna().tolist() == [False, True, True, True]
    assert got["q"].tolist()[3] == "y"
    keys = t.select(k=property_keys(t)).to_pandas()["k"].tolist()
    assert sorted(keys[0]) == ["a", "plan.tier"]
