"""Every analysis on DuckDB and on local PySpark, through the user's path (a project opened
with ``engine="spark"``, and the CLI's ``--engine spark``): the results must be equal.

Values must be equal; types may differ only in width (int32/int64, timestamp units), and
floating-point sums may differ in the last bits (relative tolerance 1e-9).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("pyspark")

from kundresa import Project, attribution
from kundresa.analytics import bottlenecks, compare, funnel, journeys, paths, stages
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

STEPS = ["ad_click", "page_view|checkout_start", "purchase"]


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


def _ev(p: Project) -> Any:
    return p.events


ANALYSES: dict[str, Callable[[Project], pd.DataFrame]] = {
    "stage_funnel": lambda p: stages.stage_funnel(p),
    "stage_funnel_by_persona": lambda p: stages.stage_funnel(p, by="persona"),
    "stage_funnel_by_channel": lambda p: stages.stage_funnel(p, by="channel"),
    "stage_funnel_periods": lambda p: stages.stage_funnel_periods(
        p, since="2025-06-01", until="2025-09-01", compare_to="previous"
    ),
    "customer_stages": lambda p: stages.customer_stages(p.events, p.journey).to_pandas(),
    "funnel_ordered": lambda p: funnel.event_funnel(p.events, STEPS, window="14d"),
    "funnel_strict": lambda p: funnel.event_funnel(
        p.events, ["session_start", "page_view", "page_view"], order="strict"
    ),
    "funnel_any_by": lambda p: funnel.event_funnel(
        p.events, STEPS, order="any", window="30d", by="segment"
    ),
    "funnel_exclusion": lambda p: funnel.event_funnel(
        p.events, STEPS, window="30d", exclusions=["support_contact:1:3"]
    ),
    "funnel_stage_steps": lambda p: funnel.event_funnel(
        p.events, ["stage:awareness", "stage:decision"], window="60d", journey=p.journey
    ),
    "funnel_time": lambda p: funnel.time_to_convert_histogram(p.events, STEPS, window="30d"),
    "funnel_trend": lambda p: funnel.conversion_trend(p.events, STEPS, period="month"),
    "funnel_customers": lambda p: funnel.funnel_step_customers(
        p.events, STEPS, step=2, dropped=True
    ).to_pandas(),
    "stage_visits": lambda p: journeys.stage_visits(p.events, p.journey).to_pandas(),
    "customer_journeys": lambda p: journeys.customer_journeys(p.events, p.journey).to_pandas(),
    "transition_matrix": lambda p: journeys.transition_matrix(p.events, p.journey),
    "time_in_stage": lambda p: journeys.time_in_stage(p.events, p.journey),
    "journey_summary": lambda p: journeys.journey_summary(p.events, p.journey),
    "stage_analysis": lambda p: pd.concat(
        [df.assign(_part=k) for k, df in journeys.stage_analysis(p).items()], ignore_index=True
    ),
    "paths": lambda p: paths.paths(p.events, journey=p.journey, top=None),
    "paths_from": lambda p: paths.paths(
        p.events, journey=p.journey, level="event", start="ad_click", session_gap="1d"
    ),
    "paths_to": lambda p: paths.paths(
        p.events, journey=p.journey, level="stage", end="stage:decision", session_gap=None
    ),
    "path_links": lambda p: paths.path_links(p.events, journey=p.journey, level="channel"),
    "dfg": lambda p: paths.directly_follows(p.events, p.journey),
    "compare": lambda p: compare.compare(p, by="variant"),
    "compare_steps": lambda p: compare.compare(p, by="variant", steps=STEPS, window="30d"),
    "correlation": lambda p: compare.correlation(p, target="stage:decision"),
    "kpi_status": lambda p: bottlenecks.kpi_status(p),
    "bottlenecks": lambda p: bottlenecks.bottlenecks(p),
    "attribution_paths": lambda p: attribution.conversion_paths(p.events, journey=p.journey),
    "attribution_models": lambda p: attribution.compare_models(
        attribution.conversion_paths(p.events, journey=p.journey, conversion="stage:decision")
    ),
    "stage_attribution": lambda p: attribution.stage_attribution(
        p.events, p.journey, level="touchpoint"
    ),
}


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True).copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = df[c].astype("datetime64[us]")
    if "customer_id" in df.columns and not df.empty:
        keys = [c for c in ("customer_id", "visit") if c in df.columns]
        df = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return df


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
