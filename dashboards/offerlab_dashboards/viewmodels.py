"""Pure mapping of report dataclasses to the `*View` rows the dashboard templates render."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offerlab.domain.model import OfferKind
from offerlab.domain.reports import (
    Comparison,
    ComparisonDetail,
    ExperimentReport,
    ExperimentSummary,
    PlacementReport,
    VariantResult,
)
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards.health import (
    AuditEntryView,
    GuardrailsView,
    HealthBanner,
    audit_log_view,
    guardrails_view,
    sample_ratio_banner,
)
from offerlab_dashboards.method_notes import PowerView, method_notes, power_view
from offerlab_dashboards.segments import SegmentAttributeView, segment_views
from offerlab_dashboards.significance import (
    AVERAGE_ORDER_VALUE,
    CONVERSION,
    METRIC_FORMATTERS,
    METRIC_LABELS,
    NOMINAL_LEVEL,
    REVENUE_PER_UNIT,
    Significance,
    classify_significance,
    find_comparison,
    find_detail,
    format_comparison_p,
    format_comparison_uplift,
    is_bandit,
    nominal_level,
    ordered_variants,
    primary_metric,
)
from offerlab_dashboards.verdict import VerdictView, describe_verdict

__all__ = [
    "AVERAGE_ORDER_VALUE",
    "CONVERSION",
    "METRIC_LABELS",
    "REVENUE_PER_UNIT",
    "ComparisonView",
    "ExperimentSummaryView",
    "ExperimentView",
    "PlacementView",
    "Significance",
    "VariantView",
    "VerdictView",
    "classify_significance",
    "comparison_view",
    "describe_verdict",
    "experiment_view",
    "find_comparison",
    "placement_view",
    "placement_views",
    "summary_view",
    "variant_view",
]


@dataclass(frozen=True)
class ComparisonView:
    metric: str
    label: str
    control_value: str
    variant_value: str
    uplift: str
    p_value: str
    significance: Significance
    chance_to_beat_control: str = fmt.NO_VALUE


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
    orders_per_visitor: str
    offer_value_per_visitor: str
    refund_rate: str
    chance_to_be_best: str
    chance_to_beat_control: str
    comparisons: tuple[ComparisonView, ...]
    significance: Significance | None


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
    primary_metric: str
    sample_ratio: HealthBanner | None
    guardrails: GuardrailsView | None
    audit_log: tuple[AuditEntryView, ...]
    method_notes: tuple[str, ...]
    power: PowerView | None
    segments: tuple[SegmentAttributeView, ...]
    configured_segments: tuple[str, ...]


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
    offer_revenue: str
    leading_variant: str
    significance_label: str
    significance_class: str
    unhealthy: bool = False
    guardrail_violated: bool = False


@dataclass(frozen=True)
class PlacementView:
    placement: str
    label: str
    upsell: tuple[ExperimentSummaryView, ...]
    cross_sell: tuple[ExperimentSummaryView, ...]


def comparison_view(
    comparison: Comparison | None,
    metric: str,
    detail: ComparisonDetail | None = None,
    *,
    nominal: float = NOMINAL_LEVEL,
) -> ComparisonView:
    """One row of the "compared with control" table."""
    format_value = METRIC_FORMATTERS.get(metric, fmt.format_money)
    if comparison is None:
        comparison = Comparison(metric=metric, control_value=None, variant_value=None)
    chance = None if detail is None else detail.chance_to_beat_control
    return ComparisonView(
        metric=metric,
        label=METRIC_LABELS.get(metric, fmt.status_label(metric)),
        control_value=format_value(comparison.control_value),
        variant_value=format_value(comparison.variant_value),
        uplift=format_comparison_uplift(comparison, metric, detail, nominal=nominal),
        p_value=format_comparison_p(comparison, detail),
        significance=classify_significance(comparison),
        chance_to_beat_control=fmt.format_percent(chance),
    )


def variant_view(
    result: VariantResult,
    *,
    primary: str = CONVERSION,
    payload: Mapping[str, Any] | None = None,
    nominal: float = NOMINAL_LEVEL,
) -> VariantView:
    """One row of the variant table, with its comparisons unless it is the control."""
    totals = result.totals
    comparisons = (
        ()
        if result.is_control
        else tuple(
            comparison_view(
                find_comparison(result, metric),
                metric,
                find_detail(result, metric),
                nominal=nominal,
            )
            for metric in METRIC_LABELS
        )
    )
    significance = (
        None if result.is_control else classify_significance(find_comparison(result, primary))
    )
    primary_detail = None if result.is_control else find_detail(result, primary)
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
        revenue_per_visitor=fmt.format_money(result.revenue_per_unit),
        orders_per_visitor=fmt.format_decimal(result.orders_per_unit),
        offer_value_per_visitor=fmt.format_money(result.acceptance_value_per_unit),
        refund_rate=fmt.format_percent(result.refund_rate),
        chance_to_be_best=fmt.format_percent(result.chance_to_be_best),
        chance_to_beat_control=fmt.format_percent(
            None if primary_detail is None else primary_detail.chance_to_beat_control
        ),
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
    nominal = nominal_level(report)
    variants = tuple(
        variant_view(result, primary=primary, payload=payloads.get(result.variant), nominal=nominal)
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
        alpha=f"{1.0 - nominal:g}",
        confidence=fmt.format_level(nominal),
        traffic=fmt.format_percent(experiment.traffic, decimals=0),
        units=fmt.format_count(sum(result.totals.units for result in report.variants)),
        generated_at=fmt.format_timestamp(report.generated_at),
        verdict=describe_verdict(report),
        variants=variants,
        primary_metric=METRIC_LABELS.get(primary, primary),
        sample_ratio=sample_ratio_banner(report),
        guardrails=guardrails_view(report),
        audit_log=audit_log_view(report),
        method_notes=method_notes(report),
        power=power_view(report),
        segments=segment_views(report),
        configured_segments=tuple(experiment.analysis.segments),
    )


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
        offer_revenue=fmt.format_money(summary.offer_revenue),
        leading_variant=summary.leading_variant_name or summary.leading_variant or fmt.NO_VALUE,
        significance_label=label,
        significance_class=css_class,
        unhealthy=summary.unhealthy,
        guardrail_violated=summary.guardrail_violated,
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
