"""Bayesian comparisons: chance to beat control or to be best, expected loss, credible intervals.

Conversion: each arm's rate has the posterior Beta(1 + s, 1 + n − s) (uniform prior).

- Chance to beat control is exact, by Evan Miller's closed form ("Formulas for Bayesian A/B
  Testing"), summed in log space:
  P(p_B > p_A) = Σ_{i=0}^{α_B−1} B(α_A+i, β_A+β_B) / ((β_B+i) B(1+i, β_B) B(α_A, β_A)).
  The sum runs over the arm with the smaller α (using P(B > A) = 1 − P(A > B)).
- Expected loss of choosing B over A is exact: E[max(0, p_A − p_B)] =
  μ_A P(Beta(α_A+1, β_A) > Beta(α_B, β_B)) − μ_B P(Beta(α_A, β_A) > Beta(α_B+1, β_B)),
  because p f_{α,β}(p) = μ f_{α+1,β}(p) (Stucchio 2015, "Bayesian A/B Testing at VWO").
- Chance to be best among k arms: P(k best) = ∫ f_k(x) Π_{j≠k} F_j(x) dx by the trapezoidal
  rule on the union of per-arm grids (2,001 points from each arm's 1e-10 to 1 − 1e-10 quantile),
  deterministic and accurate to about 1e-6 (checked against the exact two-arm formula).

Means: the posterior of each mean is N(x̄, s²/n) (flat prior, normal approximation), so the
difference Δ = μ_B − μ_A is N(d, σ²) with d = x̄_B − x̄_A, σ² = s_A²/n_A + s_B²/n_B;
chance to beat is Φ(d/σ) and E[max(0, X)] = m Φ(m/σ) + σ φ(m/σ) for X ~ N(m, σ²).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special
from scipy import stats as sps

from offerlab.domain.reports import Interval, ResultError
from offerlab.domain.stats.frequentist import MeanStats, check_alpha, check_counts

_GRID_POINTS_PER_ARM = 2_001
_GRID_TAIL = 1e-10


@dataclass(frozen=True)
class BayesianComparison:
    """One metric of a variant against the control, in posterior terms.

    `risk_of_variant` is the expected loss of shipping the variant, E[max(0, control − variant)];
    `risk_of_control` the expected loss of keeping the control, E[max(0, variant − control)].
    """

    metric: str
    control_value: float | None
    variant_value: float | None
    chance_to_beat_control: float | None = None
    risk_of_variant: float | None = None
    risk_of_control: float | None = None
    control_interval: Interval | None = None
    variant_interval: Interval | None = None
    error: ResultError | None = None


def compare_conversion_bayesian(
    control_successes: int,
    control_n: int,
    variant_successes: int,
    variant_n: int,
    *,
    alpha: float = 0.05,
    metric: str = "conversion",
) -> BayesianComparison:
    """Exact Beta-posterior comparison of two conversion rates (formulas: module docstring)."""
    check_alpha(alpha)
    check_counts(control_successes, control_n, "control")
    check_counts(variant_successes, variant_n, "variant")
    if control_n == 0 or variant_n == 0:
        control_value = control_successes / control_n if control_n else None
        variant_value = variant_successes / variant_n if variant_n else None
        return BayesianComparison(metric, control_value, variant_value, error=ResultError.NO_UNITS)
    control = (1 + control_successes, 1 + control_n - control_successes)
    variant = (1 + variant_successes, 1 + variant_n - variant_successes)
    return BayesianComparison(
        metric=metric,
        control_value=control_successes / control_n,
        variant_value=variant_successes / variant_n,
        chance_to_beat_control=_beta_prob_greater(variant, control),
        risk_of_variant=_beta_expected_excess(control, variant),
        risk_of_control=_beta_expected_excess(variant, control),
        control_interval=beta_credible_interval(control_successes, control_n, alpha=alpha),
        variant_interval=beta_credible_interval(variant_successes, variant_n, alpha=alpha),
    )


def beta_credible_interval(successes: int, n: int, *, alpha: float = 0.05) -> Interval:
    """Equal-tailed 1 − alpha credible interval of Beta(1 + s, 1 + n − s)."""
    check_alpha(alpha)
    check_counts(successes, n, "sample")
    posterior = sps.beta(1 + successes, 1 + n - successes)
    return Interval(float(posterior.ppf(alpha / 2.0)), float(posterior.isf(alpha / 2.0)))


def chance_to_be_best_conversion(successes: Sequence[int], ns: Sequence[int]) -> tuple[float, ...]:
    """Posterior probability that each arm has the highest rate (grid integration, ~1e-6)."""
    if len(successes) != len(ns) or len(ns) < 2:
        raise ValueError("successes and ns must have the same length of at least two")
    for s, n in zip(successes, ns, strict=True):
        check_counts(s, n, "arm")
    posteriors = [sps.beta(1 + s, 1 + n - s) for s, n in zip(successes, ns, strict=True)]
    return _chance_to_be_best(posteriors)


def compare_means_bayesian(
    control: MeanStats | tuple[int, float, float],
    variant: MeanStats | tuple[int, float, float],
    *,
    alpha: float = 0.05,
    metric: str = "mean",
) -> BayesianComparison:
    """Normal-approximation comparison of two means: Φ(d/σ), closed-form expected losses."""
    check_alpha(alpha)
    control, variant = MeanStats(*control), MeanStats(*variant)
    control_value = control.sum / control.n if control.n > 0 else None
    variant_value = variant.sum / variant.n if variant.n > 0 else None
    if control.n < 2 or variant.n < 2:
        return BayesianComparison(metric, control_value, variant_value, error=ResultError.NO_UNITS)
    assert control_value is not None and variant_value is not None
    control_var = _variance_of_mean(control, "control")
    variant_var = _variance_of_mean(variant, "variant")
    sd = math.sqrt(control_var + variant_var)
    if sd == 0.0:
        return BayesianComparison(
            metric, control_value, variant_value, error=ResultError.ZERO_VARIANCE
        )
    difference = variant_value - control_value
    z = float(sps.norm.isf(alpha / 2.0))
    return BayesianComparison(
        metric=metric,
        control_value=control_value,
        variant_value=variant_value,
        chance_to_beat_control=float(sps.norm.cdf(difference / sd)),
        risk_of_variant=normal_expected_positive_part(-difference, sd),
        risk_of_control=normal_expected_positive_part(difference, sd),
        control_interval=_normal_interval(control_value, control_var, z),
        variant_interval=_normal_interval(variant_value, variant_var, z),
    )


def normal_expected_positive_part(mean: float, sd: float) -> float:
    """E[max(0, X)] for X ~ N(mean, sd²): mean Φ(mean/sd) + sd φ(mean/sd)."""
    if sd < 0:
        raise ValueError("sd must be non-negative")
    if sd == 0.0:
        return max(0.0, mean)
    z = mean / sd
    return float(mean * sps.norm.cdf(z) + sd * sps.norm.pdf(z))


def _beta_prob_greater(b: tuple[int, int], a: tuple[int, int]) -> float:
    """P(X_b > X_a) for independent Beta(a) and Beta(b) with whole-number α (Evan Miller)."""
    if a[0] < b[0]:
        return 1.0 - _beta_prob_greater(a, b)
    (alpha_a, beta_a), (alpha_b, beta_b) = a, b
    i = np.arange(alpha_b, dtype=float)
    log_terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1.0 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(min(1.0, max(0.0, math.exp(special.logsumexp(log_terms)))))


def _beta_expected_excess(a: tuple[int, int], b: tuple[int, int]) -> float:
    """E[max(0, X_a − X_b)] for independent Beta(a) and Beta(b) (Stucchio's identity)."""
    mean_a = a[0] / (a[0] + a[1])
    mean_b = b[0] / (b[0] + b[1])
    excess = mean_a * _beta_prob_greater((a[0] + 1, a[1]), b) - mean_b * _beta_prob_greater(
        a, (b[0] + 1, b[1])
    )
    return max(0.0, excess)


def _chance_to_be_best(posteriors: Sequence[Any]) -> tuple[float, ...]:
    """∫ f_k Π_{j≠k} F_j over a grid dense wherever any posterior has mass; sums to 1."""
    grids = [
        np.linspace(p.ppf(_GRID_TAIL), p.isf(_GRID_TAIL), _GRID_POINTS_PER_ARM) for p in posteriors
    ]
    grid = np.unique(np.concatenate(grids))
    cdfs = np.array([p.cdf(grid) for p in posteriors])
    chances = []
    for k, posterior in enumerate(posteriors):
        others = np.prod(np.delete(cdfs, k, axis=0), axis=0)
        chances.append(float(np.trapezoid(posterior.pdf(grid) * others, grid)))
    total = sum(chances)
    return tuple(chance / total for chance in chances)


def _variance_of_mean(sample: MeanStats, side: str) -> float:
    if sample.sum_sq < 0:
        raise ValueError(f"{side} sum_sq must be non-negative")
    mean = sample.sum / sample.n
    variance = (sample.sum_sq - sample.sum * mean) / (sample.n - 1)
    scale = sample.sum_sq / sample.n
    if variance <= 1e-12 * scale:
        if variance < -1e-9 * scale:
            raise ValueError(f"{side} sum_sq is inconsistent with sum and n (negative variance)")
        return 0.0
    return variance / sample.n


def _normal_interval(mean: float, variance: float, z: float) -> Interval:
    half_width = z * math.sqrt(variance)
    return Interval(mean - half_width, mean + half_width)
