"""Sample size planning checked against statsmodels' NormalIndPower and a simulation."""

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from offerlab.domain.stats.power import days_needed, units_needed

CASES = [
    # baseline_rate, relative_mde, alpha, power
    (0.10, 0.10, 0.05, 0.8),
    (0.03, 0.05, 0.05, 0.9),
    (0.50, -0.10, 0.01, 0.8),
    (0.002, 0.5, 0.10, 0.95),
    (0.9, 0.05, 0.05, 0.8),
]


def _statsmodels_units(baseline, mde, alpha, power):
    effect = proportion_effectsize(baseline * (1 + mde), baseline)
    return NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1)


@pytest.mark.parametrize(("baseline", "mde", "alpha", "power"), CASES)
def test_matches_statsmodels_normal_ind_power(baseline, mde, alpha, power):
    reference = _statsmodels_units(baseline, mde, alpha, power)
    units = units_needed(baseline, mde, alpha=alpha, power=power, correction="none")
    # statsmodels also counts the opposite tail, which lowers n by far less than one unit.
    assert units == math.ceil(reference)
    effect = proportion_effectsize(baseline * (1 + mde), baseline)
    assert NormalIndPower().power(effect, nobs1=units, alpha=alpha, ratio=1) >= power
    assert NormalIndPower().power(effect, nobs1=units - 1, alpha=alpha, ratio=1) < power


@pytest.mark.parametrize("correction", ["holm", "bonferroni"])
def test_more_variants_use_the_bonferroni_level(correction):
    units = units_needed(0.1, 0.1, alpha=0.05, power=0.8, variants=4, correction=correction)
    assert units == math.ceil(_statsmodels_units(0.1, 0.1, 0.05 / 3, 0.8))
    assert units > units_needed(0.1, 0.1, variants=4, correction="none")
    assert units_needed(0.1, 0.1, variants=2, correction=correction) == units_needed(
        0.1, 0.1, correction="none"
    )


def test_planned_size_reaches_the_planned_power_in_simulation():
    baseline, mde, runs = 0.1, 0.2, 2_000
    units = units_needed(baseline, mde, alpha=0.05, power=0.8)
    rng = np.random.default_rng(42)
    control = rng.binomial(units, baseline, size=runs)
    variant = rng.binomial(units, baseline * (1 + mde), size=runs)
    rejected = sum(
        proportions_ztest([v, c], [units, units])[1] < 0.05
        for c, v in zip(control, variant, strict=True)
    )
    # Binomial band: 0.8 ± 4 sd, sd = sqrt(0.8 * 0.2 / 2000) ≈ 0.009.
    assert abs(rejected / runs - 0.8) <= 4 * math.sqrt(0.8 * 0.2 / runs)


def test_days_needed_rounds_up_whole_days():
    assert days_needed(1_000, 2, 400) == 5
    assert days_needed(1_000, 2, 500) == 4
    assert days_needed(1_000, 3, 1_000, traffic=0.5) == 6
    assert days_needed(0, 2, 10) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: units_needed(0.0, 0.1), "baseline_rate must be between 0 and 1"),
        (lambda: units_needed(0.1, 0.0), "relative_mde must be non-zero and finite"),
        (lambda: units_needed(0.6, 1.0), r"baseline_rate \* \(1 \+ relative_mde\) must be"),
        (lambda: units_needed(0.1, 0.1, alpha=0.0), "alpha must be between 0 and 1"),
        (lambda: units_needed(0.1, 0.1, power=1.0), "power must be between 0 and 1"),
        (lambda: units_needed(0.1, 0.1, variants=1), "variants must be at least 2"),
        (lambda: units_needed(0.1, 0.1, correction="sidak"), "unknown correction 'sidak'"),
        (lambda: days_needed(-1, 2, 10), "units_per_variant must be non-negative"),
        (lambda: days_needed(10, 1, 10), "variants must be at least 2"),
        (lambda: days_needed(10, 2, 0), "daily_units must be positive and finite"),
        (lambda: days_needed(10, 2, 10, traffic=1.5), r"traffic must be in \(0, 1\]"),
    ],
)
def test_invalid_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
