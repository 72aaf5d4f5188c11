"""Golden attribution cases, checked by hand (see tests/golden/attribution/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kundresa.attribution.models import attribute, markov, shapley
from kundresa.attribution.paths_file import read_paths_file

GOLDEN = Path(__file__).parent.parent / "golden" / "attribution"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def load(case: str) -> tuple[pd.DataFrame, dict]:
    params = json.loads((GOLDEN / case / "params.json").read_text())
    paths = read_paths_file(GOLDEN / case / "paths.csv")
    if "ages" in params:
        paths["ages"] = [tuple(float(a) for a in ages) for ages in params["ages"]]
    return paths, params


def check(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    actual = actual.sort_values(keys).reset_index(drop=True)[list(expected.columns)]
    expected = expected.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, rtol=0, atol=1e-9)


def test_every_case_is_described() -> None:
    readme = (GOLDEN / "README.md").read_text()
    assert CASES
    for case in CASES:
        assert f"## {case}" in readme


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    paths, params = load(case)
    options = params.get("options", {})
    frames = []
    for model in params["models"]:
        if model == "shapley":
            frames.append(shapley(paths, **options))
        else:
            frames.append(attribute(paths, model, **options))
    actual = pd.concat(frames, ignore_index=True)
    expected = pd.read_csv(GOLDEN / case / "expected.csv", keep_default_na=False)
    check(actual, expected, ["model", "channel"])
    # Exact Shapley values carry a degenerate interval.
    if "ci_low" in actual:
        assert (actual["ci_low"] == actual["conversions"]).all()
        assert (actual["ci_high"] == actual["conversions"]).all()


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("markov")])
def test_golden_markov_chain(case: str) -> None:
    paths, params = load(case)
    result = markov(paths, order=params["options"]["order"])
    expected = pd.read_csv(GOLDEN / case / "expected_removal.csv", keep_default_na=False)
    check(result.removal_effects, expected, ["channel"])
    expected = pd.read_csv(GOLDEN / case / "expected_transitions.csv", keep_default_na=False)
    check(result.transitions, expected, ["from_state", "to_state"])
    assert result.conversion_probability == pytest.approx(0.6, abs=1e-12)
    assert result.expected_value == pytest.approx(6.0, abs=1e-12)
