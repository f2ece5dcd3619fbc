"""What the analysis engine returns, and its stable JSON form (fields: docs/analysis.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offerlab.domain.plain import plain
from offerlab.domain.reports import Comparison, Interval, ResultError
from offerlab.domain.stats.guardrails import GuardrailResult
from offerlab.domain.stats.srm_epochs import EpochSampleRatio


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
    acceptance_value_per_unit: float | None = None
    refund_rate: float | None = None


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
    """Chi-square test of units per variant against the expected shares, overall or per epoch.

    Per epoch, `statistic` is None and `p_value` the smallest Bonferroni-adjusted epoch p-value.
    """

    statistic: float | None
    p_value: float | None
    unhealthy: bool
    threshold: float
    error: ResultError | None = None
    method: str = "overall"
    epochs: tuple[EpochSampleRatio, ...] = ()


@dataclass(frozen=True)
class VarianceReduction:
    """How CUPED changed revenue per unit; `interval_narrowing` is averaged over the variants."""

    metric: str
    covariate_used: bool
    theta: float | None
    variance_ratio: float | None
    interval_narrowing: float | None
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
    metrics: tuple[str, ...] = ()
    variance_reduction: VarianceReduction | None = None
    guardrails: tuple[GuardrailResult, ...] = ()

    @property
    def guardrail_violated(self) -> bool:
        """True when any variant is significantly worse on any guardrail."""
        return any(result.violated for result in self.guardrails)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: snake_case keys, None for anything missing, never NaN."""
        data: dict[str, Any] = plain(self)
        data["comparisons"] = [_comparison_dict(item) for item in self.comparisons]
        data["guardrail_violated"] = self.guardrail_violated
        return data


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
    return {key: data[key] for key in COMPARISON_KEYS}


COMPARISON_KEYS = (
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
