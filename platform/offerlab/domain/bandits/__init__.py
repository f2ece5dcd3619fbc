"""Bandit allocation: per-arm statistics in, traffic weights (summing to 1) out.

Policies (``policies``), posterior draws (``posteriors``), the allocation life cycle with burn-in,
floors, holdout, cap and stopping (``lifecycle``), per-segment allocation (``contextual``) and
estimates that survive changing allocation (``estimates``). ``ThompsonSpec`` and ``allocate``
are the earlier conversion/revenue Thompson interface, kept for the service.
"""

from offerlab.domain.bandits.arms import ArmArrays, ArmStats, RewardObjective, pooled
from offerlab.domain.bandits.contextual import (
    POOLED_SEGMENT,
    segment_allocations,
    segment_weights,
    shrunk_arrays,
)
from offerlab.domain.bandits.estimates import (
    ArmEstimate,
    EpochArmSums,
    epoch_weighted_difference,
    epoch_weighted_means,
    ipw_difference,
    ipw_means,
    naive_pooled_means,
)
from offerlab.domain.bandits.floors import apply_floor
from offerlab.domain.bandits.lifecycle import (
    BURN_IN,
    LEARNING,
    WINNER,
    AllocationDecision,
    WinnerDecision,
    cap_change,
    next_allocation,
    winner_decision,
)
from offerlab.domain.bandits.policies import (
    PolicyName,
    current_epsilon,
    epsilon_greedy_weights,
    fixed_split,
    thompson_conversion_weights,
    thompson_value_weights,
    ucb1_weights,
)
from offerlab.domain.bandits.posteriors import (
    ValuePosterior,
    expected_loss,
    sample_rewards,
    value_posterior,
)
from offerlab.domain.bandits.settings import AllocationSettings
from offerlab.domain.bandits.thompson import (
    ThompsonSpec,
    allocate,
    probability_best,
    thompson_revenue_weights,
    thompson_weights,
)

__all__ = [
    "BURN_IN",
    "LEARNING",
    "POOLED_SEGMENT",
    "WINNER",
    "AllocationDecision",
    "AllocationSettings",
    "ArmArrays",
    "ArmEstimate",
    "ArmStats",
    "EpochArmSums",
    "PolicyName",
    "RewardObjective",
    "ThompsonSpec",
    "ValuePosterior",
    "WinnerDecision",
    "allocate",
    "apply_floor",
    "cap_change",
    "current_epsilon",
    "epoch_weighted_difference",
    "epoch_weighted_means",
    "epsilon_greedy_weights",
    "expected_loss",
    "fixed_split",
    "ipw_difference",
    "ipw_means",
    "naive_pooled_means",
    "next_allocation",
    "pooled",
    "probability_best",
    "sample_rewards",
    "segment_allocations",
    "segment_weights",
    "shrunk_arrays",
    "thompson_conversion_weights",
    "thompson_revenue_weights",
    "thompson_value_weights",
    "thompson_weights",
    "ucb1_weights",
    "value_posterior",
    "winner_decision",
]
