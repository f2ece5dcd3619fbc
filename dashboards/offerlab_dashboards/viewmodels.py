"""Pure mapping of report dataclasses to the `*View` rows the dashboard templates render."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from offerlab.domain.model import AllocationKind, Objective, OfferKind
from offerlab.domain.reports import (
    Comparison,
    ExperimentReport,
    ExperimentSummary,
    PlacementReport,
    VariantResult,
)
from offerlab_dashboards import formatting as fmt

CONVERSION = "conversion"
AVERAGE_ORDER_VALUE = "average_order_value"
REVENUE_PER_VISITOR = "revenue_per_visitor"

METRIC_LABELS: Mapping[str, str] = {
    CONVERSION: "Conversion",
    AVERAGE_ORDER_VALUE: "Average order value",
    REVENUE_PER_VISITOR: "Revenue per visitor",
}
_METRIC_FORMATTERS: Mapping[str, Callable[[float | None], str]] = {
    CONVERSION: fmt.format_percent,
    AVERAGE_ORDER_VALUE: fmt.format_money,
    REVENUE_PER_VISITOR: fmt.format_money,
}
_PRIMARY_METRIC = {Objective.CONVERSION: CONVERSION, Objective.REVENUE: REVENUE_PER_VISITOR}
_VERDICT_PHRASES = {
    CONVERSION: ("converts significantly better", "converts significantly worse"),
    REVENUE_PER_VISITOR: (
        "earns significantly more revenue per visitor",
        "earns significantly less revenue per visitor",
    ),
}


class Significance(StrEnum):
    """The badge a comparison against the control earns."""

    BETTER = "significantly better"
    WORSE = "significantly worse"
    NOT_SIGNIFICANT = "not significant"
    NOT_ENOUGH_DATA = "not enough data"

    @property
    def css_class(self) -> str:
        """CSS modifier for the badge: "better", "worse", "not-significant", "not-enough-data"."""
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class ComparisonView:
    metric: str
    label: str
    control_value: str
    variant_value: str
    uplift: str
    p_value: str
    significance: Significance


@dataclass(frozen=True)
class VariantView:
    key: str
    name: str
    is_control: bool
    payload: str
    impressions: str
    units: str
    acceptances: str
    conversion: str
    conversion_ci: str
    orders: str
    average_order_value: str
    revenue_per_visitor: str
    comparisons: tuple[ComparisonView, ...]
    significance: Significance | None


@dataclass(frozen=True)
class VerdictView:
    text: str
    significance: Significance


@dataclass(frozen=True)
class ExperimentView:
    key: str
    name: str
    description: str
    placement: str
    offer_kind: str
    status: str
    status_class: str
    allocation: str
    is_bandit: bool
    objective: str
    alpha: str
    confidence: str
    traffic: str
    units: str
    generated_at: str
    verdict: VerdictView
    variants: tuple[VariantView, ...]


@dataclass(frozen=True)
class ExperimentSummaryView:
    key: str
    name: str
    status: str
    status_class: str
    units: str
    acceptances: str
    conversion: str
    revenue: str
    leading_variant: str
    significance_label: str
    significance_class: str


@dataclass(frozen=True)
class PlacementView:
    placement: str
    label: str
    upsell: tuple[ExperimentSummaryView, ...]
    cross_sell: tuple[ExperimentSummaryView, ...]


def find_comparison(result: VariantResult, metric: str) -> Comparison | None:
    """The variant's comparison for `metric`, looked up by key and then by its `metric` field."""
    if metric in result.comparisons:
        return result.comparisons[metric]
    return next((c for c in result.comparisons.values() if c.metric == metric), None)


def classify_significance(comparison: Comparison | None) -> Significance:
    """The badge of a comparison: its direction if significant, else whether data was enough."""
    if comparison is None or comparison.error is not None:
        return Significance.NOT_ENOUGH_DATA
    direction = comparison.absolute_uplift
    if direction is None:
        direction = comparison.relative_uplift
    if direction is None:
        return Significance.NOT_ENOUGH_DATA
    if comparison.significant and direction != 0.0:
        return Significance.BETTER if direction > 0.0 else Significance.WORSE
    if comparison.p_value is None:
        return Significance.NOT_ENOUGH_DATA
    return Significance.NOT_SIGNIFICANT


def primary_metric(report: ExperimentReport) -> str:
    """The metric the experiment is judged on, from its objective."""
    return _PRIMARY_METRIC.get(report.experiment.objective, CONVERSION)


def ordered_variants(report: ExperimentReport) -> tuple[VariantResult, ...]:
    """The report's variants with the control first, others in report order."""
    controls = tuple(v for v in report.variants if v.is_control)
    return controls + tuple(v for v in report.variants if not v.is_control)


def is_bandit(report: ExperimentReport) -> bool:
    """Whether the experiment re-weights its traffic over time."""
    return report.experiment.allocation != AllocationKind.FIXED


def comparison_view(comparison: Comparison | None, metric: str) -> ComparisonView:
    """One row of the "compared with control" table."""
    format_value = _METRIC_FORMATTERS.get(metric, fmt.format_money)
    if comparison is None:
        comparison = Comparison(metric=metric, control_value=None, variant_value=None)
    return ComparisonView(
        metric=metric,
        label=METRIC_LABELS.get(metric, fmt.status_label(metric)),
        control_value=format_value(comparison.control_value),
        variant_value=format_value(comparison.variant_value),
        uplift=fmt.format_uplift(comparison.relative_uplift, comparison.relative_ci),
        p_value=fmt.format_p_value(comparison.p_value),
        significance=classify_significance(comparison),
    )


def variant_view(
    result: VariantResult,
    *,
    primary: str = CONVERSION,
    payload: Mapping[str, Any] | None = None,
) -> VariantView:
    """One row of the variant table, with its comparisons unless it is the control."""
    totals = result.totals
    comparisons = () if result.is_control else tuple(
        comparison_view(find_comparison(result, metric), metric) for metric in METRIC_LABELS
    )
    significance = None if result.is_control else classify_significance(
        find_comparison(result, primary)
    )
    return VariantView(
        key=result.variant,
        name=result.name or result.variant,
        is_control=result.is_control,
        payload=format_payload(payload or {}),
        impressions=fmt.format_count(totals.impressions),
        units=fmt.format_count(totals.units),
        acceptances=fmt.format_count(totals.acceptances),
        conversion=fmt.format_percent(result.conversion_rate),
        conversion_ci=fmt.format_interval(result.conversion_ci, fmt.format_percent),
        orders=fmt.format_count(totals.orders),
        average_order_value=fmt.format_money(result.average_order_value),
        revenue_per_visitor=fmt.format_money(result.revenue_per_visitor),
        comparisons=comparisons,
        significance=significance,
    )


def format_payload(payload: Mapping[str, Any]) -> str:
    """The offer a variant shows, as compact JSON text (escaped later by the template)."""
    if not payload:
        return ""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)


def experiment_view(report: ExperimentReport) -> ExperimentView:
    """Everything the experiment page shows, formatted."""
    experiment = report.experiment
    payloads = {variant.key: variant.payload for variant in experiment.variants}
    primary = primary_metric(report)
    variants = tuple(
        variant_view(result, primary=primary, payload=payloads.get(result.variant))
        for result in ordered_variants(report)
    )
    return ExperimentView(
        key=experiment.key,
        name=experiment.name or experiment.key,
        description=experiment.description,
        placement=fmt.placement_label(experiment.placement),
        offer_kind=fmt.offer_kind_label(experiment.offer_kind),
        status=fmt.status_label(experiment.status),
        status_class=str(experiment.status),
        allocation=fmt.allocation_label(experiment.allocation),
        is_bandit=is_bandit(report),
        objective=fmt.objective_label(experiment.objective),
        alpha=f"{experiment.alpha:g}",
        confidence=fmt.format_confidence(experiment.alpha),
        traffic=fmt.format_percent(experiment.traffic, decimals=0),
        units=fmt.format_count(sum(result.totals.units for result in report.variants)),
        generated_at=fmt.format_timestamp(report.generated_at),
        verdict=describe_verdict(report),
        variants=variants,
    )


def describe_verdict(report: ExperimentReport) -> VerdictView:
    """A plain-language sentence a manager can read at a glance."""
    metric = primary_metric(report)
    challengers = [
        (result, find_comparison(result, metric))
        for result in report.variants
        if not result.is_control
    ]
    if not challengers:
        return VerdictView("Only the control is set up: there is nothing to compare yet.",
                           Significance.NOT_ENOUGH_DATA)
    by_badge: dict[Significance, list[tuple[VariantResult, Comparison]]] = {}
    for result, comparison in challengers:
        if comparison is not None:
            by_badge.setdefault(classify_significance(comparison), []).append((result, comparison))
    confidence = fmt.format_confidence(report.experiment.alpha)
    return _verdict_from_badges(by_badge, metric=metric, confidence=confidence)


def _verdict_from_badges(
    by_badge: Mapping[Significance, Sequence[tuple[VariantResult, Comparison]]],
    *,
    metric: str,
    confidence: str,
) -> VerdictView:
    better_phrase, worse_phrase = _VERDICT_PHRASES.get(metric, _VERDICT_PHRASES[CONVERSION])
    if by_badge.get(Significance.BETTER):
        result, comparison = _largest_uplift(by_badge[Significance.BETTER])
        return VerdictView(_sentence(result, comparison, better_phrase), Significance.BETTER)
    if by_badge.get(Significance.WORSE):
        result, comparison = _largest_uplift(by_badge[Significance.WORSE], lowest=True)
        return VerdictView(_sentence(result, comparison, worse_phrase), Significance.WORSE)
    if by_badge.get(Significance.NOT_SIGNIFICANT):
        result, comparison = _largest_uplift(by_badge[Significance.NOT_SIGNIFICANT])
        uplift = fmt.format_uplift(comparison.relative_uplift, comparison.relative_ci)
        text = (
            f"No variant differs significantly from control yet at {confidence} confidence. "
            f"Best so far: {_quoted(result)}, {METRIC_LABELS[metric].lower()} {uplift}."
        )
        return VerdictView(text, Significance.NOT_SIGNIFICANT)
    return VerdictView("Not enough data yet to compare the variants with control.",
                       Significance.NOT_ENOUGH_DATA)


def _largest_uplift(
    candidates: Sequence[tuple[VariantResult, Comparison]], *, lowest: bool = False
) -> tuple[VariantResult, Comparison]:
    def uplift(item: tuple[VariantResult, Comparison]) -> float:
        comparison = item[1]
        value = comparison.relative_uplift
        if value is None:
            value = comparison.absolute_uplift or 0.0
        return -value if lowest else value

    return max(candidates, key=uplift)


def _quoted(result: VariantResult) -> str:
    return f"“{result.name or result.variant}”"


def _sentence(result: VariantResult, comparison: Comparison, phrase: str) -> str:
    uplift = fmt.format_uplift(comparison.relative_uplift, comparison.relative_ci)
    p_value = fmt.format_p_value(comparison.p_value)
    details = ", ".join(part for part in (uplift, p_value) if part != fmt.NO_VALUE)
    return f"Variant {_quoted(result)} {phrase} than control: {details}."


def summary_view(summary: ExperimentSummary) -> ExperimentSummaryView:
    """One experiment's line on the overview page."""
    label, css_class = _summary_badge(summary)
    return ExperimentSummaryView(
        key=summary.key,
        name=summary.name or summary.key,
        status=fmt.status_label(summary.status),
        status_class=str(summary.status),
        units=fmt.format_count(summary.units),
        acceptances=fmt.format_count(summary.acceptances),
        conversion=fmt.format_percent(summary.conversion_rate),
        revenue=fmt.format_money(summary.revenue),
        leading_variant=summary.leading_variant or fmt.NO_VALUE,
        significance_label=label,
        significance_class=css_class,
    )


def _summary_badge(summary: ExperimentSummary) -> tuple[str, str]:
    if summary.units == 0:
        return Significance.NOT_ENOUGH_DATA.value, Significance.NOT_ENOUGH_DATA.css_class
    if summary.significant:
        return "significant", Significance.BETTER.css_class
    return Significance.NOT_SIGNIFICANT.value, Significance.NOT_SIGNIFICANT.css_class


def placement_view(report: PlacementReport) -> PlacementView:
    """One placement on the overview page, its experiments split into upsell and cross-sell."""
    return PlacementView(
        placement=report.placement,
        label=fmt.placement_label(report.placement),
        upsell=_summaries_of_kind(report.experiments, OfferKind.UPSELL),
        cross_sell=_summaries_of_kind(report.experiments, OfferKind.CROSS_SELL),
    )


def _summaries_of_kind(
    summaries: Iterable[ExperimentSummary], kind: OfferKind
) -> tuple[ExperimentSummaryView, ...]:
    return tuple(summary_view(s) for s in summaries if s.offer_kind == kind)


def placement_views(reports: Sequence[PlacementReport]) -> tuple[PlacementView, ...]:
    """The overview page's placements, in the order the source gives them."""
    return tuple(placement_view(report) for report in reports)
