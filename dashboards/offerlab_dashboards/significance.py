"""Pure reading of comparisons: which metric, which badge, and how to write the uplift."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from enum import StrEnum

from offerlab.domain import reports
from offerlab.domain.model import AllocationKind
from offerlab.domain.reports import (
    Comparison,
    ComparisonDetail,
    ExperimentReport,
    Interval,
    ResultError,
    VariantResult,
)
from offerlab_dashboards import formatting as fmt

CONVERSION = "conversion"
AVERAGE_ORDER_VALUE = "average_order_value"
REVENUE_PER_UNIT = "revenue_per_unit"
ORDERS_PER_UNIT = "orders_per_unit"
ACCEPTANCE_VALUE_PER_UNIT = "acceptance_value_per_unit"
REFUND_RATE = "refund_rate"

Formatter = Callable[[float | None], str]

METRIC_LABELS: Mapping[str, str] = {
    CONVERSION: "Conversion",
    AVERAGE_ORDER_VALUE: "Average order value",
    REVENUE_PER_UNIT: "Revenue per visitor",
    ORDERS_PER_UNIT: "Orders per visitor",
    ACCEPTANCE_VALUE_PER_UNIT: "Offer value per visitor",
}
"""The metrics compared with the control, in the order the pages list them."""

GUARDRAIL_LABELS: Mapping[str, str] = {**METRIC_LABELS, REFUND_RATE: "Refund rate"}

METRIC_FORMATTERS: Mapping[str, Formatter] = {
    CONVERSION: fmt.format_percent,
    AVERAGE_ORDER_VALUE: fmt.format_money,
    REVENUE_PER_UNIT: fmt.format_money,
    ORDERS_PER_UNIT: fmt.format_decimal,
    ACCEPTANCE_VALUE_PER_UNIT: fmt.format_money,
    REFUND_RATE: fmt.format_percent,
}
DIFFERENCE_FORMATTERS: Mapping[str, Formatter] = {
    CONVERSION: fmt.format_signed_points,
    AVERAGE_ORDER_VALUE: fmt.format_signed_money,
    REVENUE_PER_UNIT: fmt.format_signed_money,
    ORDERS_PER_UNIT: fmt.format_signed_decimal,
    ACCEPTANCE_VALUE_PER_UNIT: fmt.format_signed_money,
    REFUND_RATE: fmt.format_signed_points,
}
NOMINAL_LEVEL = 0.95
_SAME = 1e-9


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


def metric_label(metric: str) -> str:
    """Managers' name of a metric: "revenue_per_unit" -> "Revenue per visitor"."""
    return GUARDRAIL_LABELS.get(metric) or fmt.status_label(metric)


def find_comparison(result: VariantResult, metric: str) -> Comparison | None:
    """The variant's comparison for `metric`, looked up by key and then by its `metric` field."""
    if metric in result.comparisons:
        return result.comparisons[metric]
    return next((c for c in result.comparisons.values() if c.metric == metric), None)


def find_detail(result: VariantResult, metric: str) -> ComparisonDetail | None:
    """The corrected p-value, interval level and Bayesian figures behind a comparison."""
    return result.details.get(metric)


def classify_significance(comparison: Comparison | None) -> Significance:
    """The badge of a comparison: its direction if significant, else whether data was enough.

    A control at zero (e.g. "no offer", which nobody can accept) leaves the relative uplift
    undefined, but the absolute difference and its test still hold, so they decide.
    """
    if comparison is None:
        return Significance.NOT_ENOUGH_DATA
    if comparison.error is not None and comparison.error is not ResultError.CONTROL_ZERO:
        return Significance.NOT_ENOUGH_DATA
    direction = comparison.absolute_uplift
    if direction is None:
        direction = comparison.relative_uplift
    if direction is None or comparison.p_value is None:
        return Significance.NOT_ENOUGH_DATA
    if comparison.significant and direction != 0.0:
        return Significance.BETTER if direction > 0.0 else Significance.WORSE
    return Significance.NOT_SIGNIFICANT


def level_note(detail: ComparisonDetail | None, nominal: float = NOMINAL_LEVEL) -> str:
    """ "97.5% CI" when the interval is not at the nominal level the page states, else ""."""
    if detail is None or not math.isfinite(detail.interval_level):
        return ""
    if abs(detail.interval_level - nominal) < _SAME:
        return ""
    return f"{fmt.format_level(detail.interval_level)} CI"


def format_comparison_uplift(
    comparison: Comparison | None,
    metric: str,
    detail: ComparisonDetail | None = None,
    *,
    nominal: float = NOMINAL_LEVEL,
) -> str:
    """Relative uplift with its CI; the absolute difference when the relative one is undefined
    or its interval would contradict the significance verdict.

    The test is on the absolute difference; the relative interval (delta method) also carries
    the control's uncertainty and can cross 0 while the difference is significant (or the other
    way round). Then the absolute interval is shown, so the page never contradicts itself.
    Conversion differences read in percentage points ("+4.4 pp"), money ones in money ("+1.20").
    An interval at another level than `nominal` carries it: "+5.0% [+1.2%, +9.8%] 97.5% CI".
    """
    if comparison is None:
        return fmt.NO_VALUE
    if comparison.relative_uplift is not None and _relative_interval_agrees(comparison):
        estimate = fmt.format_signed_percent(comparison.relative_uplift)
        interval = fmt.format_interval(comparison.relative_ci, fmt.format_signed_percent)
    else:
        formatter = DIFFERENCE_FORMATTERS.get(metric, fmt.format_signed_money)
        estimate = formatter(comparison.absolute_uplift)
        interval = fmt.format_interval(comparison.absolute_ci, formatter)
    if estimate == fmt.NO_VALUE:
        return fmt.NO_VALUE
    if interval == fmt.NO_VALUE:
        return estimate
    note = level_note(detail, nominal)
    return f"{estimate} {interval} {note}" if note else f"{estimate} {interval}"


def _relative_interval_agrees(comparison: Comparison) -> bool:
    """False when only the absolute interval matches the verdict (then that one is shown)."""
    if comparison.relative_ci is None or comparison.absolute_ci is None:
        return True
    relative = _excludes_zero(comparison.relative_ci) == comparison.significant
    absolute = _excludes_zero(comparison.absolute_ci) == comparison.significant
    return relative or not absolute


def _excludes_zero(interval: Interval) -> bool:
    return interval.low > 0.0 or interval.high < 0.0


def format_comparison_p(comparison: Comparison | None, detail: ComparisonDetail | None) -> str:
    """The p-value, and the adjusted one when the correction changed it: "p = 0.004, adjusted
    p = 0.012"."""
    if comparison is None:
        return fmt.NO_VALUE
    raw = fmt.format_p_value(comparison.p_value)
    adjusted = None if detail is None else detail.adjusted_p_value
    if adjusted is None or comparison.p_value is None or raw == fmt.NO_VALUE:
        return raw
    adjusted_text = fmt.format_p_value(adjusted)
    if abs(adjusted - comparison.p_value) < _SAME or adjusted_text in (raw, fmt.NO_VALUE):
        return raw
    return f"{raw}, adjusted {adjusted_text}"


def primary_metric(report: ExperimentReport) -> str:
    """The metric the experiment is judged on, by the service's one rule for its objective."""
    return reports.primary_metric(str(report.experiment.objective))


def nominal_level(report: ExperimentReport) -> float:
    """The confidence level the page's headings state: 1 - alpha."""
    alpha = report.settings.alpha if report.settings else report.experiment.alpha
    return 1.0 - alpha


def ordered_variants(report: ExperimentReport) -> tuple[VariantResult, ...]:
    """The report's variants with the control first, others in report order."""
    controls = tuple(v for v in report.variants if v.is_control)
    return controls + tuple(v for v in report.variants if not v.is_control)


def is_bandit(report: ExperimentReport) -> bool:
    """Whether the experiment re-weights its traffic over time."""
    return report.experiment.allocation != AllocationKind.FIXED


def variant_names(report: ExperimentReport) -> dict[str, str]:
    """Display name per variant key, from the experiment and the results."""
    names = {v.key: v.name or v.key for v in report.experiment.variants}
    names.update({r.variant: r.name or r.variant for r in report.variants})
    return names


def metric_value(result: VariantResult, metric: str) -> float | None:
    """A variant's own figure for `metric` (None when unknown or not computable)."""
    values = {
        CONVERSION: result.conversion_rate,
        AVERAGE_ORDER_VALUE: result.average_order_value,
        REVENUE_PER_UNIT: result.revenue_per_unit,
        ORDERS_PER_UNIT: result.orders_per_unit,
        ACCEPTANCE_VALUE_PER_UNIT: result.acceptance_value_per_unit,
        REFUND_RATE: result.refund_rate,
    }
    return values.get(metric)


def format_metric_value(value: float | None, metric: str) -> str:
    """A figure in its metric's format: percent, money or a per-visitor count."""
    return METRIC_FORMATTERS.get(metric, fmt.format_money)(value)
