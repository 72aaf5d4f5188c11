"""Attribution over nothing (a period without conversions or touches, a store of events none
of which is a touch or a conversion) answers an empty table, as every other analysis does
(funnel, paths, retention...): in Python, through ``Project.run``, on the command line in
every format and from the HTTP API. It used to be an error: ``no paths: no touches or
conversions to attribute``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from kundresa.attribution import attribute, compare_models, markov, shapley
from kundresa.attribution.models import MODELS
from kundresa.cli import main

JOURNEY = """\
kundresa: 1
name: Empty attribution
template: buyers-journey
language: en
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: purchase, stage: decision, match: {event: purchase}}
"""

EVENTS = """\
customer_id,timestamp,event,channel,value
c1,2025-03-01T10:00:00Z,ad,search,
c1,2025-03-03T10:00:00Z,purchase,,100
c2,2025-03-01T10:00:00Z,ad,social,
"""

EMPTY = ("--since", "2026-01-01", "--until", "2026-02-01")  # no event at all in it
NOTE = "nothing to attribute: no conversion (purchase) and no touch in the period"
CREDITS = ["channel", "model", "conversions", "value", "share"]
VIEWS = {
    "transitions": ["from_state", "to_state", "probability", "count"],
    "removal": [
        "channel",
        "removal_effect",
        "normalised",
        "conversions",
        "value_removal_effect",
        "value",
    ],
    "paths": ["path", "total_conversions", "total_conversion_value", "total_null"],
}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("empty-attribution")
    (root / "journey.yaml").write_text(JOURNEY)
    events = root / "events.csv"
    events.write_text(EVENTS)
    r = run("ingest", str(events), "--project", str(root), "--quiet")
    assert r.exit_code == 0, r.output
    return root


def _no_paths() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": pd.Series([], dtype=object),
            "conversions": pd.Series([], dtype="float64"),
            "value": pd.Series([], dtype="float64"),
            "nulls": pd.Series([], dtype="float64"),
        }
    )


@pytest.mark.parametrize("model", MODELS)
def test_every_model_credits_no_paths_with_an_empty_table(model: str) -> None:
    # first, last_non_direct, time_decay and position raised IndexError/ValueError here.
    df = attribute(_no_paths(), model)
    assert df.empty
    extra = ["ci_low", "ci_high"] if model == "shapley" else []
    assert list(df.columns) == CREDITS + extra


def test_the_other_python_functions_answer_empty_tables() -> None:
    table = compare_models(_no_paths())
    assert table.empty and list(table.columns)[:4] == [
        "channel",
        "first_conversions",
        "first_value",
        "first_share",
    ]
    result = markov(_no_paths())
    assert result.attribution.empty and result.transitions.empty
    assert result.removal_effects.empty
    assert shapley(_no_paths()).empty


@pytest.mark.parametrize(
    "analysis",
    [
        "attribution",
        "attribution_models",
        "attribution_transitions",
        "attribution_removal",
        "attribution_paths",
        "stage_attribution",
    ],
)
def test_project_run_over_an_empty_period(project: Path, analysis: str) -> None:
    from kundresa.project import Project

    with Project.open(project, read_only=True) as p:
        scope = p.scope(since="2026-01-01", until="2026-02-01")
        result = p.run(analysis, scope=scope)
    assert result.frame.empty
    if analysis != "stage_attribution":
        assert any(NOTE in n for n in result.notes), result.notes


def _quiet_cli(*args: str) -> Result:
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "error:" not in r.output
    return r


@pytest.mark.parametrize("model", [*MODELS, "all"])
def test_cli_every_model_and_format(project: Path, model: str) -> None:
    base = ("attribution", "--project", str(project), "--model", model, *EMPTY)
    assert json.loads(_quiet_cli(*base, "--format", "json").stdout) == []
    header = _quiet_cli(*base, "--format", "csv").stdout.strip()
    extra = ["ci_low", "ci_high"] if model in ("shapley", "all") else []
    assert header.split(",") == CREDITS + extra
    excel = _quiet_cli(*base, "--format", "csv", "--excel").stdout
    assert excel.startswith("\ufeffchannel")
    table = _quiet_cli(*base, "--format", "table")
    assert "channel" in table.stdout
    assert NOTE in table.stderr


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_cli_views(project: Path, view: str) -> None:
    base = ("attribution", "--project", str(project), "--view", view, *EMPTY)
    assert json.loads(_quiet_cli(*base, "--format", "json").stdout) == []
    assert _quiet_cli(*base, "--format", "csv").stdout.strip().split(",") == VIEWS[view]
    assert NOTE in _quiet_cli(*base, "--format", "table").stderr


def test_cli_stages_view(project: Path) -> None:
    base = ("attribution", "--project", str(project), "--view", "stages", *EMPTY)
    assert json.loads(_quiet_cli(*base, "--format", "json").stdout) == []


def test_an_events_file_without_touches_or_conversions(tmp_path: Path) -> None:
    """A store holding no touch and no conversion at all: an empty table, not an error."""
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,event\nc1,2025-01-01,visit\n")
    r = _quiet_cli("attribution", "--events", str(events), "--format", "json")
    assert json.loads(r.stdout) == []
    assert "nothing to attribute: no conversion (purchase) and no touch, so" in r.stderr


def test_http_api_over_an_empty_period(project: Path) -> None:
    import warnings

    from kundresa.web import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    app = create_app(project)
    try:
        r = TestClient(app).get("/api/attribution?since=2026-01-01&until=2026-02-01")
    finally:
        app.state.project.close()
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["models"] == [] and body["stages"] == []
    assert any(NOTE in n for n in body.get("notes", [])), body
