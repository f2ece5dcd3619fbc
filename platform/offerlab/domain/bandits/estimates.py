"""Arm estimates that stay unbiased when a bandit changes the allocation between epochs.

Pooling all epochs of a bandit is biased when the outcome drifts over time and the bandit sends
more traffic to one arm in some epochs (Simpson's paradox). Two remedies, both from per-epoch,
per-arm sums:

* ``epoch_weighted_means``: each arm's mean within every epoch, combined with the same fixed
  weights for every arm (the epoch's share of all units), so every arm is judged over the same
  mix of epochs. Variance: ``sum_e w_e^2 s_e^2 / n_e``.
* ``ipw_means``: the Hajek (self-normalised inverse-propensity-weighted) mean
  ``sum_i y_i / pi_i / sum_i 1 / pi_i`` over the arm's units, with ``pi_i`` the probability with
  which the unit got the arm (recorded on every exposure). Its variance is the usual
  linearisation ``sum_i (y_i - mu)^2 / pi_i^2 / (sum_i 1 / pi_i)^2``, computed exactly from the
  per-epoch sums because ``pi`` is constant within an epoch. With propensities bounded away
  from 0 (a floor) the terms are martingale differences and the normal interval is valid.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy import stats as sps


@dataclass(frozen=True)
class EpochArmSums:
    """One arm's sums within one allocation epoch, and its propensity there."""

    epoch: int
    arm: str
    units: int
    reward_sum: float
    reward_sum_sq: float
    propensity: float

    def __post_init__(self) -> None:
        if self.units < 0:
            raise ValueError("units must be >= 0")
        if not 0.0 < self.propensity <= 1.0:
            raise ValueError("propensity must be > 0 and <= 1")


@dataclass(frozen=True)
class ArmEstimate:
    """A mean (or a difference of means) with its standard error and confidence interval."""

    estimate: float
    standard_error: float
    lower: float
    upper: float


def epoch_weighted_means(
    sums: Iterable[EpochArmSums], *, alpha: float = 0.05
) -> dict[str, ArmEstimate]:
    """Per-epoch arm means combined with the epochs' shares of units (same weights for all arms).

    Only epochs in which every arm has at least 2 units count; their weights are renormalised.
    """
    cells, arms, epochs = _cells(sums)
    usable = [e for e in epochs if all(cells[e, a].units >= 2 for a in arms if (e, a) in cells)]
    usable = [e for e in usable if all((e, a) in cells for a in arms)]
    if not usable:
        raise ValueError("no epoch has at least 2 units on every arm")
    sizes = {e: sum(cells[e, a].units for a in arms) for e in usable}
    total = sum(sizes.values())
    result = {}
    for arm in arms:
        mean, var = 0.0, 0.0
        for epoch in usable:
            cell, weight = cells[epoch, arm], sizes[epoch] / total
            cell_mean, cell_var = _mean_and_variance(cell)
            mean += weight * cell_mean
            var += weight**2 * cell_var / cell.units
        result[arm] = _interval(mean, var, alpha)
    return result


def epoch_weighted_difference(
    sums: Sequence[EpochArmSums], arm: str, control: str, *, alpha: float = 0.05
) -> ArmEstimate:
    """Epoch-weighted mean of ``arm`` minus that of ``control`` (independent arms)."""
    means = epoch_weighted_means(sums, alpha=alpha)
    return _difference(means[arm], means[control], alpha)


def ipw_means(sums: Iterable[EpochArmSums], *, alpha: float = 0.05) -> dict[str, ArmEstimate]:
    """Hajek inverse-propensity-weighted mean of every arm with a normal confidence interval."""
    by_arm: dict[str, list[EpochArmSums]] = defaultdict(list)
    for cell in sums:
        by_arm[cell.arm].append(cell)
    return {arm: _hajek(cells, alpha) for arm, cells in by_arm.items()}


def ipw_difference(
    sums: Sequence[EpochArmSums], arm: str, control: str, *, alpha: float = 0.05
) -> ArmEstimate:
    """Hajek IPW mean of ``arm`` minus that of ``control``.

    Each unit feeds only one arm's influence terms, so the two variances add.
    """
    means = ipw_means(sums, alpha=alpha)
    return _difference(means[arm], means[control], alpha)


def naive_pooled_means(sums: Iterable[EpochArmSums]) -> dict[str, float]:
    """Every epoch pooled (the biased reference the two estimators above correct)."""
    units: dict[str, float] = defaultdict(float)
    rewards: dict[str, float] = defaultdict(float)
    for cell in sums:
        units[cell.arm] += cell.units
        rewards[cell.arm] += cell.reward_sum
    return {arm: rewards[arm] / units[arm] for arm in units if units[arm] > 0}


def _hajek(cells: Sequence[EpochArmSums], alpha: float) -> ArmEstimate:
    weight_total = sum(c.units / c.propensity for c in cells)
    if weight_total <= 0:
        raise ValueError(f"arm {cells[0].arm!r} has no units")
    mean = sum(c.reward_sum / c.propensity for c in cells) / weight_total
    squares = sum(
        (c.reward_sum_sq - 2.0 * mean * c.reward_sum + mean**2 * c.units) / c.propensity**2
        for c in cells
    )
    return _interval(mean, max(squares, 0.0) / weight_total**2, alpha)


def _cells(
    sums: Iterable[EpochArmSums],
) -> tuple[dict[tuple[int, str], EpochArmSums], list[str], list[int]]:
    cells: dict[tuple[int, str], EpochArmSums] = {}
    for cell in sums:
        if (cell.epoch, cell.arm) in cells:
            raise ValueError(f"epoch {cell.epoch} lists arm {cell.arm!r} twice")
        cells[cell.epoch, cell.arm] = cell
    arms = sorted({arm for _, arm in cells})
    epochs = sorted({epoch for epoch, _ in cells})
    return cells, arms, epochs


def _mean_and_variance(cell: EpochArmSums) -> tuple[float, float]:
    mean = cell.reward_sum / cell.units
    squares = max(cell.reward_sum_sq - cell.units * mean**2, 0.0)
    return mean, squares / (cell.units - 1)


def _difference(a: ArmEstimate, b: ArmEstimate, alpha: float) -> ArmEstimate:
    variance = a.standard_error**2 + b.standard_error**2
    return _interval(a.estimate - b.estimate, variance, alpha)


def _interval(mean: float, variance: float, alpha: float) -> ArmEstimate:
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be > 0 and < 1")
    se = math.sqrt(variance)
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    return ArmEstimate(mean, se, mean - z * se, mean + z * se)
