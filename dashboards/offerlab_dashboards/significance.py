"""Pure reading of comparisons: which metric, which badge, and how to write the uplift."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

from offerlab.domain.model import AllocationKind, Objective
from offerlab.domain.reports import Comparison, ExperimentReport, ResultError, VariantResult
from offerlab_dashboards import formatting as fmt

CONVERSION = "conversion"
AVERAGE_ORDER_VALUE = "average_order_value"
REVENUE_PER_VISITOR = "revenue_per_visitor"

METRIC_LABELS: Mapping[str, str] = {
    CONVERSION: "Conversion",
    AVERAGE_ORDER_VALUE: "Average order value",
    REVENUE_PER_VISITOR: "Revenue per visitor",
}
METRIC_FORMATTERS: Mapping[str, Callable[[float | None], str]] = {
    CONVERSION: fmt.format_percent,
    AVERAGE_ORDER_VALUE: fmt.format_money,
    REVENUE_PER_VISITOR: fmt.format_money,
}
_DIFFERENCE_FORMATTERS: Mapping[str, Callable[[float | None], str]] = {
    CONVERSION: fmt.format_signed_points,
    AVERAGE_ORDER_VALUE: fmt.format_signed_money,
    REVENUE_PER_VISITOR: fmt.format_signed_money,
}
_PRIMARY_METRIC = {Objective.CONVERSION: CONVERSION, Objective.REVENUE: REVENUE_PER_VISITOR}


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


def find_comparison(result: VariantResult, metric: str) -> Comparison | None:
    """The variant's comparison for `metric`, looked up by key and then by its `metric` field."""
    if metric in result.comparisons:
        return result.comparisons[metric]
    return next((c for c in result.comparisons.values() if c.metric == metric), None)


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


def format_comparison_uplift(comparison: Comparison | None, metric: str) -> str:
    """Relative uplift with its CI; the absolute difference when the relative one is undefined.

    Conversion differences read in percentage points ("+4.4 pp"), money ones in money ("+1.20").
    """
    if comparison is None:
        return fmt.NO_VALUE
    if comparison.relative_uplift is not None:
        return fmt.format_uplift(comparison.relative_uplift, comparison.relative_ci)
    formatter = _DIFFERENCE_FORMATTERS.get(metric, fmt.format_signed_money)
    estimate = formatter(comparison.absolute_uplift)
    if estimate == fmt.NO_VALUE:
        return fmt.NO_VALUE
    interval = fmt.format_interval(comparison.absolute_ci, formatter)
    return estimate if interval == fmt.NO_VALUE else f"{estimate} {interval}"


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
