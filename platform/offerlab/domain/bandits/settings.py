"""``AllocationSettings``: the validated settings of one bandit experiment's allocation."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from offerlab.domain.bandits.arms import RewardObjective
from offerlab.domain.bandits.policies import PolicyName


@dataclass(frozen=True)
class AllocationSettings:
    """How a bandit experiment turns its statistics into weights (see ``lifecycle``).

    ``expected_loss_threshold`` is a share of the best arm's expected reward when
    ``expected_loss_relative`` (the default: 0.01 = 1%), else in reward units per impression.
    ``epsilon_decay`` None keeps ``epsilon`` fixed; a number c gives ``min(1, c k / t)``.
    ``segment_attribute`` and ``prior_strength`` (pooled pseudo-units) drive ``contextual``.
    """

    policy: str = PolicyName.THOMPSON
    objective: str = RewardObjective.CONVERSION
    burn_in_units: int = 100
    min_share: float = 0.01
    holdout_share: float = 0.0
    max_weight_change: float | None = None
    measurement_share: float = 0.0
    epsilon: float = 0.1
    epsilon_decay: float | None = None
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    draws: int = 10_000
    chance_to_be_best_threshold: float = 0.95
    expected_loss_threshold: float = 0.01
    expected_loss_relative: bool = True
    auto_rollout: bool = False
    segment_attribute: str | None = None
    prior_strength: float = 100.0

    def __post_init__(self) -> None:
        _check_choice("policy", self.policy, PolicyName)
        _check_choice("objective", self.objective, RewardObjective)
        _check_integer("burn_in_units", self.burn_in_units, minimum=0)
        _check_integer("draws", self.draws, minimum=1)
        _check_fraction("min_share", self.min_share, upper_open=True)
        _check_fraction("holdout_share", self.holdout_share, upper_open=True)
        _check_fraction("measurement_share", self.measurement_share, upper_open=False)
        _check_fraction("epsilon", self.epsilon, upper_open=False)
        _check_fraction(
            "chance_to_be_best_threshold", self.chance_to_be_best_threshold, upper_open=False
        )
        _check_positive("prior_alpha", self.prior_alpha)
        _check_positive("prior_beta", self.prior_beta)
        _check_positive("prior_strength", self.prior_strength, allow_zero=True)
        _check_positive("expected_loss_threshold", self.expected_loss_threshold, allow_zero=True)
        if self.max_weight_change is not None:
            _check_positive("max_weight_change", self.max_weight_change)
        if self.epsilon_decay is not None:
            _check_positive("epsilon_decay", self.epsilon_decay)
        if 0 < self.holdout_share < self.min_share:
            raise ValueError("holdout_share must be 0 or >= min_share")


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_choice(name: str, value: object, kind: type) -> None:
    allowed = [member.value for member in kind]  # type: ignore[attr-defined]
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")


def _check_integer(name: str, value: object, *, minimum: int) -> None:
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}")


def _check_fraction(name: str, value: object, *, upper_open: bool) -> None:
    ok = _is_real(value) and 0.0 <= value and (value < 1.0 if upper_open else value <= 1.0)  # type: ignore[operator]
    if not ok:
        raise ValueError(f"{name} must be >= 0 and {'<' if upper_open else '<='} 1")


def _check_positive(name: str, value: object, *, allow_zero: bool = False) -> None:
    ok = _is_real(value) and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)  # type: ignore[arg-type,operator]
    if not ok:
        raise ValueError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number"
        )
