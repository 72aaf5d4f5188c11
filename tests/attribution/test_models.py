"""Attribution models against plain-Python references, and their properties.

The references below are written from the definitions in docs/attribution.md, loop by loop
and without NumPy tricks: heuristics touch by touch, the Markov chain from dictionaries of
transition counts solved densely with one system per removal, Shapley values by the subset
formula over explicitly computed coalition values.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter, defaultdict
from re import escape

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kundresa.attribution as attribution
import kundresa.attribution._markov as markov_module
from kundresa.attribution.models import (
    HEURISTIC_MODELS,
    MODELS,
    attribute,
    compare_models,
    markov,
    shapley,
)

DAY = 86400.0
NAMES = ["a", "b", "c", "d", "e", "direct"]

# -- data -------------------------------------------------------------------------------------


def _row(path: tuple[str, ...]):  # type: ignore[no-untyped-def]
    ages = st.one_of(
        st.none(),
        st.lists(st.integers(0, 60), min_size=len(path), max_size=len(path)).map(
            lambda days: tuple(d * DAY for d in days)
        ),
    )
    return st.tuples(
        st.just(path),
        st.integers(0, 4),
        st.sampled_from([0.0, 10.0, 25.5]),
        st.integers(0, 4),
        ages,
    )


row_st = st.lists(st.sampled_from(NAMES), min_size=1, max_size=6).map(tuple).flatmap(_row)
rows_st = st.lists(row_st, min_size=1, max_size=12)


def frame(rows: list[tuple], ages: bool = True) -> pd.DataFrame:
    """A paths frame: value is the price times the conversions."""
    df = pd.DataFrame(
        {
            "path": pd.Series([r[0] for r in rows], dtype="object"),
            "conversions": [float(r[1]) for r in rows],
            "value": [r[1] * r[2] for r in rows],
            "nulls": [float(r[3]) for r in rows],
        }
    )
    if ages:
        df["ages"] = pd.Series([r[4] for r in rows], dtype="object")
    return df


def by_channel(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("channel").reset_index(drop=True)


def assert_same(a: pd.DataFrame, b: pd.DataFrame, atol: float = 1e-9) -> None:
    pd.testing.assert_frame_equal(by_channel(a), by_channel(b), check_dtype=False, atol=atol)


# -- references -------------------------------------------------------------------------------


def ref_weights(path, ages, model, direct, half_life, half_life_touches, position):  # type: ignore[no-untyped-def]
    n = len(path)
    if model == "first":
        return [1.0] + [0.0] * (n - 1)
    if model == "last":
        return [0.0] * (n - 1) + [1.0]
    if model == "last_non_direct":
        others = [j for j in range(n) if path[j] != direct]
        j = others[-1] if others else n - 1
        return [1.0 if k == j else 0.0 for k in range(n)]
    if model == "linear":
        return [1.0 / n] * n
    if model == "time_decay":
        if ages is not None:
            raw = [2.0 ** (-a / half_life) for a in ages]
        else:
            raw = [2.0 ** (-(n - 1 - j) / half_life_touches) for j in range(n)]
        return [r / sum(raw) for r in raw]
    total = sum(position)
    f, m, last = (x / total for x in position)
    if n == 1:
        return [1.0]
    if n == 2:
        return [f / (f + last), last / (f + last)] if f + last > 0 else [0.5, 0.5]
    return [f] + [m / (n - 2)] * (n - 2) + [last]


def ref_heuristic(df, model, direct="direct", half_life=7 * DAY, half_life_touches=1.0,
                  position=(0.4, 0.2, 0.4)):  # type: ignore[no-untyped-def]  # fmt: skip
    credit: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    ages_col = df["ages"] if "ages" in df else [None] * len(df)
    for path, c, v, ages in zip(df["path"], df["conversions"], df["value"], ages_col, strict=True):
        w = ref_weights(path, ages, model, direct, half_life, half_life_touches, position)
        for ch, wj in zip(path, w, strict=True):
            credit[ch][0] += c * wj
            credit[ch][1] += v * wj
    return credit


def ref_markov(df: pd.DataFrame, order: int) -> dict[str, tuple[float, float, float, float]]:
    """channel -> (removal effect, value removal effect, conversions, value)."""
    counts: Counter = Counter()
    value_end: Counter = Counter()
    for path, c, v, n in zip(df["path"], df["conversions"], df["value"], df["nulls"], strict=True):
        if c + n == 0:
            continue
        if len(path) >= order:
            windows = [tuple(path[i : i + order]) for i in range(len(path) - order + 1)]
        else:
            windows = [tuple(path)]
        states = [windows[0]] + [b for a, b in itertools.pairwise(windows) if a != b]
        for a, b in itertools.pairwise(["S", *states]):
            counts[a, b] += c + n
        counts[states[-1], "C"] += c
        counts[states[-1], "N"] += n
        value_end[states[-1]] += v
    transient = ["S", *sorted({a for a, _ in counts if a != "S"})]
    at = {s: i for i, s in enumerate(transient)}

    def solve(removed: str | None) -> tuple[float, float]:
        size = len(transient)
        a = np.eye(size)
        b = np.zeros((size, 2))
        for s in transient:
            i = at[s]
            if removed is not None and s != "S" and removed in s:
                continue  # x_s = 0
            out = sum(cnt for (x, _), cnt in counts.items() if x == s)
            for (x, t), cnt in counts.items():
                if x == s and t in at:
                    a[i, at[t]] -= cnt / out
            b[i] = counts[s, "C"] / out, value_end[s] / out
        x = np.linalg.solve(a, b)
        return x[0, 0], x[0, 1]

    channels = sorted({ch for p in df["path"] for ch in p})
    if not counts:
        return {ch: (0.0, 0.0, 0.0, 0.0) for ch in channels}
    p, ev = solve(None)
    effects = {}
    for ch in channels:
        q, qv = solve(ch)
        effects[ch] = (1 - q / p if p > 0 else 0.0, 1 - qv / ev if ev > 0 else 0.0)
    total_re = sum(e[0] for e in effects.values())
    total_rv = sum(e[1] for e in effects.values())
    tc, tv = df["conversions"].sum(), df["value"].sum()
    return {
        ch: (
            re,
            rv,
            re / total_re * tc if total_re > 0 else 0.0,
            rv / total_rv * tv if total_rv > 0 else 0.0,
        )
        for ch, (re, rv) in effects.items()
    }


def ref_shapley(df: pd.DataFrame, game: str) -> dict[str, tuple[float, float]]:
    channels = sorted({ch for p in df["path"] for ch in p})
    n = len(channels)
    sets = [frozenset(p) for p in df["path"]]

    def v(coalition: frozenset) -> tuple[float, float]:
        conv = value = journeys = 0.0
        for s, c, val, nl in zip(sets, df["conversions"], df["value"], df["nulls"], strict=True):
            if s <= coalition:
                conv, value, journeys = conv + c, value + val, journeys + c + nl
        if game == "conversions":
            return conv, value
        return (conv / journeys, value / journeys) if journeys > 0 else (0.0, 0.0)

    out = {}
    for ch in channels:
        others = [x for x in channels if x != ch]
        phi = [0.0, 0.0]
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for subset in itertools.combinations(others, k):
                s = frozenset(subset)
                with_ch, without = v(s | {ch}), v(s)
                phi[0] += w * (with_ch[0] - without[0])
                phi[1] += w * (with_ch[1] - without[1])
        out[ch] = (phi[0], phi[1])
    if game == "rate":
        journeys = (df["conversions"] + df["nulls"]).sum()
        out = {ch: (a * journeys, b * journeys) for ch, (a, b) in out.items()}
    return out


# -- heuristics -------------------------------------------------------------------------------


options_st = st.fixed_dictionaries(
    {
        "direct": st.sampled_from(["direct", "a"]),
        "half_life": st.sampled_from([DAY, 7 * DAY, 30 * DAY]),
        "half_life_touches": st.sampled_from([0.5, 1.0, 3.0]),
        "position": st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)).filter(
            lambda t: sum(t) > 0
        ),
    }
)


@settings(max_examples=120, deadline=None)
@given(rows_st, options_st, st.booleans())
def test_heuristics_match_the_reference(rows, options, with_ages) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows, ages=with_ages)
    for model in HEURISTIC_MODELS:
        got = attribute(df, model, **options).set_index("channel")
        ref = ref_heuristic(df, model, **options)
        assert set(got.index) == {ch for p in df["path"] for ch in p}
        for ch, row in got.iterrows():
            assert row["conversions"] == pytest.approx(ref[ch][0], abs=1e-9), (model, ch)
            assert row["value"] == pytest.approx(ref[ch][1], abs=1e-9), (model, ch)
            assert row["model"] == model


@settings(max_examples=100, deadline=None)
@given(rows_st)
def test_channels_in_no_converting_path_get_nothing_from_heuristics(rows) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows)
    converting = {
        ch for p, c in zip(df["path"], df["conversions"], strict=True) if c > 0 for ch in p
    }
    for model in HEURISTIC_MODELS:
        got = attribute(df, model).set_index("channel")
        for ch in set(got.index) - converting:
            assert got.loc[ch, "conversions"] == 0
            assert got.loc[ch, "value"] == 0


def test_time_decay_with_very_old_touches_does_not_underflow() -> None:
    df = pd.DataFrame(
        {
            "path": [("a", "b")],
            "conversions": [1.0],
            "value": [1.0],
            "nulls": [0.0],
            "ages": [(1e12, 1e12 - DAY)],
        }
    )
    got = attribute(df, "time_decay", half_life=DAY).set_index("channel")["conversions"]
    assert got.to_dict() == pytest.approx({"a": 1 / 3, "b": 2 / 3})


def test_ages_unknown_per_row() -> None:
    df = pd.DataFrame(
        {
            "path": [("a", "b"), ("a", "b")],
            "conversions": [1.0, 1.0],
            "value": [0.0, 0.0],
            "nulls": [0.0, 0.0],
            "ages": [None, (0.0, 0.0)],
        }
    )
    got = attribute(df, "time_decay").set_index("channel")["conversions"]
    # Touch-based (1/3, 2/3) plus equal ages (1/2, 1/2).
    assert got.to_dict() == pytest.approx({"a": 1 / 3 + 1 / 2, "b": 2 / 3 + 1 / 2})


# -- every model ------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(rows_st, st.integers(1, 4))
def test_credits_sum_to_the_totals(rows, order) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows)
    total_conv, total_value = df["conversions"].sum(), df["value"].sum()
    for model in MODELS:
        got = attribute(df, model, order=order)
        assert got["conversions"].sum() == pytest.approx(total_conv, abs=1e-9), model
        assert got["value"].sum() == pytest.approx(total_value, abs=1e-9), model
        if total_conv > 0:
            assert got["share"].sum() == pytest.approx(1.0, abs=1e-9)
        assert list(got.columns[:5]) == ["channel", "model", "conversions", "value", "share"]
        assert len(got) == len({ch for p in df["path"] for ch in p})
        order_key = list(zip(-got["conversions"].round(9), got["channel"], strict=True))
        assert order_key == sorted(order_key)


@settings(max_examples=60, deadline=None)
@given(rows_st, st.randoms(use_true_random=False), st.integers(1, 3))
def test_results_do_not_depend_on_row_order_or_on_splitting_rows(rows, rnd, order) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows)
    shuffled = df.sample(frac=1.0, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
    # The first row split into two rows holding its counts between them.
    first = df.iloc[[0]].copy()
    half = first.copy()
    half[["conversions", "value", "nulls"]] = half[["conversions", "value", "nulls"]] / 2
    split = pd.concat([half, df.iloc[1:], half], ignore_index=True)
    for model in MODELS:
        base = attribute(df, model, order=order)
        assert_same(base, attribute(shuffled, model, order=order))
        assert_same(base, attribute(split, model, order=order))
    base = shapley(df, exact_limit=0, samples=50, seed=3)
    assert_same(base, shapley(shuffled, exact_limit=0, samples=50, seed=3))


@settings(max_examples=60, deadline=None)
@given(
    rows_st,
    st.sampled_from([">", "|", "→", " > ", "::"]),
    st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=4, max_size=4),
    st.integers(1, 3),
)
def test_paths_as_strings_with_sep_equal_tuples(rows, sep, pads, order) -> None:  # type: ignore[no-untyped-def]
    """``sep=``: paths written as strings (as in a paths file), with any spaces around the
    names, give exactly what the same paths as tuples give."""
    df = frame(rows)
    written = df.copy()
    written["path"] = [pads[0] + (pads[1] + sep + pads[2]).join(p) + pads[3] for p in df["path"]]
    for model in MODELS:
        assert_same(
            attribute(df, model, order=order), attribute(written, model, order=order, sep=sep)
        )
    a, b = markov(df, order=order), markov(written, order=order, sep=sep)
    pd.testing.assert_frame_equal(a.transitions, b.transitions)
    assert_same(
        shapley(df, exact_limit=0, samples=20), shapley(written, exact_limit=0, samples=20, sep=sep)
    )
    both = compare_models(df, ["first", "markov"])
    pd.testing.assert_frame_equal(both, compare_models(written, ["first", "markov"], sep=sep))


@pytest.mark.parametrize(
    ("paths", "sep", "message"),
    [
        (["a > b", ""], ">", "row 1: empty path ''"),
        (["a > > b"], ">", "row 0: empty channel name in 'a > > b'"),
        (["a >"], ">", "row 0: empty channel name"),
        (["a > b"], "", "sep must be a non-empty string"),
        (["a\x00b > c", "d"], ">", None),  # a NUL in a name: the slow path, same answer
    ],
)
def test_bad_string_paths(paths: list, sep: str, message: str | None) -> None:
    df = pd.DataFrame({"path": pd.Series(paths, dtype=object), "conversions": 1.0})
    if message is None:
        got = attribute(df, "first", sep=sep)
        assert set(got["channel"]) == {"a\x00b", "c", "d"}
        return
    with pytest.raises(ValueError, match=escape(message)):
        attribute(df, "first", sep=sep)


def test_unknown_channels_in_input_frames_and_zero_rows() -> None:
    df = pd.DataFrame(
        {
            "path": [("a",), ("b", "c")],
            "conversions": [2, 0],
            "value": [5, 0],
            "nulls": [1, 0],
        }
    )
    for model in MODELS:
        got = attribute(df, model).set_index("channel")
        assert set(got.index) == {"a", "b", "c"}
        assert got.loc["a", "conversions"] == pytest.approx(2.0)
        assert got.loc[["b", "c"], "conversions"].abs().sum() == pytest.approx(0.0)


def test_no_conversions_at_all() -> None:
    df = pd.DataFrame({"path": [("a", "b")], "conversions": [0.0], "value": [0.0], "nulls": [3.0]})
    for model in MODELS:
        got = attribute(df, model)
        assert (got["conversions"] == 0).all() and (got["share"] == 0).all()
    result = markov(df)
    assert result.conversion_probability == 0
    assert (result.removal_effects["removal_effect"] == 0).all()


def test_only_empty_rows() -> None:
    df = pd.DataFrame({"path": [("a",)], "conversions": [0.0], "value": [0.0], "nulls": [0.0]})
    result = markov(df)
    assert result.transitions.empty
    assert list(result.attribution["channel"]) == ["a"]


# -- Markov -----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(rows_st, st.integers(1, 4))
def test_markov_matches_the_reference(rows, order) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows, ages=False)
    result = markov(df, order=order)
    ref = ref_markov(df, order)
    effects = result.removal_effects.set_index("channel")
    credits = result.attribution.set_index("channel")
    for ch, (re, rv, conv, value) in ref.items():
        assert effects.loc[ch, "removal_effect"] == pytest.approx(re, abs=1e-9)
        assert effects.loc[ch, "value_removal_effect"] == pytest.approx(rv, abs=1e-9)
        assert credits.loc[ch, "conversions"] == pytest.approx(conv, abs=1e-9)
        assert credits.loc[ch, "value"] == pytest.approx(value, abs=1e-9)
        assert effects.loc[ch, "conversions"] == credits.loc[ch, "conversions"]
    t = result.transitions
    if not t.empty:
        sums = t.groupby("from_state")["probability"].sum()
        assert np.allclose(sums, 1.0)
        start = t[t["from_state"] == "(start)"]["count"].sum()
        assert start == pytest.approx((df["conversions"] + df["nulls"]).sum())
        assert not t["to_state"].eq("(start)").any()
        observed = df["conversions"].sum() / (df["conversions"] + df["nulls"]).sum()
        if order == 1:  # flow conservation: the chain converts at the observed rate
            assert result.conversion_probability == pytest.approx(observed)


@settings(max_examples=60, deadline=None)
@given(rows_st, st.integers(1, 4))
def test_markov_solvers_agree(rows, order) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows, ages=False)
    dense = markov(df, order=order)
    for dense_limit, direct_limit in ((0, 10**9), (0, 0)):  # sparse LU, then BiCGSTAB
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(markov_module, "DENSE_LIMIT", dense_limit)
            mp.setattr(markov_module, "DIRECT_LIMIT", direct_limit)
            other = markov(df, order=order)
        assert_same(dense.removal_effects, other.removal_effects, atol=1e-9)


def test_markov_is_deterministic_and_merges_repeats() -> None:
    df = pd.DataFrame(
        {
            "path": [("a", "a", "b"), ("b", "a"), ("c",)],
            "conversions": [3.0, 1.0, 0.0],
            "value": [30.0, 5.0, 0.0],
            "nulls": [1.0, 2.0, 4.0],
        }
    )
    one, two = markov(df), markov(df)
    pd.testing.assert_frame_equal(one.removal_effects, two.removal_effects)
    pd.testing.assert_frame_equal(one.transitions, two.transitions)
    assert not ((one.transitions["from_state"] == "a") & (one.transitions["to_state"] == "a")).any()
    merged = df.assign(path=[("a", "b"), ("b", "a"), ("c",)])
    pd.testing.assert_frame_equal(one.removal_effects, markov(merged).removal_effects)
    assert one.order == 1


def test_markov_states_of_higher_order() -> None:
    df = pd.DataFrame(
        {"path": [("a", "b", "c", "d"), ("x",)], "conversions": [1.0, 0.0], "value": [0.0, 0.0],
         "nulls": [0.0, 1.0]}
    )  # fmt: skip
    states = set(markov(df, order=3).transitions["from_state"])
    assert states == {"(start)", "a,b,c", "b,c,d", "x"}


def test_markov_removal_effect_is_the_share_of_converting_walks_through_the_channel() -> None:
    # a always precedes the conversion; b only on half the converting paths.
    df = pd.DataFrame(
        {"path": [("b", "a"), ("a",), ("b",)], "conversions": [1.0, 1.0, 0.0],
         "value": [1.0, 1.0, 0.0], "nulls": [0.0, 0.0, 2.0]}
    )  # fmt: skip
    effects = markov(df).removal_effects.set_index("channel")["removal_effect"]
    assert effects["a"] == pytest.approx(1.0)
    # P(conv) = 1/4 * 1 + 3/4 * (1/3 * 1) = 1/2; without b: 1/4 -> effect 1/2.
    assert effects["b"] == pytest.approx(0.5)


def test_markov_result_is_exported() -> None:
    assert attribution.MarkovResult is markov_module.MarkovResult


# -- Shapley ----------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(rows_st, st.sampled_from(["rate", "conversions"]))
def test_shapley_exact_matches_the_subset_formula(rows, game) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows, ages=False)
    got = shapley(df, game=game).set_index("channel")
    for ch, (conv, value) in ref_shapley(df, game).items():
        assert got.loc[ch, "conversions"] == pytest.approx(conv, abs=1e-9)
        assert got.loc[ch, "value"] == pytest.approx(value, abs=1e-9)
    assert (got["ci_low"] == got["conversions"]).all()
    assert (got["ci_high"] == got["conversions"]).all()


@settings(max_examples=60, deadline=None)
@given(rows_st)
def test_conversions_game_is_an_equal_split_among_distinct_channels(rows) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows, ages=False)
    closed: dict[str, float] = defaultdict(float)
    for path, c in zip(df["path"], df["conversions"], strict=True):
        for ch in set(path):
            closed[ch] += c / len(set(path))
    exact = shapley(df, game="conversions").set_index("channel")
    sampled = shapley(df, game="conversions", exact_limit=0, samples=300, seed=1)
    sampled = sampled.set_index("channel")
    for ch, credit in closed.items():
        assert exact.loc[ch, "conversions"] == pytest.approx(credit, abs=1e-9)
        # Sampled: inside a wide interval (z = 4.4), and never negative in this game.
        wide = shapley(df, game="conversions", exact_limit=0, samples=300, seed=1,
                       confidence=0.99999).set_index("channel")  # fmt: skip
        assert wide.loc[ch, "ci_low"] - 1e-9 <= credit <= wide.loc[ch, "ci_high"] + 1e-9
        assert sampled.loc[ch, "conversions"] >= -1e-12


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=5).map(tuple),
            st.integers(0, 6),
            st.just(10.0),
            st.integers(0, 6),
            st.none(),
        ),
        min_size=1,
        max_size=15,
    ),
    st.sampled_from(["rate", "conversions"]),
)
def test_sampled_shapley_agrees_with_exact_within_its_interval(rows, game) -> None:  # type: ignore[no-untyped-def]
    df = frame(rows, ages=False)
    exact = shapley(df, game=game).set_index("channel")
    sampled = shapley(df, game=game, exact_limit=0, samples=500, seed=7, confidence=0.9999)
    sampled = sampled.set_index("channel")
    for ch in exact.index:
        low, high = sampled.loc[ch, "ci_low"], sampled.loc[ch, "ci_high"]
        assert low - 1e-9 <= exact.loc[ch, "conversions"] <= high + 1e-9
    assert sampled["conversions"].sum() == pytest.approx(exact["conversions"].sum(), abs=1e-9)
    assert sampled["value"].sum() == pytest.approx(exact["value"].sum(), abs=1e-9)


def test_sampled_interval_covers_at_its_confidence() -> None:
    rnd = random.Random(5)
    rows = [
        (tuple(rnd.sample("abcdef", rnd.randint(1, 4))), rnd.randint(0, 5), 1.0,
         rnd.randint(0, 5), None)
        for _ in range(30)
    ]  # fmt: skip
    df = frame(rows, ages=False)
    exact = shapley(df).set_index("channel")["conversions"]
    covered = total = 0
    for seed in range(60):
        s = shapley(df, exact_limit=0, samples=200, seed=seed, confidence=0.9).set_index("channel")
        s = s.reindex(exact.index)
        inside = (s["ci_low"] <= exact) & (exact <= s["ci_high"])
        covered, total = covered + int(inside.sum()), total + len(inside)
    assert 0.8 <= covered / total <= 0.97


def test_sampled_shapley_is_seeded() -> None:
    rows = [(("a", "b"), 3, 1.0, 1, None), (("b", "c"), 1, 1.0, 4, None), (("c",), 2, 1.0, 2, None)]
    df = frame(rows, ages=False)
    one = shapley(df, exact_limit=0, samples=100, seed=1)
    pd.testing.assert_frame_equal(one, shapley(df, exact_limit=0, samples=100, seed=1))
    other = shapley(df, exact_limit=0, samples=100, seed=2)
    assert not np.allclose(one["conversions"], other["conversions"])
    assert (one["ci_low"] <= one["conversions"]).all()
    assert (one["ci_high"] >= one["conversions"]).all()


def test_shapley_above_the_exact_limit_samples() -> None:
    channels = [f"ch{i:02d}" for i in range(18)]
    rnd = random.Random(0)
    rows = [
        (tuple(rnd.sample(channels, rnd.randint(1, 5))), rnd.randint(0, 3), 5.0,
         rnd.randint(0, 3), None)
        for _ in range(200)
    ]  # fmt: skip
    df = frame(rows, ages=False)
    got = attribute(df, "shapley", samples=200, seed=4)
    assert (got["ci_high"] > got["ci_low"]).any()
    assert got["conversions"].sum() == pytest.approx(df["conversions"].sum())
    assert got["value"].sum() == pytest.approx(df["value"].sum())


# -- the side-by-side table -------------------------------------------------------------------


def test_compare_models_is_attribute_side_by_side() -> None:
    rows = [(("a", "direct"), 2, 10.0, 1, (3 * DAY, 0.0)), (("b", "a", "c"), 1, 4.0, 2, None)]
    df = frame(rows)
    table = compare_models(df, half_life=DAY, position=(1, 1, 1))
    assert list(table["channel"]) == ["a", "b", "c", "direct"]
    assert list(table.columns) == ["channel"] + [
        f"{m}_{c}" for m in MODELS for c in ("conversions", "value", "share")
    ]
    for model in MODELS:
        one = attribute(df, model, half_life=DAY, position=(1, 1, 1)).set_index("channel")
        for c in ("conversions", "value", "share"):
            got = table.set_index("channel")[f"{model}_{c}"]
            assert np.allclose(got, one.loc[got.index, c])


def test_the_shapley_game_passes_through() -> None:
    df = pd.DataFrame(
        {
            "path": [("a",), ("b",), ("a", "b"), ("b",)],
            "conversions": [1.0, 2.0, 3.0, 0.0],
            "value": [10.0, 20.0, 30.0, 0.0],
            "nulls": [3.0, 2.0, 1.0, 5.0],
        }
    )
    for game in ("rate", "conversions"):
        want = shapley(df, game=game)
        assert_same(attribute(df, "shapley", game=game), want)
        both = compare_models(df, ["shapley"], game=game).set_index("channel")
        assert both["shapley_conversions"].to_dict() == pytest.approx(
            want.set_index("channel")["conversions"].to_dict()
        )
    with pytest.raises(ValueError, match="game 'chess' is not one of rate, conversions"):
        attribute(df, "first", game="chess")
    with pytest.raises(ValueError, match="game 'chess' is not one of"):
        compare_models(df, game="chess")


def test_compare_models_checks_its_models() -> None:
    df = frame([(("a",), 1, 1.0, 0, None)])
    with pytest.raises(ValueError, match="model 'nope' is not one of first, last"):
        compare_models(df, ["first", "nope"])
    with pytest.raises(ValueError, match="at least one model"):
        compare_models(df, [])
    with pytest.raises(ValueError, match="lists a model twice"):
        compare_models(df, ["first", "first"])


# -- bad input --------------------------------------------------------------------------------

GOOD = pd.DataFrame({"path": [("a", "b")], "conversions": [1.0], "value": [2.0], "nulls": [0.0]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "u_shaped"}, "model 'u_shaped' is not one of first, last, last_non_direct"),
        ({"model": "linear", "half_life": 0}, "half_life must be a positive number"),
        ({"model": "linear", "half_life": float("inf")}, "half_life must be a positive number"),
        ({"model": "linear", "half_life_touches": -1}, "half_life_touches must be a positive"),
        ({"model": "linear", "position": (0.5, 0.5)}, "position must be three weights"),
        ({"model": "linear", "position": (1, -1, 1)}, "position must be three weights >= 0"),
        ({"model": "linear", "position": "abc"}, "position must be three weights"),
        ({"model": "linear", "position": (0, 0, 0)}, "position weights must not all be zero"),
        ({"model": "markov", "order": 5}, "order must be 1, 2, 3 or 4, not 5"),
        ({"model": "markov", "order": 1.5}, "order must be 1, 2, 3 or 4"),
        ({"model": "shapley", "samples": 1}, "samples must be a whole number >= 2"),
        ({"model": "shapley", "confidence": 1.0}, "confidence must be between 0 and 1"),
        ({"model": "shapley", "seed": -1}, "seed must be a whole number >= 0"),
        ({"model": "linear", "direct": None}, "direct must be a channel name"),
    ],
)
def test_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        attribute(GOOD, **kwargs)


@pytest.mark.parametrize(
    ("frame_", "message"),
    [
        (GOOD.drop(columns="path"), "missing column 'path'"),
        (GOOD.drop(columns="conversions"), "missing column 'conversions'"),
        (GOOD.assign(path=[()]), "row 0: empty path"),
        (GOOD.assign(nulls=[-1.0]), r"nulls must be finite and >= 0 \(row 0: -1.0\)"),
        (GOOD.assign(conversions=[float("nan")]), "conversions must be finite and >= 0"),
        (GOOD.assign(value=["x"]), "column 'value' must hold numbers"),
        (GOOD.assign(ages=[(1.0,)]), "row 0: 1 ages for a path of 2 touches"),
        (GOOD.assign(ages=[(1.0, -1.0)]), "row 0: ages must be finite and >= 0"),
        (GOOD.assign(ages=[("x", "y")]), "row 0: ages must be numbers"),
    ],
)
def test_bad_paths_frames(frame_, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        attribute(frame_, "time_decay")


@pytest.mark.parametrize(
    ("frame_", "sep", "message"),
    [
        ([("a", "b")], None, "paths must be a pandas DataFrame, not list"),
        (GOOD.assign(path=["a > b"]), None, "row 0: a path must be a tuple of channel names"),
        (GOOD.assign(path=[("a", None)]), None, "row 0: channel names must be strings, got None"),
        (GOOD.assign(path=[("a", 3)]), None, "row 0: channel names must be strings, got 3"),
        (
            pd.DataFrame({"path": [("a",), ("b", b"c")], "conversions": 1.0}),
            None,
            "paths: row 1: channel names must be strings, got b'c'",
        ),
        (GOOD.assign(path=[("a", "b")]), ">", "row 0: with sep, a path must be a string"),
        (GOOD.assign(path=["a > b"]), 1, "sep must be a non-empty string, not 1"),
    ],
)
def test_wrong_types_are_a_type_error_naming_the_argument(frame_, sep, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match=escape(message)):
        attribute(frame_, "first", sep=sep)


@pytest.mark.parametrize("model", ["first", "linear", "last_non_direct", "markov", "shapley"])
def test_numpy_strings_are_channel_names(model: str) -> None:
    # np.str_ is a str subclass: a frame built from NumPy arrays (or a pandas column of NumPy
    # strings) holds them. They raised StopIteration; they are the str they hold.
    names = np.array(["search", "email", "direct"])
    plain = pd.DataFrame(
        {
            "path": [("search", "email"), ("direct",), ("search", "direct")],
            "conversions": [2.0, 1.0, 1.0],
            "value": [10.0, 5.0, 3.0],
            "nulls": [1.0, 2.0, 0.0],
        }
    )
    numpy_tuples = plain.assign(
        path=[(names[0], names[1]), (names[2],), (names[0], np.str_("direct"))]
    )
    numpy_arrays = plain.assign(path=[names[:2], names[2:], names[[0, 2]]])
    mixed = plain.assign(path=[("search", names[1]), (names[2],), (names[0], "direct")])
    joined = plain.assign(path=[np.str_("search > email"), np.str_("direct"), "search > direct"])
    want = attribute(plain, model)
    for frame_ in (numpy_tuples, numpy_arrays, mixed):
        got = attribute(frame_, model)
        pd.testing.assert_frame_equal(got, want)
        assert all(type(c) is str for c in got["channel"])
    got = attribute(joined, model, sep=">")
    pd.testing.assert_frame_equal(got, want)
    assert all(type(c) is str for c in got["channel"])


def test_lists_work_as_paths_and_missing_value_and_nulls_are_zero() -> None:
    df = pd.DataFrame({"path": [["a", "b"]], "conversions": [2]})
    got = attribute(df, "linear").set_index("channel")
    assert got["conversions"].to_dict() == {"a": 1.0, "b": 1.0}
    assert (got["value"] == 0).all()


def test_shapley_checks_its_own_options() -> None:
    with pytest.raises(ValueError, match="exact_limit must be a whole number from 0 to 20"):
        shapley(GOOD, exact_limit=21)
    with pytest.raises(ValueError, match="game 'shares' is not one of rate, conversions"):
        shapley(GOOD, game="shares")


# -- size -------------------------------------------------------------------------------------


def test_many_paths_every_model() -> None:
    """Performance sanity (no timing): 20k paths through every model, Markov at order 4 (an
    iterative solve), Shapley sampled over 20 channels."""
    rng = np.random.default_rng(0)
    channels = np.array([f"ch{i:02d}" for i in range(20)], dtype=object)
    lengths = rng.integers(1, 9, size=20_000)
    codes = rng.integers(0, 8, size=int(lengths.sum()))  # 8 channels for the Markov chain
    cuts = np.cumsum(lengths)[:-1]
    paths = [tuple(channels[c]) for c in np.split(codes, cuts)]
    df = pd.DataFrame(
        {
            "path": paths,
            "conversions": rng.integers(0, 3, size=len(paths)).astype(float),
            "nulls": rng.integers(0, 3, size=len(paths)).astype(float),
        }
    )
    df["value"] = df["conversions"] * 12.5
    for model in MODELS:
        got = attribute(df, model)
        assert got["conversions"].sum() == pytest.approx(df["conversions"].sum())
    result = markov(df, order=4)
    assert len(result.transitions) > 1000
    assert result.attribution["conversions"].sum() == pytest.approx(df["conversions"].sum())
    wide = df.assign(path=[tuple(channels[(c * 7 + i) % 20] for i, c in enumerate(p))
                           for p in np.split(codes, cuts)])  # fmt: skip
    got = shapley(wide, samples=100)
    assert len(got) == 20
    assert got["conversions"].sum() == pytest.approx(df["conversions"].sum())


# -- public surface ---------------------------------------------------------------------------


def test_all_is_sorted_and_resolves() -> None:
    def kind(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    exported = list(attribution.__all__)
    assert exported == sorted(exported, key=kind)
    for name in exported:
        assert getattr(attribution, name) is not None
    with pytest.raises(AttributeError):
        attribution.no_such_name  # noqa: B018
