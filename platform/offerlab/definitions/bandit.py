"""The `bandit` block of an experiment YAML: its model and the rules that relate its fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from offerlab.definitions.fields import (
    WEIGHT_TOLERANCE,
    AttributeName,
    Issue,
    Number,
    number_or_none,
)
from offerlab.domain.model import AllocationKind, BanditSettings, Objective

# Per-segment successes of order_value (units with an order) are not aggregated per segment yet.
_UNSEGMENTED_OBJECTIVES = (Objective.ORDER_VALUE.value, Objective.REVENUE.value)


class BanditDefinition(BaseModel):
    """How a bandit experiment (thompson, epsilon_greedy, ucb1) re-weights its variants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    update_interval_seconds: StrictInt = Field(
        3600, ge=10, description="Seconds between two re-weightings."
    )
    min_share: Number = Field(
        0.05,
        ge=0,
        lt=1,
        description="Every variant keeps at least this share; min_share x variants <= 1.",
    )
    burn_in_units: StrictInt = Field(
        100, ge=0, description="The split stays even until every variant has this many visitors."
    )
    holdout_share: Number = Field(
        0.0,
        ge=0,
        lt=1,
        description="Fixed share of traffic the control always keeps (0: no holdout); "
        "0 or at least min_share.",
    )
    max_weight_change: Number | None = Field(
        None, gt=0, le=1, description="Largest move of any weight in one update (none: no cap)."
    )
    epsilon: Number = Field(
        0.1, ge=0, le=1, description="epsilon_greedy: share of traffic explored evenly."
    )
    epsilon_decay: Number | None = Field(
        None,
        gt=0,
        description="epsilon_greedy: c makes exploration min(1, c x variants / visitors); "
        "none keeps epsilon fixed.",
    )
    chance_to_be_best_threshold: Number = Field(
        0.95, gt=0, le=1, description="A winner's chance to be best must reach this."
    )
    expected_loss_threshold: Number = Field(
        0.01,
        ge=0,
        description="A winner's expected loss, as a share of its reward, must not exceed this.",
    )
    auto_rollout: StrictBool = Field(
        False,
        description="true: a declared winner gets all traffic (the holdout stays) and the "
        "rollout is audit-logged; false: the dashboard recommends it.",
    )
    measurement_share: Number = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of traffic split evenly over all variants and never learnt from, "
        "to measure the bandit's gain without bias (0: no measurement slice).",
    )
    segment_attribute: AttributeName | None = Field(
        None,
        description="Visitor attribute (e.g. device) whose values get their own weights, "
        "shrunk toward the pooled data; visitors without it get the pooled weights.",
    )
    prior_strength: Number = Field(
        100.0,
        ge=0,
        description="With segment_attribute: how many visitors' worth of pooled data each "
        "segment starts from (more: small segments follow the pooled weights longer).",
    )


def bandit_to_domain(bandit: BanditDefinition | None) -> BanditSettings:
    """The domain settings of a bandit block (the defaults when the block is absent)."""
    if bandit is None:
        return BanditSettings()
    return BanditSettings(**bandit.model_dump())


def bandit_issues(data: Mapping[str, Any], variant_count: int) -> Iterator[Issue]:
    """Problems of the bandit block that relate it to the allocation, objective and variants."""
    bandit = data.get("bandit")
    if bandit is None:
        return
    allocation = data.get("allocation", AllocationKind.FIXED.value)
    if allocation == AllocationKind.FIXED.value:
        yield ("bandit",), "only allowed with a bandit allocation (thompson, epsilon_greedy, ucb1)"
    if not isinstance(bandit, Mapping):
        return
    yield from _share_issues(bandit, variant_count)
    objective = data.get("objective")
    if bandit.get("segment_attribute") is not None and objective in _UNSEGMENTED_OBJECTIVES:
        message = (
            f"per-segment weights are not available with objective {objective}; "
            "use conversion, offer_revenue or margin"
        )
        yield ("bandit", "segment_attribute"), message


def _share_issues(bandit: Mapping[str, Any], variant_count: int) -> Iterator[Issue]:
    min_share = number_or_none(bandit.get("min_share", 0.05))
    holdout = number_or_none(bandit.get("holdout_share", 0.0))
    if min_share is not None and min_share * variant_count > 1 + WEIGHT_TOLERANCE:
        message = f"{min_share:g} for each of {variant_count} variants exceeds 1"
        yield ("bandit", "min_share"), message
    if min_share is None or holdout is None or holdout <= 0:
        return
    if holdout < min_share:
        yield ("bandit", "holdout_share"), f"must be 0 or at least min_share ({min_share:g})"
    elif min_share * (variant_count - 1) > 1 - holdout + WEIGHT_TOLERANCE:
        message = f"leaves {1 - holdout:g}, less than min_share for the other variants"
        yield ("bandit", "holdout_share"), message
