"""Runs the analysis engine on an experiment's SQL totals and shapes the results for reports.

Pure functions (no session): totals in, report objects out. The one engine
(`offerlab.domain.stats.engine.analyse`) computes every figure the service, the dashboards and
`offerlab analyze` show.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from offerlab.domain.model import AllocationKind, Experiment
from offerlab.domain.reports import (
    AllocationEpoch,
    AnalysisSettingsUsed,
    CappingSummary,
    Comparison,
    ComparisonDetail,
    DailyResult,
    EpochRatio,
    PowerProgress,
    SampleRatioStatus,
    SegmentResult,
    VariantResult,
    primary_metric,
)
from offerlab.domain.stats.engine import AnalysisReport, MetricComparison, VariantSums, analyse
from offerlab.domain.stats.power import units_needed
from offerlab.domain.stats.srm_epochs import EpochUnits
from offerlab.domain.stats.sufficient import VariantTotals

MAX_SEGMENT_VALUES = 12
MISSING_SEGMENT = "(not sent)"


def ordered_totals(
    experiment: Experiment, totals: Mapping[str, VariantTotals]
) -> list[VariantTotals]:
    """Totals of every configured variant, the control first; empty totals for silent variants."""
    keys = [experiment.control] + [
        v.key for v in experiment.variants if v.key != experiment.control
    ]
    return [totals.get(key) or VariantTotals.empty(key) for key in keys]


def run_engine(
    experiment: Experiment,
    totals: Sequence[VariantTotals],
    *,
    epochs: Sequence[EpochUnits] | None = None,
) -> AnalysisReport:
    """The engine's analysis of the ordered totals with the experiment's analysis settings."""
    settings = experiment.analysis
    is_bandit = experiment.allocation is not AllocationKind.FIXED
    return analyse(
        engine_inputs(experiment, totals),
        alpha=experiment.alpha,
        correction=settings.correction.value,
        sequential=settings.sequential,
        planned_units=settings.planned_units,
        epochs=epochs if is_bandit else None,
        guardrails=(),  # evaluated with the experiment's own guardrails (services.guardrails)
    )


def engine_inputs(experiment: Experiment, totals: Sequence[VariantTotals]) -> list[VariantSums]:
    """The engine's per-variant sums; configured weights only where they are the planned split."""
    with_weight = experiment.allocation is AllocationKind.FIXED
    return [_variant_sums(experiment, item, with_weight=with_weight) for item in totals]


def _variant_sums(
    experiment: Experiment, totals: VariantTotals, *, with_weight: bool
) -> VariantSums:
    covariate: dict[str, Any] = {}
    if experiment.analysis.covariate:
        covariate = {
            "covariate_sum": totals.covariate_sum,
            "covariate_sum_sq": totals.covariate_sum_sq,
            "revenue_covariate_sum_prod": totals.revenue_covariate_sum_prod,
        }
    return VariantSums(
        variant=totals.variant,
        units=totals.units,
        conversions=totals.converted_units,
        revenue_sum=totals.order_value_sum,
        revenue_sum_sq=totals.revenue_sum_sq,
        orders_sum=float(totals.orders),
        orders_sum_sq=totals.orders_sum_sq,
        revenue_orders_sum_prod=totals.revenue_orders_sum_prod,
        weight=experiment.variant(totals.variant).weight if with_weight else None,
        acceptance_value_sum=totals.acceptance_value_sum,
        acceptance_value_sum_sq=totals.acceptance_value_sum_sq,
        refunded_units=totals.refunded_units,
        **covariate,
    )


def variant_results(
    experiment: Experiment, totals: Sequence[VariantTotals], report: AnalysisReport
) -> tuple[VariantResult, ...]:
    """One `VariantResult` per variant (control first) from the engine's figures."""
    by_variant: dict[str, list[Any]] = defaultdict(list)
    for item in report.comparisons:
        by_variant[item.variant].append(item)
    return tuple(
        VariantResult(
            variant=summary.variant,
            name=experiment.variant(summary.variant).name,
            is_control=summary.is_control,
            totals=item_totals,
            conversion_rate=summary.conversion_rate,
            conversion_ci=summary.conversion_ci,
            average_order_value=summary.average_order_value,
            revenue_per_unit=summary.revenue_per_unit,
            comparisons={c.metric: c.comparison for c in by_variant[summary.variant]},
            orders_per_unit=summary.orders_per_unit,
            acceptance_value_per_unit=summary.acceptance_value_per_unit,
            refund_rate=summary.refund_rate,
            chance_to_be_best=summary.chance_to_be_best_conversion,
            details={c.metric: _detail(c) for c in by_variant[summary.variant]},
        )
        for summary, item_totals in zip(report.variants, totals, strict=True)
    )


def _detail(item: MetricComparison) -> ComparisonDetail:
    return ComparisonDetail(
        adjusted_p_value=item.adjusted_p_value,
        interval_level=1.0 - item.interval_alpha,
        chance_to_beat_control=item.chance_to_beat_control,
        expected_loss=item.expected_loss,
        expected_loss_of_control=item.expected_loss_of_control,
    )


def settings_used(report: AnalysisReport) -> AnalysisSettingsUsed:
    return AnalysisSettingsUsed(
        alpha=report.alpha,
        correction=report.correction,
        sequential=report.sequential,
        interval_rule=report.interval_rule,
        significance_rule=report.significance_rule,
        comparisons_tested=report.comparisons_tested,
    )


def sample_ratio_status(report: AnalysisReport) -> SampleRatioStatus:
    check = report.sample_ratio
    return SampleRatioStatus(
        method=check.method,
        p_value=check.p_value,
        unhealthy=check.unhealthy,
        threshold=check.threshold,
        epochs=tuple(
            EpochRatio(epoch.version, epoch.units, epoch.p_value, epoch.unhealthy)
            for epoch in check.epochs
        ),
    )


def epoch_units(
    by_epoch: Mapping[tuple[str, Any], VariantTotals], history: Sequence[AllocationEpoch]
) -> list[EpochUnits]:
    """Units first exposed in each allocation epoch, with that epoch's weights."""
    weights = {epoch.version: dict(epoch.weights) for epoch in history}
    units: dict[int, dict[str, int]] = defaultdict(dict)
    for (variant, version), totals in by_epoch.items():
        if version is not None and version in weights:
            units[version][variant] = totals.units
    return [
        EpochUnits(version=version, units=units[version], weights=weights[version])
        for version in sorted(units)
    ]


def capping_summary(
    experiment: Experiment, cap: float | None, totals: Sequence[VariantTotals]
) -> CappingSummary | None:
    refunds = sum(t.refunds for t in totals)
    if cap is None and refunds == 0:
        return None
    return CappingSummary(
        cap=cap,
        percentile=experiment.analysis.winsorize_percentile,
        orders_capped=sum(t.orders_capped for t in totals),
        refunds=refunds,
        refund_value=math.fsum(t.refund_value for t in totals),
    )


def daily_results(
    experiment: Experiment, by_day: Mapping[tuple[str, Any], VariantTotals]
) -> tuple[DailyResult, ...]:
    """Per UTC day of first exposure: new units, and the primary metric on cumulative data."""
    days = sorted({day for (_, day) in by_day if day is not None})
    metric = primary_metric(experiment.objective)
    cumulative: dict[str, VariantTotals] = {}
    results = []
    for day in days:
        new_units = {}
        for variant in experiment.variants:
            today = by_day.get((variant.key, day))
            if today is not None:
                previous = cumulative.get(variant.key)
                cumulative[variant.key] = today if previous is None else previous + today
            new_units[variant.key] = today.units if today else 0
        ordered = ordered_totals(experiment, cumulative)
        report = run_engine(experiment, ordered)
        results.append(
            DailyResult(
                day=_day(day),
                new_units=new_units,
                cumulative_units={t.variant: t.units for t in ordered},
                comparisons=_metric_comparisons(report, metric),
            )
        )
    return tuple(results)


def segment_results(
    experiment: Experiment, attribute: str, by_value: Mapping[tuple[str, Any], VariantTotals]
) -> tuple[SegmentResult, ...]:
    """The full comparison within each value of one segment attribute (largest values first)."""
    grouped: dict[str, dict[str, VariantTotals]] = defaultdict(dict)
    for (variant, value), totals in by_value.items():
        grouped[MISSING_SEGMENT if value is None else value][variant] = totals
    largest = sorted(grouped.items(), key=lambda item: -sum(t.units for t in item[1].values()))
    results = []
    for value, totals in largest[:MAX_SEGMENT_VALUES]:
        ordered = ordered_totals(experiment, totals)
        report = run_engine(experiment, ordered)
        results.append(
            SegmentResult(
                attribute=attribute,
                value=value,
                units=sum(t.units for t in ordered),
                variants=variant_results(experiment, ordered, report),
            )
        )
    return tuple(results)


def power_progress(
    experiment: Experiment,
    variants: Sequence[VariantResult],
    *,
    first_exposure_day: int | None,
    now: datetime,
) -> PowerProgress | None:
    """Progress toward the planned conversion test's units per variant (None: no plan)."""
    plan = experiment.analysis.power
    if plan is None:
        return None
    control = next(v for v in variants if v.is_control)
    baseline = plan.baseline if plan.baseline is not None else control.conversion_rate
    if not baseline or not 0.0 < baseline * (1.0 + plan.minimum_detectable_effect) < 1.0:
        return None
    needed = units_needed(
        baseline,
        plan.minimum_detectable_effect,
        alpha=experiment.alpha,
        power=plan.power,
        variants=len(variants),
        correction="none" if experiment.analysis.correction.value == "none" else "holm",
    )
    smallest = min(v.totals.units for v in variants)
    total = sum(v.totals.units for v in variants)
    return PowerProgress(
        metric="conversion",
        baseline=baseline,
        minimum_detectable_effect=plan.minimum_detectable_effect,
        power=plan.power,
        units_needed_per_variant=needed,
        units_per_variant=smallest,
        progress=min(1.0, smallest / needed),
        days_remaining=_days_remaining(
            needed * len(variants) - total, plan.daily_units, total, first_exposure_day, now
        ),
    )


def _days_remaining(
    units_missing: int,
    planned_daily_units: int | None,
    units_so_far: int,
    first_exposure_day: int | None,
    now: datetime,
) -> float | None:
    if units_missing <= 0:
        return 0.0
    daily = float(planned_daily_units) if planned_daily_units else None
    if daily is None and first_exposure_day is not None and units_so_far > 0:
        elapsed_days = now.timestamp() / 86_400 - first_exposure_day
        daily = units_so_far / max(elapsed_days, 1.0)
    return units_missing / daily if daily else None


def _metric_comparisons(report: AnalysisReport, metric: str) -> tuple[Comparison, ...]:
    return tuple(item.comparison for item in report.comparisons if item.metric == metric)


def _day(day_number: int) -> date:
    return datetime.fromtimestamp(day_number * 86_400, tz=UTC).date()
