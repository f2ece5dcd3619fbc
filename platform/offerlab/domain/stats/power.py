"""Sample size and duration planning for a conversion experiment.

Units per variant for a two-sided two-proportion test at significance α′ and power 1 − β use
Cohen's arcsine effect size h = 2 asin √p₂ − 2 asin √p₁ (2 asin √p̂ has variance ≈ 1/n):

    n = 2 (z_{1−α′/2} + z_{1−β})² / h²   per variant (equal split, rounded up),

the same quantity ``statsmodels.stats.power.NormalIndPower().solve_power`` gives for
``proportion_effectsize(p₂, p₁)`` and ``ratio=1`` (which also counts the negligible opposite
tail). p₂ = p₁ (1 + relative MDE). With k variants there are k − 1 comparisons with the control;
Bonferroni and Holm both size with α′ = α / (k − 1): Holm's first (strictest) step uses the
Bonferroni threshold, so that is the level a single true effect must be able to pass.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import stats as sps

PowerCorrection = Literal["holm", "bonferroni", "none"]
POWER_CORRECTIONS: tuple[str, ...] = ("holm", "bonferroni", "none")


def units_needed(
    baseline_rate: float,
    relative_mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    correction: PowerCorrection = "holm",
) -> int:
    """Units per variant (control included) to detect the relative change (formula above)."""
    _check_arguments(baseline_rate, relative_mde, alpha, power, variants, correction)
    target_rate = baseline_rate * (1.0 + relative_mde)
    if not 0.0 < target_rate < 1.0:
        raise ValueError("baseline_rate * (1 + relative_mde) must be between 0 and 1 (exclusive)")
    comparisons = variants - 1
    per_test_alpha = alpha if correction == "none" else alpha / comparisons
    effect = 2.0 * math.asin(math.sqrt(target_rate)) - 2.0 * math.asin(math.sqrt(baseline_rate))
    z_sum = float(sps.norm.isf(per_test_alpha / 2.0)) + float(sps.norm.ppf(power))
    return math.ceil(2.0 * (z_sum / effect) ** 2)


def days_needed(
    units_per_variant: int, variants: int, daily_units: float, traffic: float = 1.0
) -> int:
    """Whole days until every variant has its units, with `traffic` of daily units enrolled."""
    if units_per_variant < 0:
        raise ValueError("units_per_variant must be non-negative")
    if variants < 2:
        raise ValueError("variants must be at least 2")
    if not (math.isfinite(daily_units) and daily_units > 0):
        raise ValueError("daily_units must be positive and finite")
    if not 0.0 < traffic <= 1.0:
        raise ValueError("traffic must be in (0, 1]")
    return math.ceil(units_per_variant * variants / (daily_units * traffic))


def _check_arguments(
    baseline_rate: float,
    relative_mde: float,
    alpha: float,
    power: float,
    variants: int,
    correction: str,
) -> None:
    if not 0.0 < baseline_rate < 1.0:
        raise ValueError("baseline_rate must be between 0 and 1 (exclusive)")
    if relative_mde == 0.0 or not math.isfinite(relative_mde):
        raise ValueError("relative_mde must be non-zero and finite")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be between 0 and 1 (exclusive)")
    if not 0.0 < power < 1.0:
        raise ValueError("power must be between 0 and 1 (exclusive)")
    if variants < 2:
        raise ValueError("variants must be at least 2")
    if correction not in POWER_CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {POWER_CORRECTIONS}")
