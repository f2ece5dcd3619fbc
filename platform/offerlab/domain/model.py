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
    EPSILON_GREEDY = "epsilon_greedy"
    UCB1 = "ucb1"

    @property
    def is_bandit(self) -> bool:
        """True for every kind whose weights a policy changes over time."""
        return self is not AllocationKind.FIXED


class Objective(StrEnum):
    """What the bandit maximises and the headline result measures.

    ``revenue`` is the original name of order revenue per visitor; bandits read it as
    ``order_value``.
    """

    CONVERSION = "conversion"
    REVENUE = "revenue"
    OFFER_REVENUE = "offer_revenue"
    ORDER_VALUE = "order_value"
    MARGIN = "margin"

    @property
    def reward(self) -> str:
        """The bandit reward this objective selects (a ``RewardObjective`` value)."""
        return Objective.ORDER_VALUE.value if self is Objective.REVENUE else self.value


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: the offer shown and its configured traffic weight (0..1)."""

    key: str
    name: str
    weight: float
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BanditSettings:
    """How a bandit experiment re-weights its variants (see ``domain.bandits.lifecycle``).

    ``holdout_share`` is the control's fixed share (0: no holdout). ``max_weight_change`` caps how
    far one update moves any weight (None: no cap). ``epsilon_decay`` None keeps ``epsilon``
    fixed. A winner needs ``chance_to_be_best_threshold`` and an expected loss (a share of the
    best arm's reward) at most ``expected_loss_threshold``; ``auto_rollout`` then serves it alone.
    ``measurement_share`` of the traffic is split evenly and never learnt from (0: no slice).
    ``segment_attribute`` names the visitor attribute with per-segment weights (None: pooled
    only), each segment shrunk toward the pooled data by ``prior_strength`` pseudo-units.
    """

    update_interval_seconds: int = 3600
    min_share: float = 0.05
    burn_in_units: int = 100
    holdout_share: float = 0.0
    max_weight_change: float | None = None
    epsilon: float = 0.1
    epsilon_decay: float | None = None
    chance_to_be_best_threshold: float = 0.95
    expected_loss_threshold: float = 0.01
    auto_rollout: bool = False
    measurement_share: float = 0.0
    segment_attribute: str | None = None
    prior_strength: float = 100.0


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
