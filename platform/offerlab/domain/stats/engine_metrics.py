"""The engine's metrics: which are available, and how each is compared, estimated per arm and
given Bayesian figures (methods: docs/analysis.md)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from scipy import stats as sps

from offerlab.domain.reports import Comparison, ResultError
from offerlab.domain.stats.bayesian import (
    BayesianComparison,
    compare_conversion_bayesian,
    normal_expected_positive_part,
)
from offerlab.domain.stats.cuped import CupedAdjustment, compare_adjusted
from offerlab.domain.stats.engine_inputs import VariantSums
from offerlab.domain.stats.frequentist import (
    Estimate,
    MeanStats,
    compare_means,
    compare_proportions,
)
from offerlab.domain.stats.ratio import compare_ratios, ratio_estimate

CONVERSION = "conversion"
REVENUE_PER_UNIT = "revenue_per_unit"
AVERAGE_ORDER_VALUE = "average_order_value"
ORDERS_PER_UNIT = "orders_per_unit"
ACCEPTANCE_VALUE_PER_UNIT = "acceptance_value_per_unit"
REFUND_RATE = "refund_rate"
METRICS = (
    CONVERSION,
    REVENUE_PER_UNIT,
    AVERAGE_ORDER_VALUE,
    ORDERS_PER_UNIT,
    ACCEPTANCE_VALUE_PER_UNIT,
    REFUND_RATE,
)
GUARDRAIL_ONLY_METRICS = (REFUND_RATE,)
LOWER_IS_BETTER = frozenset({REFUND_RATE})

# Variances at or below this fraction of the data's squared scale are rounding noise.
_RELATIVE_VARIANCE_EPSILON = 1e-12

_PROPORTIONS: dict[str, Callable[[VariantSums], tuple[int, int]]] = {
    CONVERSION: lambda s: (s.conversions, s.units),
    REFUND_RATE: lambda s: (s.refunded_units or 0, s.units),
}
_MEANS: dict[str, Callable[[VariantSums], MeanStats | None]] = {
    REVENUE_PER_UNIT: lambda s: MeanStats(*s.revenue_stats()),
    ORDERS_PER_UNIT: VariantSums.orders_stats,
    ACCEPTANCE_VALUE_PER_UNIT: VariantSums.acceptance_value_stats,
}


def available_metrics(variants: Sequence[VariantSums]) -> tuple[str, ...]:
    """Metrics whose inputs every variant carries, in the canonical order."""
    present = set(METRICS)
    if not all(v.has_acceptance_value for v in variants):
        present.discard(ACCEPTANCE_VALUE_PER_UNIT)
    if not all(v.refunded_units is not None for v in variants):
        present.discard(REFUND_RATE)
    return tuple(metric for metric in METRICS if metric in present)


def decision_metrics(
    variants: Sequence[VariantSums], requested: Sequence[str] | None
) -> tuple[str, ...]:
    """The metrics to compare: the requested ones with inputs, else all but guardrail-only ones."""
    if requested is None:
        wanted = {m for m in METRICS if m not in GUARDRAIL_ONLY_METRICS}
    else:
        check_metric_names(requested)
        wanted = set(requested)
    return tuple(metric for metric in available_metrics(variants) if metric in wanted)


def check_metric_names(names: Sequence[str]) -> None:
    """Raise ValueError for a name that is not one of METRICS."""
    if isinstance(names, str):
        raise ValueError("metrics must be a sequence of metric names, not one string")
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; use any of {METRICS}")


def compare_metric(
    control: VariantSums,
    variant: VariantSums,
    metric: str,
    alpha: float,
    cuped: CupedAdjustment | None = None,
) -> Comparison:
    """Frequentist comparison of one metric at interval level 1 − alpha."""
    if metric in _PROPORTIONS:
        control_s, control_n = _PROPORTIONS[metric](control)
        variant_s, variant_n = _PROPORTIONS[metric](variant)
        return compare_proportions(
            control_s, control_n, variant_s, variant_n, alpha=alpha, metric=metric
        )
    if metric == REVENUE_PER_UNIT and cuped is not None:
        return compare_adjusted(control, variant, cuped, alpha=alpha, metric=metric)
    if metric in _MEANS:
        control_stats, variant_stats = _mean_stats(control, metric), _mean_stats(variant, metric)
        return compare_means(control_stats, variant_stats, alpha=alpha, metric=metric)
    return compare_ratios(
        control.order_value_stats(), variant.order_value_stats(), alpha=alpha, metric=metric
    )


def arm_estimate(sums: VariantSums, metric: str, cuped: CupedAdjustment | None = None) -> Estimate:
    """One arm's estimate and the variance of that estimate (enough units for a test assumed)."""
    if metric in _PROPORTIONS:
        successes, n = _PROPORTIONS[metric](sums)
        rate = successes / n
        return Estimate(rate, rate * (1.0 - rate) / n)
    if metric == REVENUE_PER_UNIT and cuped is not None:
        estimate = cuped.arm_estimate(sums)
    elif metric in _MEANS:
        estimate = _mean_estimate(_mean_stats(sums, metric))
    else:
        ratio = ratio_estimate(sums.order_value_stats())
        return Estimate(ratio.value or 0.0, ratio.variance or 0.0)
    assert estimate is not None, "a tested mean comparison has two units per arm"
    return estimate


def bayesian_metric(
    control: VariantSums,
    variant: VariantSums,
    metric: str,
    cuped: CupedAdjustment | None = None,
) -> BayesianComparison:
    """Chance to beat control and expected losses; 'better' means lower for LOWER_IS_BETTER."""
    if metric in _PROPORTIONS:
        return _proportion_bayesian(control, variant, metric)
    if metric == AVERAGE_ORDER_VALUE:
        return _ratio_bayesian(control, variant, metric)
    if metric == REVENUE_PER_UNIT and cuped is not None:
        control_est, variant_est = cuped.arm_estimate(control), cuped.arm_estimate(variant)
        control_value, variant_value = cuped.adjusted_mean(control), cuped.adjusted_mean(variant)
    else:
        control_stats, variant_stats = _mean_stats(control, metric), _mean_stats(variant, metric)
        control_est, variant_est = _mean_estimate(control_stats), _mean_estimate(variant_stats)
        control_value, variant_value = _mean_value(control_stats), _mean_value(variant_stats)
    if control_est is None or variant_est is None:
        return BayesianComparison(metric, control_value, variant_value, error=ResultError.NO_UNITS)
    return normal_bayesian(metric, control_est, variant_est)


def normal_bayesian(metric: str, control: Estimate, variant: Estimate) -> BayesianComparison:
    """Posteriors N(estimate, variance) per arm: Φ(d/σ) and closed-form expected losses."""
    sd = math.sqrt(control.variance + variant.variance)
    if sd == 0.0:
        return BayesianComparison(
            metric, control.value, variant.value, error=ResultError.ZERO_VARIANCE
        )
    difference = variant.value - control.value
    return BayesianComparison(
        metric=metric,
        control_value=control.value,
        variant_value=variant.value,
        chance_to_beat_control=float(sps.norm.cdf(difference / sd)),
        risk_of_variant=normal_expected_positive_part(-difference, sd),
        risk_of_control=normal_expected_positive_part(difference, sd),
    )


def _proportion_bayesian(
    control: VariantSums, variant: VariantSums, metric: str
) -> BayesianComparison:
    control_s, control_n = _PROPORTIONS[metric](control)
    variant_s, variant_n = _PROPORTIONS[metric](variant)
    if metric not in LOWER_IS_BETTER:
        return compare_conversion_bayesian(
            control_s, control_n, variant_s, variant_n, metric=metric
        )
    # Lower is better: the variant beats the control when the control's rate is the larger, so
    # the arms swap roles; the reported values stay control's and variant's own.
    swapped = compare_conversion_bayesian(variant_s, variant_n, control_s, control_n, metric=metric)
    return BayesianComparison(
        metric=metric,
        control_value=swapped.variant_value,
        variant_value=swapped.control_value,
        chance_to_beat_control=swapped.chance_to_beat_control,
        risk_of_variant=swapped.risk_of_variant,
        risk_of_control=swapped.risk_of_control,
        error=swapped.error,
    )


def _ratio_bayesian(control: VariantSums, variant: VariantSums, metric: str) -> BayesianComparison:
    """Normal approximation of the ratio posteriors: N(R, Var_delta(R)) per arm."""
    control_est = ratio_estimate(control.order_value_stats())
    variant_est = ratio_estimate(variant.order_value_stats())
    error = control_est.error or variant_est.error
    if error is not None or control_est.variance is None or variant_est.variance is None:
        return BayesianComparison(metric, control_est.value, variant_est.value, error=error)
    assert control_est.value is not None and variant_est.value is not None
    return normal_bayesian(
        metric,
        Estimate(control_est.value, control_est.variance),
        Estimate(variant_est.value, variant_est.variance),
    )


def _mean_stats(sums: VariantSums, metric: str) -> MeanStats:
    stats = _MEANS[metric](sums)
    assert stats is not None, f"{metric} inputs are missing"
    return stats


def _mean_value(stats: MeanStats) -> float | None:
    return stats.sum / stats.n if stats.n else None


def _mean_estimate(stats: MeanStats) -> Estimate | None:
    """Mean and variance of the mean (s²/n); None below two units."""
    if stats.n < 2:
        return None
    mean = stats.sum / stats.n
    variance = (stats.sum_sq - stats.sum * mean) / (stats.n - 1)
    if variance <= _RELATIVE_VARIANCE_EPSILON * stats.sum_sq / stats.n:
        variance = 0.0
    return Estimate(mean, variance / stats.n)
