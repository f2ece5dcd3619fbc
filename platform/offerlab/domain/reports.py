"""Report objects: what results look like once the statistics have run (no presentation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from offerlab.domain.model import Experiment
from offerlab.domain.stats.sufficient import VariantTotals


class ResultError(StrEnum):
    """Why a comparison could not be computed; degeneracy is data, never an exception."""

    NO_UNITS = "no_units"
    NO_ORDERS = "no_orders"
    ZERO_VARIANCE = "zero_variance"
    CONTROL_ZERO = "control_zero"


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """One metric of a variant against the control."""

    metric: str
    control_value: float | None
    variant_value: float | None
    absolute_uplift: float | None = None
    absolute_ci: Interval | None = None
    relative_uplift: float | None = None
    relative_ci: Interval | None = None
    p_value: float | None = None
    significant: bool = False
    error: ResultError | None = None


@dataclass(frozen=True)
class ComparisonDetail:
    """What a comparison's decision rests on: the corrected p-value, the interval level shown,
    and the Bayesian chance to beat the control with the expected losses."""

    adjusted_p_value: float | None
    interval_level: float
    chance_to_beat_control: float | None = None
    expected_loss: float | None = None
    expected_loss_of_control: float | None = None


@dataclass(frozen=True)
class VariantResult:
    """One variant's figures, and its comparisons against the control (empty for the control)."""

    variant: str
    name: str
    is_control: bool
    totals: VariantTotals
    conversion_rate: float | None
    conversion_ci: Interval | None
    average_order_value: float | None
    revenue_per_unit: float | None
    comparisons: Mapping[str, Comparison] = field(default_factory=dict)
    orders_per_unit: float | None = None
    acceptance_value_per_unit: float | None = None
    refund_rate: float | None = None
    chance_to_be_best: float | None = None
    details: Mapping[str, ComparisonDetail] = field(default_factory=dict)


@dataclass(frozen=True)
class AllocationEpoch:
    """Weights in force from `started_at` until the next epoch."""

    version: int
    started_at: datetime
    weights: Mapping[str, float]
    # Contextual bandits: {segment value: {variant: weight}}; `weights` serve every other visitor.
    segment_weights: Mapping[str, Mapping[str, float]] | None = None


@dataclass(frozen=True)
class EpochRatio:
    """The sample-ratio check of one allocation epoch (bandits)."""

    version: int
    units: int
    p_value: float | None
    unhealthy: bool


@dataclass(frozen=True)
class SampleRatioStatus:
    """Exposed units against the configured split; unhealthy when p < threshold."""

    method: str
    p_value: float | None
    unhealthy: bool
    threshold: float
    epochs: tuple[EpochRatio, ...] = ()


@dataclass(frozen=True)
class CappingSummary:
    """How order values were winsorised and refunds netted before the analysis."""

    cap: float | None
    percentile: float | None
    orders_capped: int
    refunds: int
    refund_value: float


@dataclass(frozen=True)
class GuardrailStatus:
    """One guardrail metric of one variant: `violated` when significantly worse than control."""

    metric: str
    variant: str
    worse_when: str
    violated: bool
    relative_change: float | None
    relative_ci: Interval | None
    p_value: float | None
    error: str | None = None


@dataclass(frozen=True)
class VarianceReduction:
    """CUPED on a pre-period covariate: whether it was used and how much it narrowed intervals."""

    metric: str
    covariate: str
    used: bool
    interval_narrowing: float | None
    units_with_covariate: int = 0


@dataclass(frozen=True)
class PowerProgress:
    """Units collected so far against the units the planned test needs (per variant)."""

    metric: str
    baseline: float
    minimum_detectable_effect: float
    power: float
    units_needed_per_variant: int
    units_per_variant: int
    progress: float
    days_remaining: float | None


@dataclass(frozen=True)
class DailyResult:
    """New units per variant on one day, and the primary metric's comparisons on cumulative data."""

    day: date
    new_units: Mapping[str, int]
    cumulative_units: Mapping[str, int]
    comparisons: tuple[Comparison, ...] = ()


@dataclass(frozen=True)
class SegmentResult:
    """The experiment's results restricted to the units with one value of a segment attribute."""

    attribute: str
    value: str
    units: int
    variants: tuple[VariantResult, ...]


@dataclass(frozen=True)
class AuditEntry:
    """A decision the service took on its own (or an operator took), with its evidence."""

    at: datetime
    action: str
    actor: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysisSettingsUsed:
    """The inference settings the figures were computed with."""

    alpha: float
    correction: str
    sequential: bool
    interval_rule: str
    significance_rule: str
    comparisons_tested: int


@dataclass(frozen=True)
class EstimateInterval:
    """A mean or a difference of means with its standard error and confidence interval."""

    estimate: float
    standard_error: float
    ci: Interval


@dataclass(frozen=True)
class BanditArm:
    """One variant's reward per unit by the estimators that survive changing allocation.

    `pooled` is every epoch pooled: biased when the allocation and the outcome both change.
    """

    variant: str
    units: int
    epoch_weighted: EstimateInterval | None
    ipw: EstimateInterval | None
    pooled: float | None


@dataclass(frozen=True)
class BanditUplift:
    """A variant's reward per unit minus the control's; `p_value` and `significant` follow
    the headline estimator (normal approximation, two-sided, at the report's alpha)."""

    variant: str
    control: str
    epoch_weighted: EstimateInterval | None
    ipw: EstimateInterval | None
    pooled: float | None
    p_value: float | None
    significant: bool


@dataclass(frozen=True)
class MeasurementGain:
    """The bandit's gain measured against its uniform measurement slice (never learnt from).

    `gain` compares reward per unit in the learning slice (variant side) with the measurement
    slice (control side) by Welch's t; `best_vs_control` compares the bandit's best variant with
    the control inside the measurement slice, where the split is uniform and fixed.
    """

    learning_units: int
    measurement_units: int
    gain: Comparison
    best_variant: str | None = None
    best_vs_control: Comparison | None = None


@dataclass(frozen=True)
class BanditResults:
    """Results of a bandit experiment on its objective's reward per unit.

    `headline` names the estimator of the headline uplift ("ipw" or "epoch_weighted").
    Exposures without a recorded propensity use their epoch's served weight
    (`units_with_served_weight`); those with neither are left out (`units_left_out`).
    """

    reward: str
    headline: str
    interval_level: float
    arms: tuple[BanditArm, ...]
    best_variant: str | None
    uplift: BanditUplift | None
    epochs_used: tuple[int, ...] = ()
    units_with_served_weight: int = 0
    units_left_out: int = 0
    measurement: MeasurementGain | None = None

    @property
    def headline_uplift(self) -> EstimateInterval | None:
        """The uplift's estimate by the headline estimator (None: not computable)."""
        if self.uplift is None:
            return None
        return self.uplift.ipw if self.headline == "ipw" else self.uplift.epoch_weighted


@dataclass(frozen=True)
class ExperimentReport:
    experiment: Experiment
    variants: tuple[VariantResult, ...]
    allocation_history: tuple[AllocationEpoch, ...]
    generated_at: datetime
    settings: AnalysisSettingsUsed | None = None
    sample_ratio: SampleRatioStatus | None = None
    capping: CappingSummary | None = None
    guardrails: tuple[GuardrailStatus, ...] = ()
    variance_reduction: VarianceReduction | None = None
    power: PowerProgress | None = None
    daily: tuple[DailyResult, ...] = ()
    segments: tuple[SegmentResult, ...] = ()
    audit_log: tuple[AuditEntry, ...] = ()
    bandit: BanditResults | None = None

    @property
    def guardrail_violated(self) -> bool:
        return any(status.violated for status in self.guardrails)

    @property
    def unhealthy(self) -> bool:
        return bool(self.sample_ratio and self.sample_ratio.unhealthy)


@dataclass(frozen=True)
class ExperimentSummary:
    """One experiment's line in a placement report.

    `revenue` is the order revenue attributed to exposed visitors; `offer_revenue` the value of
    accepted offers. The leading variant is the best by the experiment's primary metric
    (conversion, or revenue per visitor for the revenue objective).
    """

    key: str
    name: str
    offer_kind: str
    status: str
    units: int
    acceptances: int
    conversion_rate: float | None
    revenue: float
    leading_variant: str | None
    significant: bool
    offer_revenue: float = 0.0
    leading_variant_name: str | None = None
    primary_metric: str = "conversion"
    unhealthy: bool = False
    guardrail_violated: bool = False


@dataclass(frozen=True)
class PlacementReport:
    placement: str
    experiments: tuple[ExperimentSummary, ...]


PRIMARY_METRICS: Mapping[str, str] = {
    "conversion": "conversion",
    "revenue": "revenue_per_unit",
    "order_value": "revenue_per_unit",
    "offer_revenue": "acceptance_value_per_unit",
    "margin": "acceptance_value_per_unit",
}


def primary_metric(objective: str) -> str:
    """The metric that decides an experiment with this objective (its headline result)."""
    return PRIMARY_METRICS.get(str(objective), "conversion")
