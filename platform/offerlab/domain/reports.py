"""Report objects: what results look like once the statistics have run (no presentation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

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
class VariantResult:
    """One variant's figures, and its comparisons against the control (empty for the control)."""

    variant: str
    name: str
    is_control: bool
    totals: VariantTotals
    conversion_rate: float | None
    conversion_ci: Interval | None
    average_order_value: float | None
    revenue_per_visitor: float | None
    comparisons: Mapping[str, Comparison] = field(default_factory=dict)


@dataclass(frozen=True)
class AllocationEpoch:
    """Weights in force from `started_at` until the next epoch."""

    version: int
    started_at: datetime
    weights: Mapping[str, float]


@dataclass(frozen=True)
class ExperimentReport:
    experiment: Experiment
    variants: tuple[VariantResult, ...]
    allocation_history: tuple[AllocationEpoch, ...]
    generated_at: datetime


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


@dataclass(frozen=True)
class PlacementReport:
    placement: str
    experiments: tuple[ExperimentSummary, ...]
