"""Periodic bandit updates: per-variant SQL totals -> the allocation life cycle -> a new epoch.

The reward of each variant (its ``ArmStats``) follows the experiment's objective:

- ``conversion``: successes are the units that accepted the offer.
- ``offer_revenue``: successes are the units that accepted; the value of a success is the sum of
  the unit's accepted offer values.
- ``order_value`` (and ``revenue``, its older name): successes are the units with an attributed
  order; the value is the unit's order revenue, net of refunds.
- ``margin``: as ``offer_revenue``, with every value multiplied by the variant offer's ``margin``
  fraction (a variant without an offer, or without a margin, earns 0).

Every epoch's ``weights`` are the served weights (what the SDK hashes against). No measurement
slice is used, so they equal the life cycle's learning weights and the previous epoch's weights
are the ``previous_weights`` of the next update. A declared winner is recorded once in the audit
log: ``rollout`` when ``auto_rollout`` serves it alone (the control keeps a configured holdout;
later updates leave that epoch in force), ``winner_recommended`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from offerlab.domain.bandits import (
    AllocationDecision,
    AllocationSettings,
    ArmStats,
    next_allocation,
)
from offerlab.domain.model import AllocationKind, Experiment, ExperimentStatus, Objective
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.storage import audit
from offerlab.storage import experiments as store
from offerlab.storage.aggregates import ordering_units, variant_totals
from offerlab.storage.experiments import as_utc
from offerlab.storage.tables import AllocationRow, ExperimentRow

ROLLOUT = "rollout"
WINNER_RECOMMENDED = "winner_recommended"
_RECOMMENDED_REASON = "winner"
ACTOR = "bandit"


@dataclass(frozen=True)
class AllocationUpdate:
    """One new allocation epoch: its served weights and the life-cycle phase behind them."""

    experiment: str
    version: int
    weights: dict[str, float]
    phase: str = ""
    winner: str | None = None


def update_allocations(
    session: Session, *, now: datetime, rng: np.random.Generator, force: bool = False
) -> list[AllocationUpdate]:
    """Start a new epoch for every running bandit whose update interval has passed."""
    updates = []
    for row in store.list_experiment_rows(session):
        current = store.current_allocation(session, row.id)
        if _is_due(row, current, now=now, force=force):
            updates.append(_update(session, row, current, now=now, rng=rng))
    return updates


def allocation_settings(experiment: Experiment) -> AllocationSettings:
    """The life-cycle settings of a bandit experiment (its policy, reward and bandit block)."""
    bandit = experiment.bandit
    return AllocationSettings(
        policy=experiment.allocation.value,
        objective=experiment.objective.reward,
        burn_in_units=bandit.burn_in_units,
        min_share=bandit.min_share,
        holdout_share=bandit.holdout_share,
        max_weight_change=bandit.max_weight_change,
        epsilon=bandit.epsilon,
        epsilon_decay=bandit.epsilon_decay,
        chance_to_be_best_threshold=bandit.chance_to_be_best_threshold,
        expected_loss_threshold=bandit.expected_loss_threshold,
        auto_rollout=bandit.auto_rollout,
    )


def arm_stats(
    experiment: Experiment, totals: Mapping[str, VariantTotals], ordering: Mapping[str, int]
) -> list[ArmStats]:
    """Per-variant statistics of the experiment's reward, in variant order (see module doc)."""
    reward = Objective(experiment.objective.reward)
    stats = []
    for variant in experiment.variants:
        sums = totals.get(variant.key) or VariantTotals.empty(variant.key)
        if reward is Objective.CONVERSION:
            stats.append(ArmStats(variant.key, sums.units, sums.converted_units))
        elif reward is Objective.ORDER_VALUE:
            stats.append(_order_value_stats(sums, ordering.get(variant.key, 0)))
        else:
            scale = _margin(variant.payload) if reward is Objective.MARGIN else 1.0
            stats.append(_offer_value_stats(sums, scale))
    return stats


def _is_due(
    row: ExperimentRow, current: AllocationRow | None, *, now: datetime, force: bool
) -> bool:
    if not AllocationKind(row.allocation).is_bandit or row.status != ExperimentStatus.RUNNING:
        return False
    if current is not None and current.reason == ROLLOUT:
        return False
    if force or current is None:
        return True
    interval = timedelta(seconds=row.bandit_update_interval_seconds)
    return now - as_utc(current.started_at) >= interval


def _update(
    session: Session,
    row: ExperimentRow,
    current: AllocationRow | None,
    *,
    now: datetime,
    rng: np.random.Generator,
) -> AllocationUpdate:
    experiment = store.to_domain(row)
    keys = [variant.key for variant in experiment.variants]
    stats = _stats_of(session, row, experiment)
    settings = allocation_settings(experiment)
    decision = next_allocation(
        stats, _previous_weights(current, keys), settings, keys.index(experiment.control), rng
    )
    rolled_out = decision.winner is not None and settings.auto_rollout
    if rolled_out:
        weights = _rollout_weights(keys, decision.winner, experiment.control, settings)
        reason = ROLLOUT
    else:
        weights = dict(zip(keys, decision.weights, strict=True))
        reason = _RECOMMENDED_REASON if decision.winner is not None else decision.phase
    first_time = decision.winner is not None and not store.has_allocation_reason(
        session, row.id, reason
    )
    epoch = store.add_allocation(session, row.id, weights, now=now, reason=reason)
    if first_time:
        action = ROLLOUT if rolled_out else WINNER_RECOMMENDED
        details = _evidence(decision, stats, epoch.version, weights, experiment)
        audit.record(
            session, experiment_id=row.id, at=now, actor=ACTOR, action=action, details=details
        )
    return AllocationUpdate(row.key, epoch.version, weights, decision.phase, decision.winner)


def _stats_of(session: Session, row: ExperimentRow, experiment: Experiment) -> list[ArmStats]:
    window = row.attribution_window_hours
    totals = variant_totals(session, row.id, attribution_window_hours=window)
    ordering: dict[str, int] = {}
    if experiment.objective.reward == Objective.ORDER_VALUE:
        ordering = ordering_units(session, row.id, attribution_window_hours=window)
    return arm_stats(experiment, totals, ordering)


def _previous_weights(current: AllocationRow | None, keys: Sequence[str]) -> list[float]:
    if current is None or set(current.weights) != set(keys):
        return []
    return [float(current.weights[key]) for key in keys]


def _rollout_weights(
    keys: Sequence[str], winner: str | None, control: str, settings: AllocationSettings
) -> dict[str, float]:
    holdout = settings.holdout_share if winner != control else 0.0
    weights = {key: 0.0 for key in keys}
    weights[control] = holdout
    weights[str(winner)] = 1.0 - holdout
    return weights


def _order_value_stats(sums: VariantTotals, ordering: int) -> ArmStats:
    # Only units with an order carry revenue, so the per-unit sums are sums over successes.
    return ArmStats(sums.variant, sums.units, ordering, sums.order_value_sum, sums.revenue_sum_sq)


def _offer_value_stats(sums: VariantTotals, scale: float) -> ArmStats:
    return ArmStats(
        sums.variant,
        sums.units,
        sums.converted_units,
        scale * sums.acceptance_value_sum,
        scale * scale * sums.acceptance_value_sum_sq,
    )


def _margin(payload: Mapping[str, Any]) -> float:
    margin = payload.get("margin")
    if isinstance(margin, bool) or not isinstance(margin, int | float):
        return 0.0
    return float(margin)


def _evidence(
    decision: AllocationDecision,
    stats: Sequence[ArmStats],
    version: int,
    weights: Mapping[str, float],
    experiment: Experiment,
) -> dict[str, Any]:
    arms = [s.arm for s in stats]
    return {
        "winner": decision.winner,
        "objective": experiment.objective.value,
        "allocation_version": version,
        "chance_to_be_best": dict(zip(arms, decision.probability_best, strict=True)),
        "expected_loss": dict(zip(arms, decision.expected_loss, strict=True)),
        "units": {s.arm: s.units for s in stats},
        "weights": dict(weights),
        "reasons": list(decision.reasons),
    }
