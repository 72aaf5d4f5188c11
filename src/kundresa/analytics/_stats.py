"""Small statistics for comparing conversion rates, on SciPy's distributions.

- :func:`normal_cdf` and :func:`normal_quantile` (its inverse): ``scipy.stats.norm``;
- :func:`wilson_interval`: the Wilson score interval for a proportion, from
  ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``;
- :func:`two_proportion_test`: the two-proportion z-test (pooled standard error, as the
  2x2 chi-square test with one degree of freedom: the same two-sided p) and a Wald interval
  for the difference (unpooled standard error); closed forms on ``scipy.stats.norm``;
- :func:`odds_ratio`: the sample odds ratio of a 2x2 table with Woolf's interval and test on
  the log scale (as ``scipy.stats.contingency.odds_ratio(table, kind="sample")``, which it
  matches when no cell is zero) and the Haldane-Anscombe correction (0.5 added to every cell
  when one is zero), which SciPy does not offer.

Undefined cases (no observations, a zero margin) give NaN, never an exception; only a bad
``confidence`` raises :class:`ValueError` (:class:`kundresa.errors.UsageError`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from kundresa.errors import UsageError

__all__ = [
    "OddsRatio",
    "ProportionDifference",
    "normal_cdf",
    "normal_quantile",
    "odds_ratio",
    "two_proportion_test",
    "two_sided_p",
    "wilson_interval",
    "z_for",
]

NAN = float("nan")


def _stats() -> Any:
    """``scipy.stats``, imported on first use: it takes most of a second to import, and the
    modules that import this one (bottlenecks, which also holds the journey map's KPI
    status) are loaded by pages that never test anything."""
    import scipy.stats

    return scipy.stats


def normal_cdf(x: float) -> float:
    """The standard normal distribution function Φ(x) (``scipy.stats.norm.cdf``).

    >>> normal_cdf(0.0), round(normal_cdf(1.959963984540054), 12)
    (0.5, 0.975)
    """
    return float(_stats().norm.cdf(x))


def normal_quantile(p: float) -> float:
    """The standard normal quantile Φ⁻¹(p) for 0 <= p <= 1 (``scipy.stats.norm.ppf``;
    ``-inf``/``inf`` at 0 and 1).

    >>> round(normal_quantile(0.975), 12), round(normal_quantile(0.05), 12)
    (1.95996398454, -1.644853626951)
    """
    if math.isnan(p) or p < 0.0 or p > 1.0:
        raise UsageError(f"a probability must be between 0 and 1, got {p!r}")
    return float(_stats().norm.ppf(p))


def z_for(confidence: float) -> float:
    """The two-sided critical value for a confidence level: Φ⁻¹(1 - (1 - confidence) / 2).

    >>> round(z_for(0.95), 6), round(z_for(0.99), 6)
    (1.959964, 2.575829)
    """
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise UsageError(f"confidence must be a number between 0 and 1, got {confidence!r}")
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    # The upper tail's quantile keeps full precision for confidences close to 1.
    return float(_stats().norm.isf((1.0 - confidence) / 2.0))


def two_sided_p(z: float) -> float:
    """The two-sided p-value of a standard normal statistic: 2 (1 - Φ(|z|)); NaN stays NaN.

    >>> round(two_sided_p(1.959963984540054), 12)
    0.05
    """
    if math.isnan(z):
        return NAN
    return float(2.0 * _stats().norm.sf(abs(z)))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for the proportion ``successes / n``; NaNs when ``n`` is 0.

    Wilson (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22:209-212, computed by ``scipy.stats.binomtest(successes, n).proportion_ci``.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    z_for(confidence)  # the same check of confidence everywhere
    if n <= 0:
        return NAN, NAN
    ci = (
        _stats()
        .binomtest(int(successes), int(n))
        .proportion_ci(confidence_level=confidence, method="wilson")
    )
    # 0/n and n/n give exactly 0 and 1 in theory; keep the rounding dust out.
    low = 0.0 if successes <= 0 else max(0.0, float(ci.low))
    high = 1.0 if successes >= n else min(1.0, float(ci.high))
    return low, high


class ProportionDifference(NamedTuple):
    """Rate b minus rate a, its confidence interval, and the z-test of equal rates."""

    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


def two_proportion_test(
    successes_a: int, n_a: int, successes_b: int, n_b: int, confidence: float = 0.95
) -> ProportionDifference:
    """Compare two proportions: ``difference = b - a``, a Wald interval for it (unpooled
    standard error) and the z-test of equal proportions (pooled standard error).

    ``z > 0`` means b's rate is higher. The two-sided p equals that of the chi-square test
    of the 2x2 table without continuity correction (``chi2 = z**2``). With ``n_a`` or
    ``n_b`` 0 everything is NaN; when both rates are 0 or both 1 the test is undefined
    (z and p NaN) and the interval is the single point 0.

    >>> r = two_proportion_test(5, 83, 12, 99)
    >>> round(r.z, 4), round(r.p_value, 3)
    (1.4078, 0.159)
    """
    z_crit = z_for(confidence)
    if n_a <= 0 or n_b <= 0:
        return ProportionDifference(NAN, NAN, NAN, NAN, NAN)
    pa, pb = successes_a / n_a, successes_b / n_b
    diff = pb - pa
    se = math.sqrt(pa * (1.0 - pa) / n_a + pb * (1.0 - pb) / n_b)
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    z = diff / se0 if se0 > 0 else NAN
    return ProportionDifference(diff, diff - z_crit * se, diff + z_crit * se, z, two_sided_p(z))


class OddsRatio(NamedTuple):
    """An odds ratio with its confidence interval, Woolf's z on the log scale and p."""

    odds_ratio: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


def odds_ratio(a: int, b: int, c: int, d: int, confidence: float = 0.95) -> OddsRatio:
    """The odds ratio ``(a d) / (b c)`` of the 2x2 table ``[[a, b], [c, d]]``.

    Rows are the two groups compared (say customers with and without an event), columns the
    outcome (success, failure): the ratio is the odds of success with the event over the odds
    without it. When a cell is 0, 0.5 is added to every cell (Haldane-Anscombe). The interval
    and the test are Woolf's: ``log OR ± z SE`` with ``SE = sqrt(1/a + 1/b + 1/c + 1/d)``,
    and ``p`` the two-sided normal p of ``log OR / SE``. When a row or a column of the table
    is all zeros the ratio is undefined and every field is NaN.

    >>> r = odds_ratio(141, 420, 928, 13525)  # Bland & Altman (2000), hay fever and eczema
    >>> round(r.odds_ratio, 2), round(r.ci_low, 2), round(r.ci_high, 2)
    (4.89, 4.0, 5.99)
    """
    z_crit = z_for(confidence)
    if min(a + b, c + d, a + c, b + d) <= 0:
        return OddsRatio(NAN, NAN, NAN, NAN, NAN)
    if min(a, b, c, d) > 0:
        sample = _stats().contingency.odds_ratio(
            [[int(a), int(b)], [int(c), int(d)]], kind="sample"
        )
        estimate = float(sample.statistic)
        ci = sample.confidence_interval(confidence_level=confidence)
        low, high = float(ci.low), float(ci.high)
        se = math.sqrt(1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d)
    else:  # Haldane-Anscombe: SciPy's sample odds ratio would be 0 or infinite here
        fa, fb, fc, fd = a + 0.5, b + 0.5, c + 0.5, d + 0.5
        estimate = fa * fd / (fb * fc)
        se = math.sqrt(1.0 / fa + 1.0 / fb + 1.0 / fc + 1.0 / fd)
        low = estimate * math.exp(-z_crit * se)
        high = estimate * math.exp(z_crit * se)
    z = math.log(estimate) / se
    return OddsRatio(estimate, low, high, z, two_sided_p(z))
