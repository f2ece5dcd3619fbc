"""One analysis of an experiment from per-variant sufficient statistics (methods: docs/analysis.md).

Input is one `VariantSums` per variant, the control first. `analyse` returns per-variant figures,
every (variant, decision metric) comparison against the control, multiple-comparison-adjusted
p-values across all of them, Bayesian chances and expected losses, CUPED variance reduction when
a covariate is given, guardrail checks, and a sample-ratio check (overall or per epoch).

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

from offerlab.domain.reports import Comparison, ResultError
from offerlab.domain.stats.bayesian import chance_to_be_best_conversion
from offerlab.domain.stats.corrections import CorrectionMethod
from offerlab.domain.stats.cuped import CupedAdjustment, CupedFit, fit_cuped
from offerlab.domain.stats.engine_inputs import InvalidSums, VariantSums, check_variant_list
from offerlab.domain.stats.engine_levels import adjust, interval_alphas
from offerlab.domain.stats.engine_metrics import (
    ACCEPTANCE_VALUE_PER_UNIT,
    AVERAGE_ORDER_VALUE,
    CONVERSION,
    GUARDRAIL_ONLY_METRICS,
    LOWER_IS_BETTER,
    METRICS,
    ORDERS_PER_UNIT,
    REFUND_RATE,
    REVENUE_PER_UNIT,
    arm_estimate,
    bayesian_metric,
    compare_metric,
    decision_metrics,
)
from offerlab.domain.stats.engine_report import (
    AnalysisReport,
    MetricComparison,
    SampleRatioCheck,
    VarianceReduction,
    VariantSummary,
)
from offerlab.domain.stats.engine_sequential import SequentialFrame, make_sequential
from offerlab.domain.stats.frequentist import check_alpha, wilson_interval
from offerlab.domain.stats.guardrails import (
    Guardrail,
    GuardrailResult,
    default_guardrails,
    evaluate_guardrails,
)
from offerlab.domain.stats.srm import DEFAULT_SRM_THRESHOLD, check_srm
from offerlab.domain.stats.srm_epochs import EpochSampleRatio, EpochUnits, check_epochs

__all__ = [
    "ACCEPTANCE_VALUE_PER_UNIT",
    "AVERAGE_ORDER_VALUE",
    "CONVERSION",
    "GUARDRAIL_ONLY_METRICS",
    "LOWER_IS_BETTER",
    "METRICS",
    "ORDERS_PER_UNIT",
    "REFUND_RATE",
    "REVENUE_PER_UNIT",
    "AnalysisReport",
    "EpochSampleRatio",
    "EpochUnits",
    "Guardrail",
    "GuardrailResult",
    "InvalidSums",
    "MetricComparison",
    "SampleRatioCheck",
    "VariantSummary",
    "VariantSums",
    "VarianceReduction",
    "analyse",
    "expected_shares",
]

ENGINE_CORRECTIONS = ("holm", "bh", "none")
SIGNIFICANCE_RULE = "adjusted_p_value < alpha"
_INTERVAL_RULES = {"holm": "holm_compatible", "bh": "fcr_adjusted", "none": "unadjusted"}


def analyse(
    variants: Sequence[VariantSums],
    *,
    alpha: float = 0.05,
    correction: CorrectionMethod = "holm",
    sequential: bool = False,
    planned_units: int | None = None,
    metrics: Sequence[str] | None = None,
    guardrails: Sequence[Guardrail | str] | None = None,
    epochs: Sequence[EpochUnits] | None = None,
) -> AnalysisReport:
    """Analyse every variant against the first (the control); see the module docstring.

    `metrics` restricts the decision metrics (default: all with inputs except refund_rate);
    `guardrails` defaults to refund_rate when given; `epochs` switches the sample-ratio check to
    one test per allocation epoch.
    """
    _check_arguments(variants, alpha, correction, planned_units)
    control = variants[0]
    chosen = decision_metrics(variants, metrics)
    fit = fit_cuped(variants)
    cuped = fit.adjustment if fit is not None else None
    total_units = sum(v.units for v in variants)
    planned = (planned_units or max(total_units, 1)) if sequential else None
    frame = SequentialFrame(total_units, planned, alpha) if planned is not None else None
    pairs = [(variant, metric) for variant in variants[1:] for metric in chosen]
    p_values = [_comparison(control, v, m, alpha, frame, cuped).p_value for v, m in pairs]
    adjusted = adjust(p_values, correction)
    levels = interval_alphas(p_values, correction, alpha)
    comparisons = tuple(
        _metric_comparison(
            control, v, _comparison(control, v, m, level, frame, cuped), p, level, alpha, cuped
        )
        for (v, m), p, level in zip(pairs, adjusted, levels, strict=True)
    )
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
        comparisons=comparisons,
        sample_ratio=_sample_ratio(variants, epochs),
        metrics=chosen,
        variance_reduction=_variance_reduction(fit, variants, comparisons, alpha, frame),
        guardrails=evaluate_guardrails(variants, _guardrails(variants, guardrails), alpha=alpha),
    )


def _comparison(
    control: VariantSums,
    variant: VariantSums,
    metric: str,
    interval_alpha: float,
    frame: SequentialFrame | None,
    cuped: CupedAdjustment | None,
) -> Comparison:
    """The comparison with intervals at 1 − interval_alpha; its p-value does not depend on it."""
    comparison = compare_metric(control, variant, metric, interval_alpha, cuped)
    if frame is None or comparison.p_value is None:
        return comparison
    return make_sequential(
        comparison,
        arm_estimate(control, metric, cuped),
        arm_estimate(variant, metric, cuped),
        frame,
        interval_alpha,
    )


def _metric_comparison(
    control: VariantSums,
    variant: VariantSums,
    comparison: Comparison,
    adjusted_p: float | None,
    interval_alpha: float,
    alpha: float,
    cuped: CupedAdjustment | None,
) -> MetricComparison:
    significant = adjusted_p is not None and adjusted_p < alpha
    bayesian = bayesian_metric(control, variant, comparison.metric, cuped)
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


def _variance_reduction(
    fit: CupedFit | None,
    variants: Sequence[VariantSums],
    comparisons: Sequence[MetricComparison],
    alpha: float,
    frame: SequentialFrame | None,
) -> VarianceReduction | None:
    """CUPED's effect on revenue per unit; None when some variant has no covariate sums."""
    if fit is None:
        return None
    if fit.adjustment is None:
        return VarianceReduction(REVENUE_PER_UNIT, False, None, None, None, error=fit.error)
    levels = {c.variant: c.interval_alpha for c in comparisons if c.metric == REVENUE_PER_UNIT}
    narrowing = []
    for variant in variants[1:]:
        level = levels.get(variant.variant, alpha)
        args = (variants[0], variant, REVENUE_PER_UNIT, level, frame)
        ratio = _width_ratio(_comparison(*args, fit.adjustment), _comparison(*args, None))
        if ratio is not None:
            narrowing.append(1.0 - ratio)
    return VarianceReduction(
        metric=REVENUE_PER_UNIT,
        covariate_used=True,
        theta=fit.adjustment.theta,
        variance_ratio=fit.adjustment.variance_ratio,
        interval_narrowing=math.fsum(narrowing) / len(narrowing) if narrowing else None,
    )


def _width_ratio(adjusted: Comparison, unadjusted: Comparison) -> float | None:
    if adjusted.absolute_ci is None or unadjusted.absolute_ci is None:
        return None
    unadjusted_width = unadjusted.absolute_ci.high - unadjusted.absolute_ci.low
    if not unadjusted_width > 0.0:
        return None
    return (adjusted.absolute_ci.high - adjusted.absolute_ci.low) / unadjusted_width


def _guardrails(
    variants: Sequence[VariantSums], guardrails: Sequence[Guardrail | str] | None
) -> tuple[Guardrail, ...]:
    if guardrails is None:
        return default_guardrails(variants)
    if isinstance(guardrails, str):
        raise ValueError("guardrails must be a sequence of Guardrail or metric names")
    return tuple(g if isinstance(g, Guardrail) else Guardrail(g) for g in guardrails)


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
            acceptance_value_per_unit=(
                None if v.acceptance_value_sum is None else _divide(v.acceptance_value_sum, v.units)
            ),
            refund_rate=None if v.refunded_units is None else _divide(v.refunded_units, v.units),
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


def _sample_ratio(
    variants: Sequence[VariantSums], epochs: Sequence[EpochUnits] | None
) -> SampleRatioCheck:
    if epochs is None:
        result = check_srm([v.units for v in variants], expected_shares(variants))
        return SampleRatioCheck(
            result.statistic, result.p_value, result.unhealthy, DEFAULT_SRM_THRESHOLD, result.error
        )
    checks = check_epochs(epochs, [v.variant for v in variants])
    adjusted = [c.adjusted_p_value for c in checks if c.adjusted_p_value is not None]
    return SampleRatioCheck(
        statistic=None,
        p_value=min(adjusted) if adjusted else None,
        unhealthy=any(c.unhealthy for c in checks),
        threshold=DEFAULT_SRM_THRESHOLD,
        error=None if adjusted else ResultError.NO_UNITS,
        method="per_epoch",
        epochs=checks,
    )


def _divide(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _check_arguments(
    variants: Sequence[VariantSums], alpha: float, correction: str, planned_units: int | None
) -> None:
    check_alpha(alpha)
    check_variant_list(variants)
    if correction not in ENGINE_CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {ENGINE_CORRECTIONS}")
    if planned_units is not None and planned_units <= 0:
        raise ValueError("planned_units must be positive")
