"""Bandit allocation policies: validated specs in, traffic weights (summing to 1) out."""

from offerlab.domain.bandits.floors import apply_floor
from offerlab.domain.bandits.thompson import (
    ThompsonSpec,
    allocate,
    probability_best,
    thompson_revenue_weights,
    thompson_weights,
)

__all__ = [
    "ThompsonSpec",
    "allocate",
    "apply_floor",
    "probability_best",
    "thompson_revenue_weights",
    "thompson_weights",
]
