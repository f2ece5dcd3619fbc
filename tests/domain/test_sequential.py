"""Mixture SPRT checked against numeric integration and A/A simulations with peeking."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from offerlab.domain.stats.sequential import (
    always_valid_p_value,
    confidence_sequence,
    mixture_likelihood_ratio,
    tuned_tau_sq,
)

EXPERIMENTS, LOOKS, UNITS_PER_DAY, RATE, ALPHA = 1_000, 30, 200, 0.1, 0.05


def _aa_looks(seed):
    """Cumulative differences of conversion and their variances at each daily look, per run."""
    rng = np.random.default_rng(seed)
    conversions = rng.binomial(UNITS_PER_DAY, RATE, size=(2, EXPERIMENTS, LOOKS)).cumsum(axis=2)
    units = UNITS_PER_DAY * np.arange(1, LOOKS + 1)
    rates = conversions / units
    variances = (rates * (1 - rates) / units).sum(axis=0)
    return rates[1] - rates[0], variances, units


def test_mixture_ratio_matches_numeric_integration():
    for diff, variance, tau_sq in [(0.01, 1e-4, 4e-4), (-0.3, 0.02, 0.01), (2.0, 1.0, 9.0)]:
        sd = math.sqrt(variance)
        reference, _ = integrate.quad(
            lambda theta, d=diff, s=sd, t=tau_sq: (
                sps.norm.pdf(d, theta, s)
                / sps.norm.pdf(d, 0.0, s)
                * sps.norm.pdf(theta, 0.0, math.sqrt(t))
            ),
            -np.inf,
            np.inf,
        )
        ratio = mixture_likelihood_ratio(diff, variance, tau_sq=tau_sq)
        assert ratio == pytest.approx(reference, rel=1e-7)
        assert always_valid_p_value(diff, variance, tau_sq=tau_sq) == pytest.approx(
            min(1.0, 1.0 / reference), rel=1e-7
        )


def test_p_value_below_alpha_exactly_when_zero_leaves_the_sequence():
    rng = np.random.default_rng(3)
    for _ in range(500):
        diff, variance, tau_sq = (
            rng.normal(0, 0.05),
            rng.uniform(1e-4, 1e-3),
            rng.uniform(1e-4, 1e-2),
        )
        interval = confidence_sequence(diff, variance, alpha=ALPHA, tau_sq=tau_sq)
        excludes_zero = not interval.low <= 0.0 <= interval.high
        assert excludes_zero == (always_valid_p_value(diff, variance, tau_sq=tau_sq) < ALPHA)


def test_stopping_at_first_significant_look_keeps_false_positives_below_alpha():
    diffs, variances, units = _aa_looks(seed=2017)
    true_variance_per_unit = 2 * RATE * (1 - RATE)
    tau_sq = tuned_tau_sq(
        true_variance_per_unit / units[-1], units[-1], alpha=ALPHA, planned_units=units[-1]
    )
    sequential = np.array(
        [
            [always_valid_p_value(d, v, tau_sq=tau_sq) for d, v in zip(run_d, run_v, strict=True)]
            for run_d, run_v in zip(diffs, variances, strict=True)
        ]
    )
    naive = 2 * sps.norm.sf(np.abs(diffs) / np.sqrt(variances))
    sequential_rate = (sequential.min(axis=1) < ALPHA).mean()
    naive_rate = (naive.min(axis=1) < ALPHA).mean()
    # Binomial margin: 3 sd of a rate alpha over 1,000 runs ≈ 0.021.
    assert sequential_rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / EXPERIMENTS)
    # Peeking 30 times with fixed-horizon tests inflates the rate (typically to ~0.25-0.3).
    assert naive_rate > 0.15


def test_confidence_sequence_contains_fixed_horizon_interval_at_every_n():
    unit_variance = 0.18
    for alpha in (0.01, 0.05, 0.1, 0.2):
        z = sps.norm.isf(alpha / 2)
        for planned in (100, 5_000, 1_000_000):
            for n in (2, 10, 100, 1_000, 10_000, 1_000_000, 10**9):
                variance = unit_variance / n
                tau_sq = tuned_tau_sq(variance, n, alpha=alpha, planned_units=planned)
                interval = confidence_sequence(0.3, variance, alpha=alpha, tau_sq=tau_sq)
                assert interval.low < 0.3 - z * math.sqrt(variance)
                assert interval.high > 0.3 + z * math.sqrt(variance)


def test_confidence_sequence_is_tightest_near_the_planned_size():
    unit_variance, alpha, planned = 0.5, 0.05, 5_000

    def width_at_planned(tau_sq):
        variance = unit_variance / planned
        interval = confidence_sequence(0.0, variance, alpha=alpha, tau_sq=tau_sq)
        return interval.high - interval.low

    tuned = tuned_tau_sq(unit_variance / planned, planned, alpha=alpha, planned_units=planned)
    assert width_at_planned(tuned) < width_at_planned(tuned * 4)
    assert width_at_planned(tuned) < width_at_planned(tuned / 4)


def test_tuned_tau_sq_matches_growthbook_rho():
    alpha, planned = 0.05, 5_000
    rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned)
    assert tuned_tau_sq(0.002, 300, alpha=alpha) == pytest.approx(0.002 * 300 * rho**2, rel=1e-12)


def test_extreme_evidence_stays_finite():
    assert always_valid_p_value(100.0, 1e-6, tau_sq=1.0) == 0.0
    assert mixture_likelihood_ratio(100.0, 1e-6, tau_sq=1.0) == math.inf
    assert always_valid_p_value(0.0, 1.0, tau_sq=1e-6) == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: always_valid_p_value(0.1, 0.0, tau_sq=1.0), "variance_of_diff must be positive"),
        (lambda: always_valid_p_value(0.1, 1.0, tau_sq=0.0), "tau_sq must be positive"),
        (lambda: confidence_sequence(0.1, 1.0, alpha=1.0, tau_sq=1.0), "alpha must be between"),
        (lambda: tuned_tau_sq(1.0, 0, alpha=0.05), "total_units and planned_units must be"),
    ],
)
def test_invalid_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
