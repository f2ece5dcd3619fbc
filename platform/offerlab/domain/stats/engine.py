"""One analysis of an experiment from per-variant sufficient statistics (methods: docs/analysis.md).

Input is one `VariantSums` per variant, the control first. `analyse` returns per-variant figures,
every (variant, metric) comparison against the control, multiple-comparison-adjusted p-values
across all of them, Bayesian chances and expected losses, and a sample-ratio check.

Decision rule: `significant` is `adjusted_p_value < alpha` (Holm, BH or none over all tested
comparisons). Each comparison's intervals are at its own level 1 − interval_alpha, chosen so
that the interval excludes 0 exactly when the comparison is significant (Holm-compatible step
levels; BH: Benjamini–Yekutieli FCR level; none: 1 − alpha). Statistical degeneracy is data
(`ResultError` codes), never an exception and never NaN.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from offerlab.domain.plain import plain
from offerlab.domain.reports import Comparison, Interval, ResultError
from offerlab.domain.stats.bayesian import (
    BayesianComparison,
    chance_to_be_best_conversion,
    compare_conversion_bayesian,
    compare_means_bayesian,
    normal_expected_positive_part,
)
from offerlab.domain.stats.corrections import CorrectionMethod
from offerlab.domain.stats.engine_inputs import InvalidSums, VariantSums
from offerlab.domain.stats.engine_levels import adjust, interval_alphas
from offerlab.domain.stats.frequentist import (
    Estimate,
    check_alpha,
    compare_means,
    compare_proportions,
    wilson_interval,
)
from offerlab.domain.stats.ratio import compare_ratios, ratio_estimate
from offerlab.domain.stats.sequential import (
    always_valid_p_value,
    confidence_sequence,
    tuned_tau_sq,
)
from offerlab.domain.stats.srm import DEFAULT_SRM_THRESHOLD, check_srm

__all__ = [
    "AVERAGE_ORDER_VALUE",
    "CONVERSION",
    "REVENUE_PER_UNIT",
    "AnalysisReport",
    "InvalidSums",
    "MetricComparison",
    "SampleRatioCheck",
    "VariantSummary",
    "VariantSums",
    "analyse",
    "expected_shares",
]

CONVERSION = "conversion"
REVENUE_PER_UNIT = "revenue_per_unit"
AVERAGE_ORDER_VALUE = "average_order_value"
METRICS = (CONVERSION, REVENUE_PER_UNIT, AVERAGE_ORDER_VALUE)
ENGINE_CORRECTIONS = ("holm", "bh", "none")
SIGNIFICANCE_RULE = "adjusted_p_value < alpha"
_INTERVAL_RULES = {"holm": "holm_compatible", "bh": "fcr_adjusted", "none": "unadjusted"}


@dataclass(frozen=True)
class VariantSummary:
    """One variant's own figures; `errors` lists the figures that could not be computed."""

    variant: str
    is_control: bool
    units: int
    conversions: int
    conversion_rate: float | None
    conversion_ci: Interval | None
    revenue_per_unit: float | None
    average_order_value: float | None
    orders_per_unit: float | None
    expected_share: float
    observed_share: float | None
    chance_to_be_best_conversion: float | None
    errors: tuple[ResultError, ...] = ()


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one variant against the control, frequentist and Bayesian."""

    variant: str
    metric: str
    comparison: Comparison
    adjusted_p_value: float | None
    significant: bool
    interval_alpha: float
    chance_to_beat_control: float | None
    expected_loss: float | None
    expected_loss_of_control: float | None


@dataclass(frozen=True)
class SampleRatioCheck:
    """Chi-square test of units per variant against the expected shares."""

    statistic: float | None
    p_value: float | None
    unhealthy: bool
    threshold: float
    error: ResultError | None = None


@dataclass(frozen=True)
class AnalysisReport:
    """Everything `analyse` found; `to_dict` is the stable JSON form."""

    control: str
    alpha: float
    correction: str
    sequential: bool
    planned_units: int | None
    comparisons_tested: int
    interval_rule: str
    significance_rule: str
    variants: tuple[VariantSummary, ...]
    comparisons: tuple[MetricComparison, ...]
    sample_ratio: SampleRatioCheck

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: snake_case keys, None for anything missing, never NaN."""
        data = plain(self)
        data["comparisons"] = [_comparison_dict(item) for item in self.comparisons]
        return data


def analyse(
    variants: Sequence[VariantSums],
    *,
    alpha: float = 0.05,
    correction: CorrectionMethod = "holm",
    sequential: bool = False,
    planned_units: int | None = None,
) -> AnalysisReport:
    """Analyse every variant against the first (the control); see the module docstring."""
    _check_arguments(variants, alpha, correction, planned_units)
    control = variants[0]
    total_units = sum(v.units for v in variants)
    planned = (planned_units or max(total_units, 1)) if sequential else None
    frame = _SequentialFrame(total_units, planned, alpha) if planned is not None else None
    pairs = [(variant, metric) for variant in variants[1:] for metric in METRICS]
    p_values = [_comparison(control, v, m, alpha, frame).p_value for v, m in pairs]
    adjusted = adjust(p_values, correction)
    levels = interval_alphas(p_values, correction, alpha)
    return AnalysisReport(
        control=control.variant,
        alpha=alpha,
        correction=correction,
        sequential=sequential,
        planned_units=planned,
        comparisons_tested=sum(p is not None for p in p_values),
        interval_rule=_INTERVAL_RULES[correction],
        significance_rule=SIGNIFICANCE_RULE,
        variants=_summaries(variants, alpha),
        comparisons=tuple(
            _metric_comparison(
                control, v, _comparison(control, v, m, level, frame), p, level, alpha
            )
            for (v, m), p, level in zip(pairs, adjusted, levels, strict=True)
        ),
        sample_ratio=_sample_ratio(variants),
    )


def _comparison(
    control: VariantSums,
    variant: VariantSums,
    metric: str,
    interval_alpha: float,
    frame: _SequentialFrame | None,
) -> Comparison:
    """The comparison with intervals at 1 − interval_alpha; its p-value does not depend on it."""
    comparison = _compare(control, variant, metric, interval_alpha)
    if frame is None:
        return comparison
    return _make_sequential(comparison, control, variant, frame, interval_alpha)


def _compare(control: VariantSums, variant: VariantSums, metric: str, alpha: float) -> Comparison:
    if metric == CONVERSION:
        return compare_proportions(
            control.conversions,
            control.units,
            variant.conversions,
            variant.units,
            alpha=alpha,
            metric=metric,
        )
    if metric == REVENUE_PER_UNIT:
        return compare_means(
            control.revenue_stats(), variant.revenue_stats(), alpha=alpha, metric=metric
        )
    return compare_ratios(
        control.order_value_stats(), variant.order_value_stats(), alpha=alpha, metric=metric
    )


@dataclass(frozen=True)
class _SequentialFrame:
    total_units: int
    planned_units: int
    alpha: float

    def tau_sq(self, variance: float) -> float:
        return tuned_tau_sq(
            variance, self.total_units, alpha=self.alpha, planned_units=self.planned_units
        )


def _make_sequential(
    comparison: Comparison,
    control: VariantSums,
    variant: VariantSums,
    frame: _SequentialFrame,
    interval_alpha: float,
) -> Comparison:
    """Replace p-value and intervals by always-valid ones (mixture SPRT, sequential module)."""
    if comparison.p_value is None:
        return comparison
    control_est = _arm_estimate(control, comparison.metric)
    variant_est = _arm_estimate(variant, comparison.metric)
    variance = control_est.variance + variant_est.variance
    if not variance > 0.0:
        return Comparison(
            comparison.metric,
            comparison.control_value,
            comparison.variant_value,
            error=ResultError.ZERO_VARIANCE,
        )
    diff = variant_est.value - control_est.value
    tau_sq = frame.tau_sq(variance)
    return dataclasses.replace(
        comparison,
        absolute_ci=confidence_sequence(diff, variance, alpha=interval_alpha, tau_sq=tau_sq),
        relative_ci=_relative_sequence(control_est, variant_est, frame, interval_alpha),
        p_value=always_valid_p_value(diff, variance, tau_sq=tau_sq),
    )


def _relative_sequence(
    control: Estimate, variant: Estimate, frame: _SequentialFrame, interval_alpha: float
) -> Interval | None:
    """Confidence sequence of v/c − 1 with the delta-method variance of v/c."""
    if control.value == 0.0:
        return None
    variance = variant.variance / control.value**2 + (
        variant.value**2 * control.variance / control.value**4
    )
    if not variance > 0.0:
        return None
    uplift = variant.value / control.value - 1.0
    return confidence_sequence(
        uplift, variance, alpha=interval_alpha, tau_sq=frame.tau_sq(variance)
    )


def _arm_estimate(sums: VariantSums, metric: str) -> Estimate:
    """A metric's estimate and the variance of that estimate for one arm (n ≥ 1 assumed)."""
    n = sums.units
    if metric == CONVERSION:
        rate = sums.conversions / n
        return Estimate(rate, rate * (1.0 - rate) / n)
    if metric == REVENUE_PER_UNIT:
        mean = sums.revenue_sum / n
        variance = max(0.0, (sums.revenue_sum_sq - sums.revenue_sum * mean) / (n - 1))
        return Estimate(mean, variance / n)
    ratio = ratio_estimate(sums.order_value_stats())
    return Estimate(ratio.value or 0.0, ratio.variance or 0.0)


def _metric_comparison(
    control: VariantSums,
    variant: VariantSums,
    comparison: Comparison,
    adjusted_p: float | None,
    interval_alpha: float,
    alpha: float,
) -> MetricComparison:
    significant = adjusted_p is not None and adjusted_p < alpha
    bayesian = _bayesian(control, variant, comparison.metric)
    return MetricComparison(
        variant=variant.variant,
        metric=comparison.metric,
        comparison=dataclasses.replace(comparison, significant=significant),
        adjusted_p_value=adjusted_p,
        significant=significant,
        interval_alpha=interval_alpha,
        chance_to_beat_control=bayesian.chance_to_beat_control,
        expected_loss=bayesian.risk_of_variant,
        expected_loss_of_control=bayesian.risk_of_control,
    )


def _bayesian(control: VariantSums, variant: VariantSums, metric: str) -> BayesianComparison:
    if metric == CONVERSION:
        return compare_conversion_bayesian(
            control.conversions, control.units, variant.conversions, variant.units, metric=metric
        )
    if metric == REVENUE_PER_UNIT:
        return compare_means_bayesian(
            control.revenue_stats(), variant.revenue_stats(), metric=metric
        )
    return _ratio_bayesian(control, variant, metric)


def _ratio_bayesian(control: VariantSums, variant: VariantSums, metric: str) -> BayesianComparison:
    """Normal approximation of the ratio posteriors: N(R, Var_delta(R)) per arm."""
    control_est = ratio_estimate(control.order_value_stats())
    variant_est = ratio_estimate(variant.order_value_stats())
    error = control_est.error or variant_est.error
    if error is not None or control_est.variance is None or variant_est.variance is None:
        return BayesianComparison(metric, control_est.value, variant_est.value, error=error)
    assert control_est.value is not None and variant_est.value is not None
    sd = math.sqrt(control_est.variance + variant_est.variance)
    if sd == 0.0:
        return BayesianComparison(
            metric, control_est.value, variant_est.value, error=ResultError.ZERO_VARIANCE
        )
    difference = variant_est.value - control_est.value
    return BayesianComparison(
        metric=metric,
        control_value=control_est.value,
        variant_value=variant_est.value,
        chance_to_beat_control=float(sps.norm.cdf(difference / sd)),
        risk_of_variant=normal_expected_positive_part(-difference, sd),
        risk_of_control=normal_expected_positive_part(difference, sd),
    )


def _summaries(variants: Sequence[VariantSums], alpha: float) -> tuple[VariantSummary, ...]:
    shares = expected_shares(variants)
    total = sum(v.units for v in variants)
    chances = chance_to_be_best_conversion(
        [v.conversions for v in variants], [v.units for v in variants]
    )
    return tuple(
        VariantSummary(
            variant=v.variant,
            is_control=index == 0,
            units=v.units,
            conversions=v.conversions,
            conversion_rate=_divide(v.conversions, v.units),
            conversion_ci=wilson_interval(v.conversions, v.units, alpha=alpha),
            revenue_per_unit=_divide(v.revenue_sum, v.units),
            average_order_value=_divide(v.revenue_sum, v.orders_sum),
            orders_per_unit=_divide(v.orders_sum, v.units),
            expected_share=share,
            observed_share=_divide(v.units, total),
            chance_to_be_best_conversion=chance,
            errors=_variant_errors(v),
        )
        for index, (v, share, chance) in enumerate(zip(variants, shares, chances, strict=True))
    )


def _variant_errors(sums: VariantSums) -> tuple[ResultError, ...]:
    if sums.units == 0:
        return (ResultError.NO_UNITS, ResultError.NO_ORDERS)
    return (ResultError.NO_ORDERS,) if sums.orders_sum == 0 else ()


def expected_shares(variants: Sequence[VariantSums]) -> tuple[float, ...]:
    """Planned traffic shares from the weights; equal shares when no weight is given."""
    weights = [v.weight if v.weight is not None else 1.0 for v in variants]
    total = math.fsum(weights)
    return tuple(weight / total for weight in weights)


def _sample_ratio(variants: Sequence[VariantSums]) -> SampleRatioCheck:
    result = check_srm([v.units for v in variants], expected_shares(variants))
    return SampleRatioCheck(
        result.statistic, result.p_value, result.unhealthy, DEFAULT_SRM_THRESHOLD, result.error
    )


def _divide(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _check_arguments(
    variants: Sequence[VariantSums], alpha: float, correction: str, planned_units: int | None
) -> None:
    check_alpha(alpha)
    if len(variants) < 2:
        raise ValueError("at least two variants are needed (the control first)")
    names = [v.variant for v in variants]
    if len(set(names)) != len(names):
        raise ValueError("variant names must be unique")
    if correction not in ENGINE_CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {ENGINE_CORRECTIONS}")
    if planned_units is not None and planned_units <= 0:
        raise ValueError("planned_units must be positive")
    if len({v.weight is None for v in variants}) > 1:
        raise ValueError("give a weight for every variant or for none")


def _comparison_dict(item: MetricComparison) -> dict[str, Any]:
    """Flatten the frequentist `Comparison` into the comparison's own JSON object."""
    data: dict[str, Any] = plain(item.comparison)
    data.update(
        variant=item.variant,
        adjusted_p_value=plain(item.adjusted_p_value),
        significant=item.significant,
        interval_alpha=item.interval_alpha,
        interval_level=1.0 - item.interval_alpha,
        chance_to_beat_control=plain(item.chance_to_beat_control),
        expected_loss=plain(item.expected_loss),
        expected_loss_of_control=plain(item.expected_loss_of_control),
    )
    return {key: data[key] for key in _COMPARISON_KEYS}


_COMPARISON_KEYS = (
    "variant",
    "metric",
    "control_value",
    "variant_value",
    "absolute_uplift",
    "absolute_ci",
    "relative_uplift",
    "relative_ci",
    "p_value",
    "adjusted_p_value",
    "significant",
    "interval_alpha",
    "interval_level",
    "chance_to_beat_control",
    "expected_loss",
    "expected_loss_of_control",
    "error",
)
