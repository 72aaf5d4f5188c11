"""Small statistics for comparing conversion rates, done with :mod:`math` alone.

- :func:`normal_cdf` and :func:`normal_quantile` (its inverse: Acklam's rational
  approximation refined by one Halley step, accurate to about 1e-15);
- :func:`wilson_interval`: the Wilson score interval for a proportion;
- :func:`two_proportion_test`: the two-proportion z-test (pooled standard error, as the
  2x2 chi-square test with one degree of freedom: the same two-sided p) and a Wald interval
  for the difference (unpooled standard error);
- :func:`odds_ratio`: the odds ratio of a 2x2 table with the Haldane-Anscombe correction
  (0.5 added to every cell when one is zero) and Woolf's interval and test on the log scale.

Undefined cases (no observations, a zero margin) give NaN, never an exception; only a bad
``confidence`` raises :class:`ValueError`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

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

# Acklam's coefficients for the central region and the tails.
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e00,
    3.754408661907416e00,
)
_LOW = 0.02425


def normal_cdf(x: float) -> float:
    """The standard normal distribution function Φ(x), via ``erfc`` (accurate in the tails).

    >>> normal_cdf(0.0), round(normal_cdf(1.959963984540054), 12)
    (0.5, 0.975)
    """
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """The standard normal quantile Φ⁻¹(p) for 0 < p < 1 (``-inf``/``inf`` at 0 and 1).

    Acklam's rational approximation (relative error below 1.2e-9) refined by one Halley
    step on ``erfc``, which brings it to about machine precision.

    >>> round(normal_quantile(0.975), 12), round(normal_quantile(0.05), 12)
    (1.95996398454, -1.644853626951)
    """
    if math.isnan(p) or p < 0.0 or p > 1.0:
        raise ValueError(f"a probability must be between 0 and 1, got {p!r}")
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p > 0.5:
        # 1 - p is exact here (Sterbenz), and the lower tail keeps full relative precision.
        return -normal_quantile(1.0 - p)
    if p < _LOW:
        x = _tail(math.sqrt(-2.0 * math.log(p)))
    else:
        q = p - 0.5
        r = q * q
        num = _A[0]
        for c in _A[1:]:
            num = num * r + c
        den = _B[0]
        for c in _B[1:]:
            den = den * r + c
        x = num * q / (den * r + 1.0)
    # One Halley step: e is the error in probability, u the Newton correction.
    e = normal_cdf(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


def _tail(q: float) -> float:
    num = _C[0]
    for c in _C[1:]:
        num = num * q + c
    den = _D[0]
    for c in _D[1:]:
        den = den * q + c
    return num / (den * q + 1.0)


def z_for(confidence: float) -> float:
    """The two-sided critical value for a confidence level: Φ⁻¹(1 - (1 - confidence) / 2).

    >>> round(z_for(0.95), 6), round(z_for(0.99), 6)
    (1.959964, 2.575829)
    """
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise ValueError(f"confidence must be a number between 0 and 1, got {confidence!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return normal_quantile(1.0 - (1.0 - confidence) / 2.0)


def two_sided_p(z: float) -> float:
    """The two-sided p-value of a standard normal statistic: 2 (1 - Φ(|z|)); NaN stays NaN.

    >>> round(two_sided_p(1.959963984540054), 12)
    0.05
    """
    if math.isnan(z):
        return NAN
    return math.erfc(abs(z) / math.sqrt(2.0))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for the proportion ``successes / n``; NaNs when ``n`` is 0.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    z = z_for(confidence)
    if n <= 0:
        return NAN, NAN
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # 0/n and n/n give exactly 0 and 1 in theory; keep the rounding dust out.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
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
    fa, fb, fc, fd = float(a), float(b), float(c), float(d)
    if min(a, b, c, d) == 0:
        fa, fb, fc, fd = fa + 0.5, fb + 0.5, fc + 0.5, fd + 0.5
    log_or = math.log(fa) + math.log(fd) - math.log(fb) - math.log(fc)
    se = math.sqrt(1.0 / fa + 1.0 / fb + 1.0 / fc + 1.0 / fd)
    z = log_or / se
    return OddsRatio(
        math.exp(log_or),
        math.exp(log_or - z_crit * se),
        math.exp(log_or + z_crit * se),
        z,
        two_sided_p(z),
    )
