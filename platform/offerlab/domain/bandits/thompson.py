"""Thompson sampling: traffic weights proportional to each variant's probability of being best.

P(best) is estimated by Monte Carlo over the posteriors (``spec.draws`` joint draws), then a
floor of ``spec.min_share`` per variant is applied so that no variant stops being explored.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offerlab.domain.bandits.floors import apply_floor
from offerlab.domain.stats.sufficient import VariantTotals

# Weight, in units, of the pooled-data prior used by the revenue posterior (see
# `thompson_revenue_weights`): one visitor's worth, so it fades as soon as an arm has data.
REVENUE_PRIOR_UNITS = 1.0


@dataclass(frozen=True)
class ThompsonSpec:
    """Validated settings of a Thompson-sampling policy (Beta(prior_alpha, prior_beta) prior)."""

    min_share: float = 0.05
    draws: int = 10_000
    prior_alpha: float = 1.0
    prior_beta: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_share < 1.0:
            raise ValueError("min_share must be >= 0 and < 1")
        if not _is_number(self.draws, numbers.Integral) or self.draws < 1:
            raise ValueError("draws must be a positive integer")
        for name in ("prior_alpha", "prior_beta"):
            value = getattr(self, name)
            if not (_is_number(value, numbers.Real) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number")


def thompson_weights(
    successes: Sequence[int],
    trials: Sequence[int],
    *,
    spec: ThompsonSpec,
    rng: np.random.Generator,
) -> tuple[float, ...]:
    """Beta-Bernoulli Thompson weights for conversion, floored at ``spec.min_share``."""
    wins = np.asarray(successes, dtype=float)
    counts = np.asarray(trials, dtype=float)
    _check_conversion_inputs(wins, counts)
    _check_floor_feasible(wins.size, spec.min_share)
    samples = rng.beta(
        spec.prior_alpha + wins, spec.prior_beta + counts - wins, size=(spec.draws, wins.size)
    )
    return apply_floor(probability_best(samples), min_share=spec.min_share)


def thompson_revenue_weights(
    units: Sequence[int],
    revenue_sum: Sequence[float],
    revenue_sum_sq: Sequence[float],
    *,
    spec: ThompsonSpec,
    rng: np.random.Generator,
) -> tuple[float, ...]:
    """Thompson weights for revenue per unit, floored at ``spec.min_share``.

    Each arm's mean revenue per unit is drawn from a normal approximation N(mean, var / n), the
    large-sample posterior with a flat prior; it is not a conjugate model of skewed revenue.
    A weak prior of ``REVENUE_PRIOR_UNITS`` pseudo-unit(s) carrying the pooled mean and
    variance of all arms is added to every arm, so an empty arm is drawn around the pooled mean
    with the spread of a single visitor (and therefore explored) and zero-variance arms do not
    collapse to a point. The ``prior_alpha``/``prior_beta`` of the spec are not used here.
    """
    n = np.asarray(units, dtype=float)
    sums = np.asarray(revenue_sum, dtype=float)
    sums_sq = np.asarray(revenue_sum_sq, dtype=float)
    _check_revenue_inputs(n, sums, sums_sq)
    _check_floor_feasible(n.size, spec.min_share)
    means, sds = _revenue_posteriors(n, sums, sums_sq)
    samples = rng.normal(means, sds, size=(spec.draws, n.size))
    return apply_floor(probability_best(samples), min_share=spec.min_share)


def allocate(
    experiment_objective: str,
    totals: Sequence[VariantTotals],
    *,
    spec: ThompsonSpec,
    rng: np.random.Generator,
) -> tuple[float, ...]:
    """Next traffic weights, in the order of ``totals``, for a "conversion" or "revenue" goal."""
    if experiment_objective == "conversion":
        return thompson_weights(
            [t.converted_units for t in totals], [t.units for t in totals], spec=spec, rng=rng
        )
    if experiment_objective == "revenue":
        return thompson_revenue_weights(
            [t.units for t in totals],
            [t.order_value_sum for t in totals],
            [t.revenue_sum_sq for t in totals],
            spec=spec,
            rng=rng,
        )
    raise ValueError(
        f"unknown objective {experiment_objective!r}: expected 'conversion' or 'revenue'"
    )


def probability_best(samples: np.ndarray) -> np.ndarray:
    """Share of draws (rows) in which each arm (column) is the largest; ties split evenly."""
    is_best = samples == samples.max(axis=1, keepdims=True)
    share = is_best / is_best.sum(axis=1, keepdims=True)
    result: np.ndarray = share.mean(axis=0)
    return result


def _revenue_posteriors(
    n: np.ndarray, sums: np.ndarray, sums_sq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    total_units = n.sum()
    pooled_mean = sums.sum() / total_units if total_units else 0.0
    pooled_var = max(sums_sq.sum() / total_units - pooled_mean**2, 0.0) if total_units else 0.0
    prior = REVENUE_PRIOR_UNITS
    means = (prior * pooled_mean + sums) / (prior + n)
    dof = np.maximum(n - 1.0, 0.0)
    safe_n = np.maximum(n, 1.0)
    sample_var = np.where(dof > 0, (sums_sq - sums**2 / safe_n) / np.maximum(dof, 1.0), 0.0)
    shrunk_var = (prior * pooled_var + dof * np.maximum(sample_var, 0.0)) / (prior + dof)
    return means, np.sqrt(shrunk_var / (prior + n))


def _is_number(value: object, kind: type) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _check_conversion_inputs(wins: np.ndarray, counts: np.ndarray) -> None:
    if wins.ndim != 1 or wins.shape != counts.shape or wins.size == 0:
        raise ValueError("successes and trials must be non-empty sequences of equal length")
    if np.any(wins < 0) or np.any(wins > counts):
        raise ValueError("successes must be between 0 and trials")


def _check_revenue_inputs(n: np.ndarray, sums: np.ndarray, sums_sq: np.ndarray) -> None:
    if n.ndim != 1 or n.size == 0 or not n.shape == sums.shape == sums_sq.shape:
        raise ValueError("units, revenue_sum and revenue_sum_sq must be non-empty and equal length")
    if np.any(n < 0) or np.any(sums_sq < 0):
        raise ValueError("units and revenue_sum_sq must be non-negative")
    if not (np.all(np.isfinite(sums)) and np.all(np.isfinite(sums_sq))):
        raise ValueError("revenue sums must be finite")


def _check_floor_feasible(arms: int, min_share: float) -> None:
    if min_share * arms > 1.0 + 1e-12:
        raise ValueError("min_share * number of variants must be <= 1")
