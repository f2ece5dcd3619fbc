"""Frequentist comparisons of a variant against the control, from sufficient statistics.

Conversion uses the pooled two-proportion z-test (as statsmodels' ``proportions_ztest``) with a
Wald interval for the difference; means use Welch's t-test (as scipy's
``ttest_ind_from_stats(equal_var=False)``). Relative uplift (variant / control - 1) gets a
delta-method interval. Statistical degeneracy is returned as data (``Comparison.error``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from scipy import stats as sps

from offerlab.domain.reports import Comparison, Interval, ResultError

# Variances at or below this fraction of the data's squared scale are rounding noise from
# sum-of-squares arithmetic, not real spread.
_RELATIVE_VARIANCE_EPSILON = 1e-12


class MeanStats(NamedTuple):
    """Sufficient statistics of one sample: size, sum and sum of squares."""

    n: int
    sum: float
    sum_sq: float


class SampleMoments(NamedTuple):
    """Size, mean and sample variance (ddof=1) of one sample."""

    n: int
    mean: float
    variance: float


class Estimate(NamedTuple):
    """A point estimate and the variance of that estimate."""

    value: float
    variance: float


def compare_proportions(
    control_successes: int,
    control_n: int,
    variant_successes: int,
    variant_n: int,
    *,
    alpha: float,
    metric: str = "conversion",
) -> Comparison:
    """Compare two conversion rates: pooled z-test, Wald CI of the difference, delta-method CI."""
    check_alpha(alpha)
    check_counts(control_successes, control_n, "control")
    check_counts(variant_successes, variant_n, "variant")
    if control_n == 0 or variant_n == 0:
        return degenerate_comparison(metric, None, None, ResultError.NO_UNITS)
    p_c = control_successes / control_n
    p_v = variant_successes / variant_n
    pooled = (control_successes + variant_successes) / (control_n + variant_n)
    pooled_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control_n + 1.0 / variant_n))
    if pooled_se == 0.0:
        return degenerate_comparison(metric, p_c, p_v, ResultError.ZERO_VARIANCE)
    p_value = 2.0 * float(sps.norm.sf(abs(p_v - p_c) / pooled_se))
    control = Estimate(p_c, p_c * (1.0 - p_c) / control_n)
    variant = Estimate(p_v, p_v * (1.0 - p_v) / variant_n)
    critical = float(sps.norm.isf(alpha / 2.0))
    return build_comparison(metric, control, variant, p_value, critical, alpha)


def compare_means(
    control: MeanStats | tuple[int, float, float],
    variant: MeanStats | tuple[int, float, float],
    *,
    alpha: float,
    metric: str = "mean",
) -> Comparison:
    """Compare two means with Welch's t-test; CIs use the Welch–Satterthwaite t quantile.

    Each side is ``(n, sum, sum_sq)``. Fewer than two observations on a side gives
    ``NO_UNITS``; zero variance on both sides gives ``ZERO_VARIANCE``.
    """
    check_alpha(alpha)
    control, variant = MeanStats(*control), MeanStats(*variant)
    _check_mean_stats(control, "control")
    _check_mean_stats(variant, "variant")
    control_mean = control.sum / control.n if control.n else None
    variant_mean = variant.sum / variant.n if variant.n else None
    if control.n < 2 or variant.n < 2:
        return degenerate_comparison(metric, control_mean, variant_mean, ResultError.NO_UNITS)
    return welch_comparison(
        SampleMoments(control.n, control.sum / control.n, _sample_variance(control)),
        SampleMoments(variant.n, variant.sum / variant.n, _sample_variance(variant)),
        alpha=alpha,
        metric=metric,
    )


def welch_comparison(
    control: SampleMoments, variant: SampleMoments, *, alpha: float, metric: str = "mean"
) -> Comparison:
    """Welch's t-test and intervals from each side's size, mean and sample variance (ddof=1).

    Both sides need at least two observations; zero variance on both gives ``ZERO_VARIANCE``.
    """
    check_alpha(alpha)
    if control.n < 2 or variant.n < 2:
        raise ValueError("each side needs at least two observations")
    control_est = Estimate(control.mean, control.variance / control.n)
    variant_est = Estimate(variant.mean, variant.variance / variant.n)
    se_sq = control_est.variance + variant_est.variance
    if se_sq == 0.0:
        return degenerate_comparison(
            metric, control_est.value, variant_est.value, ResultError.ZERO_VARIANCE
        )
    df = se_sq**2 / (
        control_est.variance**2 / (control.n - 1) + variant_est.variance**2 / (variant.n - 1)
    )
    t_stat = (variant_est.value - control_est.value) / math.sqrt(se_sq)
    p_value = 2.0 * float(sps.t.sf(abs(t_stat), df))
    critical = float(sps.t.isf(alpha / 2.0, df))
    return build_comparison(metric, control_est, variant_est, p_value, critical, alpha)


def wilson_interval(successes: int, n: int, *, alpha: float) -> Interval | None:
    """Wilson score interval for a proportion at confidence 1 - alpha; None when n is 0."""
    check_alpha(alpha)
    check_counts(successes, n, "sample")
    if n == 0:
        return None
    z = float(sps.norm.isf(alpha / 2.0))
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denominator
    half_width = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denominator
    return Interval(max(0.0, centre - half_width), min(1.0, centre + half_width))


def build_comparison(
    metric: str,
    control: Estimate,
    variant: Estimate,
    p_value: float,
    critical: float,
    alpha: float,
) -> Comparison:
    difference = variant.value - control.value
    half_width = critical * math.sqrt(control.variance + variant.variance)
    relative = _relative_uplift(control, variant, critical)
    return Comparison(
        metric=metric,
        control_value=control.value,
        variant_value=variant.value,
        absolute_uplift=difference,
        absolute_ci=Interval(difference - half_width, difference + half_width),
        relative_uplift=relative[0] if relative else None,
        relative_ci=relative[1] if relative else None,
        p_value=p_value,
        significant=p_value < alpha,
        error=None if relative else ResultError.CONTROL_ZERO,
    )


def _relative_uplift(
    control: Estimate, variant: Estimate, critical: float
) -> tuple[float, Interval] | None:
    """Delta method for r = v / c: Var(r) ≈ Var(v) / c² + v² Var(c) / c⁴ (independent arms).

    This is r² (Var(v)/v² + Var(c)/c²) rewritten so that it stays defined when v is 0.
    """
    if control.value == 0.0:
        return None
    ratio = variant.value / control.value
    ratio_variance = (
        variant.variance / control.value**2 + variant.value**2 * control.variance / control.value**4
    )
    half_width = critical * math.sqrt(ratio_variance)
    return ratio - 1.0, Interval(ratio - 1.0 - half_width, ratio - 1.0 + half_width)


def _sample_variance(sample: MeanStats) -> float:
    mean = sample.sum / sample.n
    variance = (sample.sum_sq - sample.sum * mean) / (sample.n - 1)
    scale = sample.sum_sq / sample.n
    if variance <= _RELATIVE_VARIANCE_EPSILON * scale:
        if variance < -1e-9 * scale:
            raise ValueError("sum_sq is inconsistent with sum and n (negative variance)")
        return 0.0
    return variance


def degenerate_comparison(
    metric: str, control_value: float | None, variant_value: float | None, error: ResultError
) -> Comparison:
    return Comparison(
        metric=metric, control_value=control_value, variant_value=variant_value, error=error
    )


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be between 0 and 1 (exclusive)")


def check_counts(successes: int, n: int, side: str) -> None:
    if n < 0 or successes < 0:
        raise ValueError(f"{side} counts must be non-negative")
    if successes > n:
        raise ValueError(f"{side} successes must not exceed {side} n")


def _check_mean_stats(sample: MeanStats, side: str) -> None:
    if sample.n < 0:
        raise ValueError(f"{side} n must be non-negative")
    if sample.sum_sq < 0:
        raise ValueError(f"{side} sum_sq must be non-negative")
