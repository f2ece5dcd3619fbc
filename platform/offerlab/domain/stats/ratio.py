"""Ratio metrics (e.g. average order value) by the delta method, from per-unit sums.

A ratio metric divides two per-unit quantities summed over units: average order value is
revenue per unit / orders per unit. Orders of one visitor are correlated, so the ratio's variance
must come from per-unit sums, not per-order ones. With x the numerator and y the denominator of
a unit, means μ and sample (co)variances σ (ddof=1), the delta method gives

    Var(R) ≈ (1/n) (σ_x² / μ_y² − 2 μ_x σ_xy / μ_y³ + μ_x² σ_y² / μ_y⁴).

Reference: Deng, Knoblich & Lu (2018), "Applying the Delta Method in Metric Analytics".
"""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy import stats as sps

from offerlab.domain.reports import Comparison, ResultError
from offerlab.domain.stats.frequentist import (
    Estimate,
    build_comparison,
    check_alpha,
    degenerate_comparison,
)
from offerlab.domain.stats.sufficient import VariantTotals

# (Co)variances at or below this fraction of the data's squared scale are rounding noise from
# sum-of-squares arithmetic, not real spread (same convention as ``frequentist``).
_RELATIVE_VARIANCE_EPSILON = 1e-12


class RatioStats(NamedTuple):
    """Per-unit sums of one arm: n, Σx, Σx², Σy, Σy², Σxy (x numerator, y denominator)."""

    n: int
    num_sum: float
    num_sum_sq: float
    den_sum: float
    den_sum_sq: float
    cross_sum: float


class RatioEstimate(NamedTuple):
    """The ratio of means and its delta-method variance; missing parts are explained by `error`.

    No units or a zero denominator sum gives ``value=None``; fewer than two units gives a value
    without a variance. Both carry an error code.
    """

    value: float | None
    variance: float | None
    error: ResultError | None = None


def average_order_value_stats(totals: VariantTotals) -> RatioStats:
    """Ratio sums for average order value: revenue per unit over orders per unit."""
    return RatioStats(
        n=totals.units,
        num_sum=totals.revenue_sum,
        num_sum_sq=totals.revenue_sum_sq,
        den_sum=float(totals.orders),
        den_sum_sq=totals.orders_sum_sq,
        cross_sum=totals.revenue_orders_sum_prod,
    )


def ratio_estimate(
    stats: RatioStats | tuple[int, float, float, float, float, float],
) -> RatioEstimate:
    """Ratio of means Σx / Σy and its delta-method variance (formula in the module docstring)."""
    return _estimate(RatioStats(*stats), "sample")


def _estimate(stats: RatioStats, side: str) -> RatioEstimate:
    _check_stats(stats, side)
    if stats.n == 0:
        return RatioEstimate(None, None, ResultError.NO_UNITS)
    if stats.den_sum == 0.0:
        return RatioEstimate(None, None, ResultError.NO_ORDERS)
    value = stats.num_sum / stats.den_sum
    if stats.n < 2:
        return RatioEstimate(value, None, ResultError.NO_UNITS)
    return RatioEstimate(value, _delta_variance(stats))


def compare_ratios(
    control: RatioStats | tuple[int, float, float, float, float, float],
    variant: RatioStats | tuple[int, float, float, float, float, float],
    *,
    alpha: float,
    metric: str = "average_order_value",
) -> Comparison:
    """Compare two ratio metrics: z-test and normal CI on the difference, delta-method CI on uplift.

    The absolute difference R_v − R_c has variance Var(R_v) + Var(R_c) (independent arms); its
    p-value is two-sided from the standard normal. The relative uplift R_v / R_c − 1 has
    Var ≈ Var(R_v) / R_c² + R_v² Var(R_c) / R_c⁴; its CI is symmetric and normal.
    """
    check_alpha(alpha)
    control_est = _estimate(RatioStats(*control), "control")
    variant_est = _estimate(RatioStats(*variant), "variant")
    error = control_est.error or variant_est.error
    if error is not None:
        return degenerate_comparison(metric, control_est.value, variant_est.value, error)
    assert control_est.value is not None and control_est.variance is not None
    assert variant_est.value is not None and variant_est.variance is not None
    se_sq = control_est.variance + variant_est.variance
    if se_sq == 0.0:
        return degenerate_comparison(
            metric, control_est.value, variant_est.value, ResultError.ZERO_VARIANCE
        )
    critical = float(sps.norm.isf(alpha / 2.0))
    difference = variant_est.value - control_est.value
    p_value = 2.0 * float(sps.norm.sf(abs(difference) / math.sqrt(se_sq)))
    return build_comparison(
        metric,
        Estimate(control_est.value, control_est.variance),
        Estimate(variant_est.value, variant_est.variance),
        p_value,
        critical,
        alpha,
    )


def _delta_variance(stats: RatioStats) -> float:
    n = stats.n
    mean_x = stats.num_sum / n
    mean_y = stats.den_sum / n
    var_x = _clean_variance(
        (stats.num_sum_sq - stats.num_sum * mean_x) / (n - 1), stats.num_sum_sq / n
    )
    var_y = _clean_variance(
        (stats.den_sum_sq - stats.den_sum * mean_y) / (n - 1), stats.den_sum_sq / n
    )
    cov_xy = (stats.cross_sum - stats.num_sum * mean_y) / (n - 1)
    first = var_x / mean_y**2
    last = mean_x**2 * var_y / mean_y**4
    variance = (first - 2.0 * mean_x * cov_xy / mean_y**3 + last) / n
    # The expression is a quadratic form of a covariance matrix, so it is ≥ 0 up to rounding
    # (it is exactly 0 when x is proportional to y in every unit, e.g. all orders of one value).
    return variance if variance > _RELATIVE_VARIANCE_EPSILON * (first + last) / n else 0.0


def _clean_variance(variance: float, scale: float) -> float:
    if variance <= _RELATIVE_VARIANCE_EPSILON * scale:
        if variance < -1e-9 * scale:
            raise ValueError("sums of squares are inconsistent with sums and n (negative variance)")
        return 0.0
    return variance


def _check_stats(stats: RatioStats, side: str) -> None:
    if stats.n < 0:
        raise ValueError(f"{side} n must be non-negative")
    if stats.num_sum_sq < 0 or stats.den_sum_sq < 0:
        raise ValueError(f"{side} sums of squares must be non-negative")
    values = (stats.num_sum, stats.num_sum_sq, stats.den_sum, stats.den_sum_sq, stats.cross_sum)
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"{side} sums must be finite")
