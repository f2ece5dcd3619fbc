"""Domain objects shared by every layer: experiments, variants and their settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

KNOWN_PLACEMENTS: tuple[str, ...] = ("product_page", "cart", "checkout", "post_purchase", "email")
BASIS_POINTS = 10_000


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class OfferKind(StrEnum):
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"


class AllocationKind(StrEnum):
    FIXED = "fixed"
    THOMPSON = "thompson"


class Objective(StrEnum):
    CONVERSION = "conversion"
    REVENUE = "revenue"


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: the offer shown and its configured traffic weight (0..1)."""

    key: str
    name: str
    weight: float
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BanditSettings:
    """How a bandit experiment re-weights its variants."""

    update_interval_seconds: int = 3600
    min_share: float = 0.05


class Correction(StrEnum):
    HOLM = "holm"
    BH = "bh"
    NONE = "none"


GUARDRAIL_METRICS: tuple[str, ...] = (
    "average_order_value",
    "revenue_per_unit",
    "conversion",
    "orders_per_unit",
    "acceptance_value_per_unit",
    "refund_rate",
)


HIGHER_IS_WORSE: frozenset[str] = frozenset({"refund_rate"})


def default_worse_when(metric: str) -> str:
    """The direction in which a guardrail metric gets worse: refunds up, everything else down."""
    return "higher" if metric in HIGHER_IS_WORSE else "lower"


@dataclass(frozen=True)
class GuardrailSetting:
    """A metric that must not get significantly worse than the control's."""

    metric: str
    worse_when: str = "lower"


@dataclass(frozen=True)
class PowerPlan:
    """The test the experiment is planned for; the dashboard shows progress toward its units."""

    minimum_detectable_effect: float
    baseline: float | None = None
    power: float = 0.8
    daily_units: int | None = None


@dataclass(frozen=True)
class AnalysisSettings:
    """How results are computed: corrections, sequential mode, capping, CUPED, guardrails."""

    correction: Correction = Correction.HOLM
    sequential: bool = False
    planned_units: int | None = None
    winsorize_percentile: float | None = None
    order_value_cap: float | None = None
    covariate: str | None = None
    segments: tuple[str, ...] = ()
    guardrails: tuple[GuardrailSetting, ...] = ()
    auto_pause_on_guardrail: bool = False
    power: PowerPlan | None = None


@dataclass(frozen=True)
class Experiment:
    """An experiment as analysts define it (YAML) and the service stores it."""

    key: str
    name: str
    placement: str
    offer_kind: OfferKind
    variants: tuple[Variant, ...]
    control: str
    description: str = ""
    status: ExperimentStatus = ExperimentStatus.DRAFT
    unit: str = "visitor"
    traffic: float = 1.0
    allocation: AllocationKind = AllocationKind.FIXED
    objective: Objective = Objective.CONVERSION
    attribution_window_hours: int = 168
    alpha: float = 0.05
    salt: str = ""
    bandit: BanditSettings = field(default_factory=BanditSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)

    @property
    def effective_salt(self) -> str:
        """The hashing salt: stored per experiment, defaulting to its key."""
        return self.salt or self.key

    def variant(self, key: str) -> Variant:
        for variant in self.variants:
            if variant.key == key:
                return variant
        raise KeyError(key)
