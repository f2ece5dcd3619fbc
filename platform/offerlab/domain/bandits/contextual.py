"""Per-segment allocation for one declared segment attribute, shrunk towards the pooled data.

Each segment's arm statistics are augmented with the pooled statistics of the same arm (every
segment summed), scaled down to at most ``prior_strength`` pseudo-units: an empirical-Bayes
prior whose rates and values are the pooled ones. A small segment is then allocated mostly by
the pooled evidence and a large one mostly by its own; the prior weighs as much as
``prior_strength`` units of the segment's own data. Burn-in is judged on the pooled data, so a
rare segment is not held at the fixed split after the experiment as a whole has learned.
Unknown segments (and visitors without the attribute) get the pooled allocation, under
``POOLED_SEGMENT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from offerlab.domain.bandits.arms import ArmArrays, ArmStats, pooled
from offerlab.domain.bandits.lifecycle import BURN_IN, AllocationDecision, next_allocation
from offerlab.domain.bandits.settings import AllocationSettings

POOLED_SEGMENT = "*"


def shrunk_arrays(
    segment: ArmArrays, pooled_arms: ArmArrays, *, prior_strength: float
) -> ArmArrays:
    """``segment`` plus the pooled statistics scaled to ``min(units, prior_strength)`` per arm."""
    scale = np.divide(
        np.minimum(pooled_arms.units, prior_strength),
        pooled_arms.units,
        out=np.zeros(pooled_arms.size),
        where=pooled_arms.units > 0,
    )
    return segment.plus(pooled_arms, scale=scale)


def segment_allocations(
    stats_by_segment: Mapping[str, Sequence[ArmStats]],
    previous_by_segment: Mapping[str, Sequence[float]],
    settings: AllocationSettings,
    control_index: int,
    rng: np.random.Generator,
) -> dict[str, AllocationDecision]:
    """One decision per segment plus the pooled one under ``POOLED_SEGMENT``."""
    arms = _arm_names(stats_by_segment)
    pooled_stats = [
        pooled([seg[i] for seg in stats_by_segment.values()], arm) for i, arm in enumerate(arms)
    ]
    pooled_decision = next_allocation(
        pooled_stats, previous_by_segment.get(POOLED_SEGMENT, ()), settings, control_index, rng
    )
    decisions = {POOLED_SEGMENT: pooled_decision}
    pooled_arrays = ArmArrays.of(pooled_stats)
    after_burn_in = replace(settings, burn_in_units=0)
    for segment, stats in stats_by_segment.items():
        previous = previous_by_segment.get(segment, ())
        if pooled_decision.phase == BURN_IN:
            decisions[segment] = next_allocation(stats, previous, settings, control_index, rng)
            continue
        arrays = shrunk_arrays(
            ArmArrays.of(stats), pooled_arrays, prior_strength=settings.prior_strength
        )
        decisions[segment] = next_allocation(
            arrays, previous, after_burn_in, control_index, rng, arms=arms
        )
    return decisions


def segment_weights(
    stats_by_segment: Mapping[str, Sequence[ArmStats]],
    *,
    settings: AllocationSettings,
    control_index: int = 0,
    rng: np.random.Generator,
    previous_by_segment: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, tuple[float, ...]]:
    """Weights per segment, plus the pooled weights for unknown segments (``POOLED_SEGMENT``)."""
    decisions = segment_allocations(
        stats_by_segment, previous_by_segment or {}, settings, control_index, rng
    )
    return {segment: decision.weights for segment, decision in decisions.items()}


def _arm_names(stats_by_segment: Mapping[str, Sequence[ArmStats]]) -> tuple[str, ...]:
    if not stats_by_segment:
        raise ValueError("stats_by_segment must hold at least one segment")
    if POOLED_SEGMENT in stats_by_segment:
        raise ValueError(f"{POOLED_SEGMENT!r} is reserved for the pooled allocation")
    orders = {tuple(s.arm for s in stats) for stats in stats_by_segment.values()}
    if len(orders) != 1:
        raise ValueError("every segment must list the same arms in the same order")
    return orders.pop()
