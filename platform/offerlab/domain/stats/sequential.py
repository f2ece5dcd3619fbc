"""Always-valid inference (mixture SPRT) for a difference of means or proportions.

For an estimate d of the difference θ with variance V, and a normal mixing distribution
θ ~ N(0, τ²) under the alternative, the mixture likelihood ratio against θ = θ₀ is

    Λ = sqrt(V / (V + τ²)) · exp(τ² (d − θ₀)² / (2 V (V + τ²))).

By Ville's inequality P(sup_t Λ_t ≥ 1/α) ≤ α under θ₀, so p = min(1, 1/Λ) is an always-valid
p-value (take the running minimum over looks) and {θ₀ : Λ(θ₀) < 1/α} is a confidence sequence:

    d ± sqrt(V (V + τ²) / τ² · (ln((V + τ²) / V) − 2 ln α)).

References: Johari, Pekelis & Walsh (2017), "Always Valid Inference: Bringing Sequential
Analysis to A/B Testing" ("Peeking at A/B tests", KDD 2017); Howard et al. (2021), "Time-uniform,
nonparametric, nonasymptotic confidence sequences"; GrowthBook's sequential intervals.

Choosing τ²: the boundary is tightest when the data reach a planned size N*. GrowthBook's
default tuning (N* = 5,000 units) sets τ² = s² ρ² with s² = V · N (the variance of the
difference scaled to one unit, N the current total units) and
ρ² = (−2 ln α + ln(1 − 2 ln α)) / N*; ``tuned_tau_sq`` computes it.
"""

from __future__ import annotations

import math

from offerlab.domain.reports import Interval
from offerlab.domain.stats.frequentist import check_alpha

DEFAULT_PLANNED_UNITS = 5_000


def tuned_tau_sq(
    variance_of_diff: float,
    total_units: int,
    *,
    alpha: float,
    planned_units: int = DEFAULT_PLANNED_UNITS,
) -> float:
    """Mixing variance τ² that makes the confidence sequence tightest at `planned_units`."""
    check_alpha(alpha)
    _check_variance(variance_of_diff)
    if total_units <= 0 or planned_units <= 0:
        raise ValueError("total_units and planned_units must be positive")
    log_alpha_term = -2.0 * math.log(alpha)
    rho_sq = (log_alpha_term + math.log(1.0 + log_alpha_term)) / planned_units
    return variance_of_diff * total_units * rho_sq


def mixture_likelihood_ratio(
    diff: float, variance_of_diff: float, *, tau_sq: float, null_value: float = 0.0
) -> float:
    """Λ of the normal-mixture SPRT for the difference against `null_value` (may be inf)."""
    _check_variance(variance_of_diff)
    _check_tau_sq(tau_sq)
    total = variance_of_diff + tau_sq
    exponent = tau_sq * (diff - null_value) ** 2 / (2.0 * variance_of_diff * total)
    log_ratio = 0.5 * math.log(variance_of_diff / total) + exponent
    return math.exp(log_ratio) if log_ratio < 700.0 else math.inf


def always_valid_p_value(diff: float, variance_of_diff: float, *, tau_sq: float) -> float:
    """p = min(1, 1/Λ) at one look; report the running minimum across looks."""
    _check_variance(variance_of_diff)
    _check_tau_sq(tau_sq)
    total = variance_of_diff + tau_sq
    exponent = tau_sq * diff**2 / (2.0 * variance_of_diff * total)
    return min(1.0, math.exp(-0.5 * math.log(variance_of_diff / total) - exponent))


def confidence_sequence(
    diff: float, variance_of_diff: float, *, alpha: float, tau_sq: float
) -> Interval:
    """Always-valid 1 − alpha interval for the difference (formula in the module docstring)."""
    check_alpha(alpha)
    _check_variance(variance_of_diff)
    _check_tau_sq(tau_sq)
    total = variance_of_diff + tau_sq
    half_width_sq = (
        variance_of_diff
        * total
        / tau_sq
        * (math.log(total / variance_of_diff) - 2.0 * math.log(alpha))
    )
    half_width = math.sqrt(half_width_sq)
    return Interval(diff - half_width, diff + half_width)


def _check_variance(variance_of_diff: float) -> None:
    if not (math.isfinite(variance_of_diff) and variance_of_diff > 0.0):
        raise ValueError("variance_of_diff must be positive and finite")


def _check_tau_sq(tau_sq: float) -> None:
    if not (math.isfinite(tau_sq) and tau_sq > 0.0):
        raise ValueError("tau_sq must be positive and finite")
