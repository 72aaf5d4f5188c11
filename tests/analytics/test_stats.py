"""The statistics helpers against published values and their defining identities."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics._stats import (
    normal_cdf,
    normal_quantile,
    odds_ratio,
    two_proportion_test,
    two_sided_p,
    wilson_interval,
    z_for,
)

# -- the normal distribution -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "x"),
    [
        # Standard table values (Abramowitz & Stegun 26.2; any statistics package agrees).
        (0.5, 0.0),
        (0.975, 1.959963984540054),
        (0.95, 1.6448536269514722),
        (0.995, 2.5758293035489004),
        (0.8413447460685429, 1.0),
        (0.025, -1.959963984540054),
        (1e-10, -6.361340902404056),
        (1e-12, -7.034483825301131),
    ],
)
def test_normal_quantile_known_values(p: float, x: float) -> None:
    assert normal_quantile(p) == pytest.approx(x, rel=1e-12, abs=1e-14)


def test_normal_quantile_ends_and_bad_input() -> None:
    assert normal_quantile(0.0) == -math.inf
    assert normal_quantile(1.0) == math.inf
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="between 0 and 1"):
            normal_quantile(bad)


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1 - 1e-16, allow_nan=False))
def test_normal_quantile_inverts_the_cdf(p: float) -> None:
    x = normal_quantile(p)
    assert normal_cdf(x) == pytest.approx(p, rel=1e-12)


def test_z_for_confidence_levels_and_bad_confidence() -> None:
    assert z_for(0.95) == pytest.approx(1.959963984540054, rel=1e-14)
    assert z_for(0.90) == pytest.approx(1.6448536269514722, rel=1e-14)
    assert z_for(0.99) == pytest.approx(2.5758293035489004, rel=1e-14)
    for bad in (0, 1, 1.5, -0.2, math.nan, "0.95", True, None):
        with pytest.raises(ValueError, match="confidence"):
            z_for(bad)  # type: ignore[arg-type]


def test_two_sided_p() -> None:
    assert two_sided_p(0.0) == 1.0
    assert two_sided_p(1.959963984540054) == pytest.approx(0.05, rel=1e-12)
    assert two_sided_p(-2.5758293035489004) == pytest.approx(0.01, rel=1e-12)
    assert math.isnan(two_sided_p(math.nan))


# -- Wilson ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # the classic 8 of 10
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion",
        # Stat Med 17:857-872, Table II, method 3 (Wilson score, no continuity correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_published_values(x: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(x, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_wilson_interval_edges() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    assert wilson_interval(0, 5)[0] == 0.0
    assert wilson_interval(5, 5)[1] == 1.0
    # 8/10 at 99 %: wider than at 95 %, by hand with z = 2.5758.
    z = 2.5758293035489004
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z / (1 + z * z / 10) * math.sqrt(0.016 + z * z / 400)
    assert wilson_interval(8, 10, 0.99) == pytest.approx((centre - half, centre + half))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 10_000), st.data())
def test_wilson_interval_holds_the_estimate(n: int, data: st.DataObject) -> None:
    x = data.draw(st.integers(0, n))
    lo, hi = wilson_interval(x, n)
    lo99, hi99 = wilson_interval(x, n, 0.99)
    assert 0.0 <= lo99 <= lo <= x / n <= hi <= hi99 <= 1.0


# -- two proportions ---------------------------------------------------------------------------


def test_two_proportion_z_test_published_example() -> None:
    # statsmodels' proportions_ztest documentation: counts 5/83 and 12/99 give p = 0.159
    # (its z, -1.4078, is for the first minus the second; ours is b - a).
    r = two_proportion_test(5, 83, 12, 99)
    assert r.z == pytest.approx(1.4078, abs=1e-4)
    assert r.p_value == pytest.approx(0.159, abs=5e-4)
    assert r.difference == pytest.approx(12 / 99 - 5 / 83)


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        # Newcombe (1998), "Interval estimation for the difference between independent
        # proportions", Stat Med 17:873-890, Table II, method 1 (Wald, unpooled).
        ((48, 80), (56, 70), 0.0575, 0.3425),
        ((3, 10), (9, 10), 0.2605, 0.9395),
    ],
)
def test_difference_interval_published_values(
    a: tuple[int, int], b: tuple[int, int], low: float, high: float
) -> None:
    r = two_proportion_test(a[0], a[1], b[0], b[1])
    assert (round(r.ci_low, 4), round(r.ci_high, 4)) == (low, high)


def _pearson_chi2(x1: int, n1: int, x2: int, n2: int) -> float:
    observed = [x1, n1 - x1, x2, n2 - x2]
    total = n1 + n2
    col = [x1 + x2, total - x1 - x2]
    expected = [n1 * col[0] / total, n1 * col[1] / total, n2 * col[0] / total, n2 * col[1] / total]
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 500), st.integers(1, 500), st.data())
def test_z_squared_is_the_2x2_chi_square(n1: int, n2: int, data: st.DataObject) -> None:
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    r = two_proportion_test(x1, n1, x2, n2)
    if x1 + x2 in (0, n1 + n2):
        assert math.isnan(r.z) and math.isnan(r.p_value)
        assert r.difference == 0.0
        return
    assert r.z**2 == pytest.approx(_pearson_chi2(x1, n1, x2, n2), rel=1e-9)
    # chi-square with 1 df: P(X > c) = erfc(sqrt(c / 2)).
    chi2 = _pearson_chi2(x1, n1, x2, n2)
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9, abs=1e-300)
    assert r.ci_low <= r.difference <= r.ci_high


def test_two_proportion_undefined_cases() -> None:
    assert all(math.isnan(v) for v in two_proportion_test(0, 0, 3, 10))
    assert all(math.isnan(v) for v in two_proportion_test(3, 10, 0, 0))
    r = two_proportion_test(10, 10, 5, 5)
    assert (r.difference, r.ci_low, r.ci_high) == (0.0, 0.0, 0.0)
    assert math.isnan(r.z) and math.isnan(r.p_value)
    with pytest.raises(ValueError, match="confidence"):
        two_proportion_test(1, 2, 1, 2, confidence=95)


# -- odds ratio --------------------------------------------------------------------------------


def test_odds_ratio_published_example() -> None:
    # Bland & Altman (2000), "The odds ratio", BMJ 320:1468: hay fever by eczema,
    # 141/420 with eczema and 928/13525 without: OR 4.89, 95 % CI 4.00 to 5.99.
    r = odds_ratio(141, 420, 928, 13525)
    assert round(r.odds_ratio, 2) == 4.89
    assert (round(r.ci_low, 2), round(r.ci_high, 2)) == (4.00, 5.99)
    se = math.sqrt(1 / 141 + 1 / 420 + 1 / 928 + 1 / 13525)
    assert se == pytest.approx(0.1031, abs=1e-4)
    assert r.z == pytest.approx(math.log(r.odds_ratio) / se)
    assert r.p_value == pytest.approx(math.erfc(abs(r.z) / math.sqrt(2)))


def test_odds_ratio_haldane_anscombe_correction() -> None:
    # A zero cell: 0.5 added to every cell, by hand: (5.5 * 3.5) / (2.5 * 0.5) = 15.4.
    r = odds_ratio(5, 2, 0, 3)
    assert r.odds_ratio == pytest.approx(15.4)
    se = math.sqrt(1 / 5.5 + 1 / 2.5 + 1 / 0.5 + 1 / 3.5)
    assert r.ci_low == pytest.approx(15.4 * math.exp(-1.959963984540054 * se))
    assert r.ci_high == pytest.approx(15.4 * math.exp(1.959963984540054 * se))
    # No zero: no correction.
    assert odds_ratio(1, 2, 3, 4).odds_ratio == pytest.approx(4 / 6)


def test_odds_ratio_symmetries_and_undefined_cases() -> None:
    r = odds_ratio(12, 5, 7, 9)
    swapped = odds_ratio(7, 9, 12, 5)
    assert swapped.odds_ratio == pytest.approx(1 / r.odds_ratio)
    assert swapped.p_value == pytest.approx(r.p_value)
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((1 / r.ci_high, 1 / r.ci_low))
    for cells in ((0, 0, 3, 4), (3, 4, 0, 0), (0, 4, 0, 5), (3, 0, 4, 0), (0, 0, 0, 0)):
        assert all(math.isnan(v) for v in odds_ratio(*cells)), cells
