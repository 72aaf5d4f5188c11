"""Hand-checked golden cases for the stage funnel, non-linear journeys and paths.

Each case folder under ``tests/golden/<analysis group>/`` holds ``events.csv``,
``params.json`` (``analysis`` and its options) and ``expected.csv``; the group's
``journey.yaml`` and ``README.md`` sit beside the cases. Only the columns in ``expected.csv``
are compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kundresa import Project, read_events
from kundresa.analytics import journeys, paths, stages
from kundresa.model.parse import load_journey

GOLDEN = Path(__file__).parent.parent / "golden"
GROUPS = ("stages", "journeys", "paths")


def run(analysis: str, case: Path, params: dict[str, Any]) -> pd.DataFrame:
    journey = load_journey(case.parent / "journey.yaml")
    events = read_events(case / "events.csv")
    if analysis == "stage_funnel":
        project = Project.from_events(case / "events.csv", journey=case.parent / "journey.yaml")
        with project:
            return stages.stage_funnel(project, **params)
    if analysis == "stage_visits":
        return journeys.stage_visits(events, journey, **params).to_pandas()
    if analysis == "transition_matrix":
        return journeys.transition_matrix(events, journey, **params)
    if analysis == "paths":
        return paths.paths(events, journey=journey, **params)
    if analysis == "path_links":
        return paths.path_links(events, journey=journey, **params)
    if analysis == "directly_follows":
        return paths.directly_follows(events, journey, **params)
    raise AssertionError(f"unknown analysis {analysis}")


def cases() -> list[Path]:
    return sorted(
        p
        for g in GROUPS
        for p in (GOLDEN / g).iterdir()
        if p.is_dir() and (p / "params.json").exists()
    )


@pytest.mark.parametrize("case", cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(case: Path) -> None:
    params = json.loads((case / "params.json").read_text(encoding="utf-8"))
    got = run(params.pop("analysis"), case, params)
    expected = pd.read_csv(case / "expected.csv", keep_default_na=False, na_values=[""])
    assert len(got) == len(expected), got.to_string()
    for col in expected.columns:
        g, e = got[col], expected[col]
        if e.dtype.kind == "f" or g.dtype.kind == "f":
            pd.testing.assert_series_equal(
                g.astype("float64").reset_index(drop=True), e.astype("float64"), check_names=False
            )
        else:
            want = ["" if pd.isna(v) else str(v) for v in e]
            have = ["" if pd.isna(v) else str(v) for v in g]
            assert have == want, f"{col}: {have} != {want}"


def test_every_group_has_cases_and_a_readme() -> None:
    for g in GROUPS:
        assert (GOLDEN / g / "README.md").exists()
        assert any(p.parent.parent.name == g or p.parent.name == g for p in cases())
