"""Per-arm sufficient statistics that every allocation policy reads, and the objectives."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class RewardObjective(StrEnum):
    """What a bandit maximises per impression; the value column differs, the maths does not."""

    CONVERSION = "conversion"
    OFFER_REVENUE = "offer_revenue"
    ORDER_VALUE = "order_value"
    MARGIN = "margin"

    @property
    def uses_value(self) -> bool:
        """True when the reward is a value (success times its value), not a 0/1 conversion."""
        return self is not RewardObjective.CONVERSION


@dataclass(frozen=True)
class ArmStats:
    """Sufficient statistics of one arm (variant).

    ``units`` are exposed units (impressions), ``successes`` the units that took the reward event
    (accepted the offer, or ordered for ``order_value``), ``value_sum``/``value_sum_sq`` the sums
    of the per-success value (accepted offer value, order value or margin) over the successes.
    A no-offer arm (no successes, value 0) is valid.
    """

    arm: str
    units: int
    successes: int = 0
    value_sum: float = 0.0
    value_sum_sq: float = 0.0

    def __post_init__(self) -> None:
        if self.units < 0 or self.successes < 0 or self.successes > self.units:
            raise ValueError(f"arm {self.arm!r}: successes must be between 0 and units")
        if not (math.isfinite(self.value_sum) and math.isfinite(self.value_sum_sq)):
            raise ValueError(f"arm {self.arm!r}: value sums must be finite")
        if self.value_sum_sq < 0:
            raise ValueError(f"arm {self.arm!r}: value_sum_sq must be >= 0")

    def __add__(self, other: ArmStats) -> ArmStats:
        if not isinstance(other, ArmStats):
            return NotImplemented
        return ArmStats(
            self.arm,
            self.units + other.units,
            self.successes + other.successes,
            self.value_sum + other.value_sum,
            self.value_sum_sq + other.value_sum_sq,
        )


@dataclass(frozen=True)
class ArmArrays:
    """Column view of several arms' statistics; counts may be fractional (pseudo-units)."""

    units: np.ndarray
    successes: np.ndarray
    value_sum: np.ndarray
    value_sum_sq: np.ndarray

    @classmethod
    def of(cls, stats: Sequence[ArmStats]) -> ArmArrays:
        """Columns of ``stats`` in order; rejects an empty sequence."""
        if len(stats) == 0:
            raise ValueError("stats must not be empty")
        return cls(
            np.array([s.units for s in stats], dtype=float),
            np.array([s.successes for s in stats], dtype=float),
            np.array([s.value_sum for s in stats], dtype=float),
            np.array([s.value_sum_sq for s in stats], dtype=float),
        )

    @property
    def size(self) -> int:
        """Number of arms."""
        return int(self.units.size)

    def plus(self, other: ArmArrays, *, scale: np.ndarray | float = 1.0) -> ArmArrays:
        """Element-wise ``self + scale * other`` (used to add pooled pseudo-observations)."""
        return ArmArrays(
            self.units + scale * other.units,
            self.successes + scale * other.successes,
            self.value_sum + scale * other.value_sum,
            self.value_sum_sq + scale * other.value_sum_sq,
        )

    def mean_reward(self, objective: RewardObjective) -> np.ndarray:
        """Observed reward per unit (0 for an arm without units)."""
        numerator = self.value_sum if objective.uses_value else self.successes
        return np.divide(numerator, self.units, out=np.zeros(self.size), where=self.units > 0)


def pooled(stats: Sequence[ArmStats], arm: str = "pooled") -> ArmStats:
    """Sum of several arms' statistics (every arm's data as one)."""
    total = ArmStats(arm, 0)
    for one in stats:
        total = total + ArmStats(arm, one.units, one.successes, one.value_sum, one.value_sum_sq)
    return total


def parse_objective(objective: str | RewardObjective) -> RewardObjective:
    """The objective named ``objective``; a clear error for an unknown name."""
    try:
        return RewardObjective(objective)
    except ValueError:
        names = ", ".join(repr(o.value) for o in RewardObjective)
        raise ValueError(f"unknown objective {str(objective)!r}: expected one of {names}") from None
