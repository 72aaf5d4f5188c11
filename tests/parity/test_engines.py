"""Every analysis on DuckDB and on local PySpark, through the user's path (a project opened
with ``engine="spark"``, and the CLI's ``--engine spark``): the results must be equal.

Values must be equal; types may differ only in width (int32/int64, timestamp units), and
floating-point sums may differ in the last bits (relative tolerance 1e-9).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from parity_cases import ANALYSES, normalise

pytest.importorskip("pyspark")

from kundresa import Project
from kundresa.cli import main
from kundresa.demo.project import build_demo

pytestmark = [
    pytest.mark.slow,
    # PySpark 4.0 passes pandas 3 a deprecated `copy=`, and py4j leaves gateway sockets to
    # the GC: both are PySpark's, not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("parity") / "demo"
    build_demo(target, customers=300, seed=5).close()
    return target


@pytest.fixture(scope="module")
def engines(folder: Path) -> Iterator[tuple[Project, Project]]:
    duck = Project.open(folder, read_only=True)
    spark = Project.open(folder, read_only=True, engine="local[2]")
    yield duck, spark
    duck.close()
    spark.close()


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_same_result_on_duckdb_and_spark(engines: tuple[Project, Project], name: str) -> None:
    duck, spark = engines
    a = normalise(ANALYSES[name](duck))
    b = normalise(ANALYSES[name](spark))
    assert not a.empty, f"{name}: the demo data should give a non-empty result"
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)


def test_cli_engine_spark(folder: Path) -> None:
    def run(*args: str) -> list[dict]:
        r = CliRunner().invoke(main, [*args, "--project", str(folder), "--format", "json"])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    for command in (
        ["stages"],
        ["transitions"],
        ["funnel", "--step", "ad_click", "--step", "purchase"],
    ):
        assert run(*command) == run(*command, "--engine", "local[2]")
