"""Allocation policies: per-arm statistics in, traffic weights summing to 1 out.

Every policy sees only the arms' sufficient statistics (``ArmStats``) and the objective, which
picks the reward: a 0/1 conversion, or the value taken per impression (0 when declined).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from offerlab.domain.bandits.arms import ArmArrays, ArmStats, RewardObjective, parse_objective
from offerlab.domain.bandits.posteriors import probability_best, sample_rewards

StatsInput = Sequence[ArmStats] | ArmArrays


class PolicyName(StrEnum):
    """The allocation policies an experiment can choose."""

    FIXED = "fixed"
    EPSILON_GREEDY = "epsilon_greedy"
    UCB1 = "ucb1"
    THOMPSON = "thompson"


def fixed_split(stats: StatsInput) -> tuple[float, ...]:
    """Equal weights for every arm: the A/B baseline."""
    arrays = as_arrays(stats)
    return tuple(1.0 / arrays.size for _ in range(arrays.size))


def current_epsilon(total_units: float, arms: int, *, epsilon: float, decay: float | None) -> float:
    """Exploration rate: ``epsilon``, or ``min(1, decay * arms / t)`` when ``decay`` is set.

    The decaying schedule is the epsilon_t-greedy of Auer, Cesa-Bianchi and Fischer (2002),
    ``min(1, c K / (d^2 t))``, with ``c / d^2`` folded into one constant; ``t`` is the number of
    units seen so far.
    """
    if decay is None:
        return epsilon
    return min(1.0, decay * arms / max(total_units, 1.0))


def epsilon_greedy_weights(
    stats: StatsInput,
    *,
    objective: str | RewardObjective = RewardObjective.CONVERSION,
    epsilon: float = 0.1,
    decay: float | None = None,
) -> tuple[float, ...]:
    """``1 - eps`` to the arm(s) with the best observed mean reward, ``eps`` spread evenly."""
    arrays = as_arrays(stats)
    eps = current_epsilon(arrays.units.sum(), arrays.size, epsilon=epsilon, decay=decay)
    greedy = _argmax_share(arrays.mean_reward(parse_objective(objective)))
    return _as_weights((1.0 - eps) * greedy + eps / arrays.size)


def ucb1_weights(
    stats: StatsInput, *, objective: str | RewardObjective = RewardObjective.CONVERSION
) -> tuple[float, ...]:
    """All weight on the arm(s) with the largest UCB1 index (Auer et al. 2002).

    ``index_i = r_i / scale + sqrt(2 ln t / n_i)`` with ``t`` all units and ``n_i`` the arm's;
    an arm without units has an infinite index. UCB1 assumes rewards in [0, 1]: conversions
    already are; a value reward is divided by ``scale``, the largest mean value among successes
    of any arm, which puts every arm's mean reward per impression in [0, 1].
    """
    arrays = as_arrays(stats)
    obj = parse_objective(objective)
    if np.any(arrays.units <= 0):
        return _as_weights(_argmax_share(np.where(arrays.units <= 0, 1.0, 0.0)))
    scaled = arrays.mean_reward(obj) / _value_scale(arrays) if obj.uses_value else None
    means = arrays.mean_reward(obj) if scaled is None else scaled
    bonus = np.sqrt(2.0 * math.log(arrays.units.sum()) / arrays.units)
    return _as_weights(_argmax_share(means + bonus))


def thompson_conversion_weights(
    stats: StatsInput,
    *,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    draws: int = 10_000,
    rng: np.random.Generator,
) -> tuple[float, ...]:
    """Beta-Bernoulli Thompson sampling: weights = Monte Carlo P(arm has the best acceptance)."""
    samples = sample_rewards(
        as_arrays(stats),
        objective=RewardObjective.CONVERSION,
        prior_alpha=prior_alpha,
        prior_beta=prior_beta,
        draws=draws,
        rng=rng,
    )
    return _as_weights(probability_best(samples))


def thompson_value_weights(
    stats: StatsInput,
    *,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    draws: int = 10_000,
    rng: np.random.Generator,
) -> tuple[float, ...]:
    """Revenue-aware Thompson sampling: weights = Monte Carlo P(arm has the best p * mean value).

    See ``offerlab.domain.bandits.posteriors`` for the Beta x Normal-Inverse-Gamma posterior.
    """
    samples = sample_rewards(
        as_arrays(stats),
        objective=RewardObjective.OFFER_REVENUE,
        prior_alpha=prior_alpha,
        prior_beta=prior_beta,
        draws=draws,
        rng=rng,
    )
    return _as_weights(probability_best(samples))


def as_arrays(stats: StatsInput) -> ArmArrays:
    """Column view of ``stats`` (already-columnar input passes through)."""
    return stats if isinstance(stats, ArmArrays) else ArmArrays.of(stats)


def _value_scale(arrays: ArmArrays) -> float:
    mean_values = np.divide(
        arrays.value_sum,
        arrays.successes,
        out=np.zeros(arrays.size),
        where=arrays.successes > 0,
    )
    largest = float(np.abs(mean_values).max())
    return largest if largest > 0 else 1.0


def _argmax_share(scores: np.ndarray) -> np.ndarray:
    best = scores == scores.max()
    result: np.ndarray = best / best.sum()
    return result


def _as_weights(values: np.ndarray) -> tuple[float, ...]:
    total = float(values.sum())
    return tuple(float(v) / total for v in values)
