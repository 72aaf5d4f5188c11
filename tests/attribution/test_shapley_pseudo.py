"""Pseudo-channels such as `(no touch)` are not players of the Shapley game: their paths keep
their own conversions, and the game is played over the real channels."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.attribution import shapley
from kundresa.attribution._shapley import is_pseudo_channel
from kundresa.cli import main

HEADER = "path,total_conversions,total_conversion_value,total_null\n"


def paths(rows: list[tuple[tuple[str, ...], float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": pd.Series([r[0] for r in rows], dtype="object"),
            "conversions": [float(r[1]) for r in rows],
            "value": [float(r[2]) for r in rows],
            "nulls": [float(r[3]) for r in rows],
        }
    )


def test_no_touch_gets_exactly_its_own_conversion() -> None:
    # Before: (no touch) 50.75 of 51, because its coalition converts at rate 1.
    df = paths([(("web",), 50, 500, 50), (("(no touch)",), 1, 10, 0)])
    for game in ("rate", "conversions"):
        got = shapley(df, game=game).set_index("channel")
        assert got.loc["(no touch)", "conversions"] == 1.0
        assert got.loc["(no touch)", "value"] == 10.0
        assert got.loc["web", "conversions"] == 50.0
        assert got.loc["web", "value"] == 500.0


def test_the_game_is_the_one_without_pseudo_paths() -> None:
    real = [(("a",), 3, 30, 1), (("a", "b"), 2, 40, 4), (("b",), 1, 5, 6)]
    with_pseudo = [*real, (("(no touch)",), 7, 70, 0), (("(no touch)", "a"), 0, 0, 2)]
    # The pseudo touch on a mixed path is left out: that path counts as ("a",).
    as_real = [*real, (("a",), 0, 0, 2)]
    got = shapley(paths(with_pseudo)).set_index("channel")
    ref = shapley(paths(as_real)).set_index("channel")
    for ch in ("a", "b"):
        assert got.loc[ch, "conversions"] == pytest.approx(ref.loc[ch, "conversions"])
        assert got.loc[ch, "value"] == pytest.approx(ref.loc[ch, "value"])
    assert got.loc["(no touch)", "conversions"] == 7.0


def test_sampled_shapley_leaves_pseudo_channels_out_too() -> None:
    df = paths([(("web",), 50, 500, 50), (("mail", "web"), 5, 50, 20), (("(no touch)",), 1, 10, 0)])
    got = shapley(df, exact_limit=0, samples=50, seed=1).set_index("channel")
    assert got.loc["(no touch)", ["conversions", "ci_low", "ci_high"]].tolist() == [1.0] * 3
    assert got["conversions"].sum() == pytest.approx(56.0)


def test_is_pseudo_channel() -> None:
    assert is_pseudo_channel("(no touch)") and is_pseudo_channel("(other)")
    assert not any(is_pseudo_channel(c) for c in ("web", "(web", "web)", "a (b) c"))


channel_st = st.sampled_from(["a", "b", "c", "d", "(no touch)", "(x)"])
row_st = st.tuples(
    st.lists(channel_st, min_size=1, max_size=4).map(tuple),
    st.integers(0, 20),
    st.integers(0, 50),
    st.integers(0, 20),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(row_st, min_size=1, max_size=10), st.sampled_from(["rate", "conversions"]))
def test_credits_sum_to_the_total_conversions_and_value(rows, game) -> None:  # type: ignore[no-untyped-def]
    df = paths([(p, c, c * v, n) for p, c, v, n in rows])
    got = shapley(df, game=game)
    assert got["conversions"].sum() == pytest.approx(df["conversions"].sum(), abs=1e-6)
    assert got["value"].sum() == pytest.approx(df["value"].sum(), abs=1e-6)
    # A pseudo-channel gets exactly the conversions of the paths it is alone on.
    for name in ("(no touch)", "(x)"):
        rows_alone = [r for r in rows if all(is_pseudo_channel(c) for c in r[0])]
        own = sum(c * p.count(name) / len(p) for p, c, _, _ in rows_alone)
        credited = got.loc[got.channel == name, "conversions"]
        assert credited.sum() == pytest.approx(own, abs=1e-9)
    # Never a pseudo-channel's credit from the game: real channels only split real paths.
    real = {c for p, *_ in rows for c in p if not is_pseudo_channel(c)}
    assert set(got.channel) == {c for p, *_ in rows for c in p}
    assert all(math.isfinite(x) for x in got["conversions"]) and real <= set(got.channel)


def test_cli_paths_file_repro_and_negative_credit_note(tmp_path: Path) -> None:
    f = tmp_path / "paths.csv"
    f.write_text(HEADER + "web,50,500,50\n(no touch),1,10,0\n")
    runner = CliRunner()
    r = runner.invoke(
        main, ["attribution", "--paths", str(f), "--model", "shapley", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    import json

    rows = {row["channel"]: row for row in json.loads(r.stdout)}
    assert rows["(no touch)"]["conversions"] == 1.0 and rows["web"]["conversions"] == 50.0
    assert set(rows["web"]) == {
        "channel",
        "model",
        "conversions",
        "value",
        "share",
        "ci_low",
        "ci_high",
    }
    table = runner.invoke(main, ["attribution", "--paths", str(f), "--model", "shapley"])
    assert "credits can be negative: the rate game measures the change in conversion rate" in (
        table.output
    )
    conv = runner.invoke(
        main, ["attribution", "--paths", str(f), "--model", "shapley", "--game", "conversions"]
    )
    assert "can be negative" not in conv.output
    every = runner.invoke(main, ["attribution", "--paths", str(f), "--model", "all"])
    assert "credits can be negative" in every.output
    assert (
        "can be negative"
        not in runner.invoke(main, ["attribution", "--paths", str(f), "--model", "markov"]).output
    )


def test_pairs_of_channels_are_symmetric() -> None:
    # Two real channels on identical paths get identical credit; the pseudo row stays apart.
    rows = [(p, 3, 30, 2) for p in itertools.permutations(("a", "b"))]
    got = shapley(paths([*rows, (("(no touch)",), 4, 40, 0)])).set_index("channel")
    assert got.loc["a", "conversions"] == pytest.approx(got.loc["b", "conversions"])
    assert got.loc["a", "conversions"] + got.loc["b", "conversions"] == pytest.approx(6.0)


def test_the_paths_of_conversions_without_a_touch_are_pseudo() -> None:
    from kundresa.attribution.journey import NO_TOUCH

    assert is_pseudo_channel(NO_TOUCH)
