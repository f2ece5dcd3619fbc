"""Periodic bandit updates: per-variant SQL totals -> the allocation life cycle -> a new epoch.

The reward of each variant (its ``ArmStats``) follows the experiment's objective:

- ``conversion``: successes are the units that accepted the offer.
- ``offer_revenue``: successes are the units that accepted; the value of a success is the sum of
  the unit's accepted offer values.
- ``order_value`` (and ``revenue``, its older name): successes are the units with an attributed
  order; the value is the unit's order revenue, net of refunds.
- ``margin``: as ``offer_revenue``, with every value multiplied by the variant offer's ``margin``
  fraction (a variant without an offer, or without a margin, earns 0).

**Learning slice.** The bandit learns only from units outside the measurement slice (exposures
with ``measurement`` false). With a ``measurement_share`` m the SDK serves that slice uniformly
(the snapshot's ``measurement_bp``, decided by a hash of its own), so every epoch's ``weights``
are the life cycle's *learning* weights: what visitors outside the slice are served, and the
``previous_weights`` of the next update. A variant's overall share of traffic is
``(1 - m) w + m / k`` over k variants; each exposure records the chance of its own pick given
the visitor's slice (``w`` outside, ``1 / k`` inside, renormalised over the eligible variants).
Results still count the slice's units.

**Segments.** With a ``segment_attribute``, the units are also grouped by the attribute's value
(as text) of their first exposure and ``contextual.segment_allocations`` gives every segment its
own weights, shrunk toward the pooled data by ``prior_strength`` pseudo-units; burn-in is judged
on the pooled data and floors, holdout and cap hold in every segment (each segment's cap moves
from its own previous weights). The epoch stores them as ``segment_weights`` beside the pooled
``weights``, which serve visitors without the attribute or of another value. Only the
``MAX_SEGMENTS`` largest values get their own weights; the rest learn into the pooled weights.
The ``order_value`` objective is not segmented (its per-segment successes are not aggregated).

A declared winner is recorded once in the audit log: ``rollout`` when ``auto_rollout`` serves it
alone (``rollout_weights``: the control keeps a configured holdout; segment weights are dropped,
the snapshot stops the measurement slice; later updates leave that epoch in force),
``winner_recommended`` otherwise. A winner is judged on the pooled data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
from offerlab.domain.bandits.arms import pooled
from offerlab.domain.bandits.contextual import POOLED_SEGMENT, segment_allocations
from offerlab.domain.model import AllocationKind, Experiment, ExperimentStatus, Objective
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.storage import audit
from offerlab.storage import experiments as store
from offerlab.storage.aggregates import (
    AggregateOptions,
    grouped_totals,
    ordering_units,
    variant_totals,
)
from offerlab.storage.experiments import as_utc
from offerlab.storage.tables import AllocationRow, ExperimentRow

ROLLOUT = "rollout"
WINNER_RECOMMENDED = "winner_recommended"
_RECOMMENDED_REASON = "winner"
ACTOR = "bandit"
MAX_SEGMENTS = 50
# Units without the segment attribute (or of a minor value) learn into the pooled weights only;
# the name cannot collide with a segment value because it is never stored.
_UNSEGMENTED = object()


@dataclass(frozen=True)
class AllocationUpdate:
    """One new allocation epoch: its served weights and the life-cycle phase behind them."""

    experiment: str
    version: int
    weights: dict[str, float]
    phase: str = ""
    winner: str | None = None
    segment_weights: dict[str, dict[str, float]] | None = None


@dataclass(frozen=True)
class _Proposal:
    """The pooled decision, its statistics and the per-segment learning weights (if any)."""

    decision: AllocationDecision
    stats: list[ArmStats]
    segment_weights: dict[str, dict[str, float]] | None


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
        measurement_share=bandit.measurement_share,
        segment_attribute=bandit.segment_attribute,
        prior_strength=bandit.prior_strength,
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
    settings = allocation_settings(experiment)
    proposal = _propose(session, row, experiment, current, settings, rng)
    decision, segments = proposal.decision, proposal.segment_weights
    if decision.winner is not None and settings.auto_rollout:
        weights = rollout_weights(experiment, decision.winner)
        reason, segments = ROLLOUT, None
    else:
        weights = dict(zip(keys, decision.learning_weights, strict=True))
        reason = _RECOMMENDED_REASON if decision.winner is not None else decision.phase
    rolled_out = reason == ROLLOUT
    first_time = decision.winner is not None and not store.has_allocation_reason(
        session, row.id, reason
    )
    epoch = store.add_allocation(
        session, row.id, weights, now=now, reason=reason, segment_weights=segments
    )
    if first_time:
        action = ROLLOUT if rolled_out else WINNER_RECOMMENDED
        details = _evidence(decision, proposal.stats, epoch.version, weights, experiment)
        audit.record(
            session, experiment_id=row.id, at=now, actor=ACTOR, action=action, details=details
        )
    return AllocationUpdate(
        row.key, epoch.version, weights, decision.phase, decision.winner, segments
    )


def _propose(
    session: Session,
    row: ExperimentRow,
    experiment: Experiment,
    current: AllocationRow | None,
    settings: AllocationSettings,
    rng: np.random.Generator,
) -> _Proposal:
    keys = [variant.key for variant in experiment.variants]
    control = keys.index(experiment.control)
    by_segment = _segment_stats(session, row, experiment) if _is_segmented(experiment) else {}
    if not by_segment:
        stats = _stats_of(session, row, experiment)
        previous = _previous_weights(current and current.weights, keys)
        return _Proposal(next_allocation(stats, previous, settings, control, rng), stats, None)
    # The winner and a rollout are decided on the pooled decision, so no segment goes one-hot.
    decisions = segment_allocations(
        by_segment,
        _previous_by_segment(current, keys),
        replace(settings, auto_rollout=False),
        control,
        rng,
    )
    stats = [pooled([seg[i] for seg in by_segment.values()], key) for i, key in enumerate(keys)]
    segments = {
        str(segment): dict(zip(keys, decision.learning_weights, strict=True))
        for segment, decision in decisions.items()
        if isinstance(segment, str) and segment != POOLED_SEGMENT
    }
    return _Proposal(decisions[POOLED_SEGMENT], stats, segments)


def _is_segmented(experiment: Experiment) -> bool:
    reward = Objective(experiment.objective.reward)
    return bool(experiment.bandit.segment_attribute) and reward is not Objective.ORDER_VALUE


def _segment_stats(
    session: Session, row: ExperimentRow, experiment: Experiment
) -> dict[Any, list[ArmStats]]:
    """Learning-slice statistics per segment value; minor values pooled under ``_UNSEGMENTED``."""
    options = AggregateOptions(
        row.attribution_window_hours,
        segment=experiment.bandit.segment_attribute,
        learning_only=True,
    )
    grouped = grouped_totals(session, row.id, options, group="segment")
    totals: dict[Any, dict[str, VariantTotals]] = {}
    for (variant, segment), sums in grouped.items():
        totals.setdefault(segment, {})[variant] = sums
    major = _major_segments(totals)
    merged: dict[Any, dict[str, VariantTotals]] = {}
    for segment, by_variant in totals.items():
        name = segment if segment in major else _UNSEGMENTED
        target = merged.setdefault(name, {})
        for variant, sums in by_variant.items():
            target[variant] = target[variant] + sums if variant in target else sums
    return {name: arm_stats(experiment, sums, {}) for name, sums in merged.items()}


def _major_segments(totals: Mapping[Any, Mapping[str, VariantTotals]]) -> set[str]:
    sizes = {
        segment: sum(sums.units for sums in by_variant.values())
        for segment, by_variant in totals.items()
        if segment is not None and segment != POOLED_SEGMENT
    }
    return set(sorted(sizes, key=lambda segment: (-sizes[segment], segment))[:MAX_SEGMENTS])


def _stats_of(session: Session, row: ExperimentRow, experiment: Experiment) -> list[ArmStats]:
    window = row.attribution_window_hours
    totals = variant_totals(session, row.id, attribution_window_hours=window, learning_only=True)
    ordering: dict[str, int] = {}
    if experiment.objective.reward == Objective.ORDER_VALUE:
        ordering = ordering_units(
            session, row.id, attribution_window_hours=window, learning_only=True
        )
    return arm_stats(experiment, totals, ordering)


def _previous_by_segment(
    current: AllocationRow | None, keys: Sequence[str]
) -> dict[str, list[float]]:
    if current is None:
        return {}
    previous = {
        segment: _previous_weights(weights, keys)
        for segment, weights in (current.segment_weights or {}).items()
    }
    previous[POOLED_SEGMENT] = _previous_weights(current.weights, keys)
    return {segment: weights for segment, weights in previous.items() if weights}


def _previous_weights(weights: Mapping[str, float] | None, keys: Sequence[str]) -> list[float]:
    if not weights or set(weights) != set(keys):
        return []
    return [float(weights[key]) for key in keys]


def rollout_weights(experiment: Experiment, winner: str) -> dict[str, float]:
    """All traffic to `winner`, the control keeping its holdout share unless it won."""
    holdout = experiment.bandit.holdout_share if winner != experiment.control else 0.0
    weights = {variant.key: 0.0 for variant in experiment.variants}
    weights[experiment.control] = holdout
    weights[winner] = 1.0 - holdout
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
