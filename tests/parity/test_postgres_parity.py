"""Every analysis on DuckDB and on PostgreSQL (a throw-away cluster, see conftest.py), through
the user's path: a project opened with ``engine="postgres://…"`` (its events pushed into the
server, properties as JSON text) and the CLI's ``--engine``. The results must be equal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ibis
import pandas as pd
import pytest
from click.testing import CliRunner
from parity_cases import ANALYSES, normalise

from kundresa import Project
from kundresa.cli import main
from kundresa.demo.project import build_demo

pytestmark = [
    # psycopg's pipeline reports its aborted state when a cursor is closed by the GC.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.fixture(scope="module")
def pg_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("pg-parity") / "demo"
    build_demo(target, customers=120, seed=5).close()
    return target


@pytest.fixture(scope="module")
def pg_engines(pg_folder: Path, postgres_url: str) -> Iterator[tuple[Project, Project]]:
    duck = Project.open(pg_folder, read_only=True)
    pg = Project.open(pg_folder, read_only=True, engine=postgres_url)
    yield duck, pg
    duck.close()
    pg.close()


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_same_result_on_duckdb_and_postgres(pg_engines: tuple[Project, Project], name: str) -> None:
    duck, pg = pg_engines
    a = normalise(ANALYSES[name](duck))
    b = normalise(ANALYSES[name](pg))
    assert not a.empty, f"{name}: the demo data should give a non-empty result"
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)


def test_events_live_in_postgres(pg_engines: tuple[Project, Project], postgres_url: str) -> None:
    duck, pg = pg_engines
    backend = pg.events._find_backend()
    assert backend.name == "postgres"
    stored = ibis.connect(postgres_url).table("events")
    assert stored.count().execute() == duck.events.count().execute()
    # Properties are JSON text on Postgres: no map type there.
    assert stored.schema()["properties"].is_string()


def test_cli_engine_postgres(pg_folder: Path, postgres_url: str) -> None:
    def run(*args: str) -> list[dict]:
        r = CliRunner().invoke(main, [*args, "--project", str(pg_folder), "--format", "json"])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    for command in (
        ["stages", "--by", "segment"],
        ["funnel", "--step", "ad_click", "--step", "purchase"],
        ["retention", "--period", "month"],
        ["attribution"],
    ):
        assert run(*command) == run(*command, "--engine", postgres_url), command
