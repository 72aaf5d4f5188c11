"""Credits near the top of a double (values near 1.8e308).

Every model's credits scale with the amounts (conversions with the counts, value with the
values), so amounts whose sums would overflow are scaled by a power of two first (exactly)
and the credits multiplied back: a credit a double holds is given exactly, whatever the
sums on the way. A credit a double cannot hold is refused with one line naming the model,
the channel and the column, in every model, view and format; it used to be written as
``inf`` in CSV, ``null`` in JSON and ``–`` in the table (Markov's value even as 0.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from kundresa.attribution import attribute, compare_models, markov
from kundresa.attribution.models import MODELS
from kundresa.cli import main
from kundresa.report.units import format_count, format_money, format_number

SCALE = 2.0**1000


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _paths() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    channels = ["a", "b", "c", "d", "e", "f"]
    paths = [
        tuple(str(c) for c in rng.choice(channels, size=int(rng.integers(1, 5)))) for _ in range(40)
    ]
    conversions = rng.integers(0, 5, 40).astype(float)
    return pd.DataFrame(
        {
            "path": paths,
            "conversions": conversions,
            "value": rng.random(40) * 100 * conversions,
            "nulls": rng.integers(0, 5, 40).astype(float),
        }
    )


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("game", ["rate", "conversions"])
def test_credits_of_huge_values_are_exact(model: str, game: str) -> None:
    """Values 2**1000 times larger (their sum past a double's top) give credits exactly
    2**1000 times larger: the same credits, scaled."""
    paths = _paths()
    small = attribute(paths, model, game=game)
    huge = attribute(paths.assign(value=paths["value"] * SCALE), model, game=game)
    assert np.isfinite(huge["value"]).all()
    assert list(huge["channel"]) == list(small["channel"])
    assert np.array_equal(huge["value"].to_numpy(), small["value"].to_numpy() * SCALE)
    assert np.array_equal(huge["conversions"].to_numpy(), small["conversions"].to_numpy())


@pytest.mark.parametrize("model", MODELS)
def test_credits_of_huge_counts(model: str) -> None:
    paths = _paths()
    small = attribute(paths, model)
    huge = attribute(
        paths.assign(conversions=paths["conversions"] * SCALE, nulls=paths["nulls"] * SCALE),
        model,
    )
    assert list(huge["channel"]) == list(small["channel"])
    np.testing.assert_allclose(huge["conversions"], small["conversions"] * SCALE, rtol=1e-12)
    np.testing.assert_allclose(huge["value"], small["value"], rtol=1e-12, atol=1e-9)


def test_markov_views_and_all_models_of_huge_values() -> None:
    paths = _paths()
    big = paths.assign(value=paths["value"] * SCALE)
    result, reference = markov(big), markov(paths)
    removal = result.removal_effects
    assert np.array_equal(removal["value"], reference.removal_effects["value"] * SCALE)
    assert result.transitions.equals(reference.transitions)
    assert result.expected_value == reference.expected_value * SCALE
    wide = compare_models(big)
    numbers = wide.drop(columns="channel").to_numpy(dtype="float64")
    assert np.isfinite(numbers).all()


def test_values_summed_on_one_channel_are_in_range() -> None:
    """1e308 on each of two channels: the total (2e308) overflows, every credit fits."""
    paths = pd.DataFrame(
        {"path": [("a",), ("b",)], "conversions": [1.0, 1.0], "value": [1e308, 1e308]}
    )
    for model in MODELS:
        df = attribute(paths, model, game="conversions")
        assert dict(zip(df["channel"], df["value"], strict=True)) == {"a": 1e308, "b": 1e308}
        assert dict(zip(df["channel"], df["share"], strict=True)) == {"a": 0.5, "b": 0.5}


TOO_MUCH = pd.DataFrame(  # 'a' earns 2e308 or more in every model
    {
        "path": [("a",), ("a",), ("b",)],
        "conversions": [1.0, 1.0, 1.0],
        "value": [1e308, 1e308, 0.0],
        "nulls": [0.0, 0.0, 1.0],
    }
)


@pytest.mark.parametrize("model", MODELS)
def test_a_credit_a_double_cannot_hold_is_refused(model: str) -> None:
    with pytest.raises(ValueError, match=rf"^{model}: the value credited to 'a' is more"):
        attribute(TOO_MUCH, model)


PATHS_FILE = """\
path,total_conversions,total_conversion_value,total_null
a,1,1e308,0
a,1,1e308,0
b,1,0,1
"""


@pytest.mark.parametrize("model", [*MODELS, "all"])
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_cli_refuses_in_every_format(tmp_path: Path, model: str, fmt: str) -> None:
    file = tmp_path / "paths.csv"
    file.write_text(PATHS_FILE)
    r = run("attribution", "--paths", str(file), "--model", model, "--format", fmt)
    assert r.exit_code == 1, r.output
    errors = [line for line in r.stderr.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1, r.stderr
    assert errors[0].startswith("error: ") and "is more than a double holds" in errors[0]
    assert f"{file}: the column total_conversion_value holds amounts too large" in errors[0]
    assert "inf" not in r.stdout and "null" not in r.stdout and "Traceback" not in r.output


@pytest.mark.parametrize("view", ["removal", "transitions"])
def test_cli_markov_views_refuse(tmp_path: Path, view: str) -> None:
    file = tmp_path / "paths.csv"
    file.write_text(PATHS_FILE)
    r = run("attribution", "--paths", str(file), "--view", view, "--format", "csv")
    assert r.exit_code == 1 and "markov: the value credited to 'a'" in r.stderr, r.output


def test_cli_paths_view_refuses_a_sum_past_the_top(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "customer_id,timestamp,event,channel,value\n"
        "c1,2025-03-01T10:00:00Z,ad,search,\n"
        "c1,2025-03-02T10:00:00Z,purchase,,1e308\n"
        "c2,2025-03-01T10:00:00Z,ad,search,\n"
        "c2,2025-03-02T10:00:00Z,purchase,,1e308\n"
    )
    r = run("attribution", "--events", str(events), "--view", "paths", "--format", "csv")
    assert r.exit_code == 1, r.output
    assert "paths: the total_conversion_value of the path 'search' is more than a double" in (
        r.stderr
    )
    assert "the conversion events' value column holds amounts too large" in r.stderr
    r = run("attribution", "--events", str(events), "--format", "json")
    assert r.exit_code == 1 and "markov: the value credited to 'search'" in r.stderr


def test_cli_writes_credits_near_the_top(tmp_path: Path) -> None:
    """Credits that fit: every format writes them (the table in scientific notation)."""
    file = tmp_path / "paths.csv"
    file.write_text(
        "path,total_conversions,total_conversion_value,total_null\na,1,1e308,0\nb,1,1e308,0\n"
    )
    r = run("attribution", "--paths", str(file), "--model", "markov", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[1:] == ["a,markov,1.0,1e+308,0.5", "b,markov,1.0,1e+308,0.5"]
    r = run("attribution", "--paths", str(file), "--model", "markov")
    assert r.exit_code == 0, r.output
    assert "1E308" in r.stdout and "–" not in r.stdout


def test_tables_write_huge_numbers_in_scientific_notation() -> None:
    # Babel's decimal arithmetic (28 digits) raised InvalidOperation from about 1e26 up.
    assert format_money(1.5e308) == "1.5E308"
    assert format_money(-2.5e30, "en") == "-2.5E30"
    assert format_number(1e21) == "1E21"
    assert format_count(1.2345e25) == "1.234E25"
    assert format_money(1.5e308, "sv") == "1,5×10^308"
    assert format_money(9.99e20) == "999,000,000,000,000,000,000.00"
