"""Bayesian comparisons checked against Monte Carlo, numeric integration and closed forms."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.bayesian import (
    beta_credible_interval,
    chance_to_be_best_conversion,
    compare_conversion_bayesian,
    compare_means_bayesian,
    normal_expected_positive_part,
)
from offerlab.domain.stats.frequentist import MeanStats

DRAWS = 1_000_000
CONVERSION_CASES = [
    # control_successes, control_n, variant_successes, variant_n
    (100, 1_000, 130, 1_000),
    (48, 1_210, 51, 1_187),
    (0, 20, 2, 25),
    (3, 4, 1, 3),
    (900, 1_000, 880, 1_000),
]


def _posterior_draws(rng, successes, n):
    return rng.beta(1 + successes, 1 + n - successes, size=DRAWS)


def _within_four_standard_errors(estimate, samples):
    standard_error = samples.std(ddof=1) / math.sqrt(len(samples))
    return abs(estimate - samples.mean()) <= 4 * standard_error + 1e-12


@pytest.mark.parametrize(("c_s", "c_n", "v_s", "v_n"), CONVERSION_CASES)
def test_conversion_matches_monte_carlo(c_s, c_n, v_s, v_n):
    rng = np.random.default_rng(c_s + 7 * v_s)
    control, variant = _posterior_draws(rng, c_s, c_n), _posterior_draws(rng, v_s, v_n)
    result = compare_conversion_bayesian(c_s, c_n, v_s, v_n)
    assert _within_four_standard_errors(result.chance_to_beat_control, (variant > control) * 1.0)
    assert _within_four_standard_errors(result.risk_of_variant, np.maximum(0, control - variant))
    assert _within_four_standard_errors(result.risk_of_control, np.maximum(0, variant - control))


@pytest.mark.parametrize(("c_s", "c_n", "v_s", "v_n"), CONVERSION_CASES)
def test_chance_to_beat_matches_numeric_integration(c_s, c_n, v_s, v_n):
    control = sps.beta(1 + c_s, 1 + c_n - c_s)
    variant = sps.beta(1 + v_s, 1 + v_n - v_s)
    reference, _ = integrate.quad(
        lambda x: variant.pdf(x) * control.cdf(x), 0, 1, points=[variant.mean()], epsabs=1e-12
    )
    result = compare_conversion_bayesian(c_s, c_n, v_s, v_n)
    assert result.chance_to_beat_control == pytest.approx(reference, abs=1e-8)


def test_symmetric_arms_give_one_half_and_equal_risks():
    result = compare_conversion_bayesian(37, 400, 37, 400)
    assert result.chance_to_beat_control == pytest.approx(0.5, abs=1e-12)
    assert result.risk_of_variant == pytest.approx(result.risk_of_control, rel=1e-9)
    assert chance_to_be_best_conversion([5, 5, 5], [50, 50, 50]) == pytest.approx(
        (1 / 3, 1 / 3, 1 / 3), abs=1e-6
    )


def test_large_samples_agree_with_the_normal_approximation():
    c_s, c_n, v_s, v_n = 10_000, 100_000, 10_250, 100_000
    result = compare_conversion_bayesian(c_s, c_n, v_s, v_n)
    p_c, p_v = c_s / c_n, v_s / v_n
    sd = math.sqrt(p_c * (1 - p_c) / c_n + p_v * (1 - p_v) / v_n)
    assert result.chance_to_beat_control == pytest.approx(sps.norm.cdf((p_v - p_c) / sd), abs=2e-3)
    assert result.risk_of_control == pytest.approx(
        normal_expected_positive_part(p_v - p_c, sd), rel=1e-2
    )


def test_risk_identity_holds():
    # E[max(0, v − c)] − E[max(0, c − v)] = E[v − c] for any posteriors.
    result = compare_conversion_bayesian(12, 90, 20, 110)
    assert result.risk_of_control - result.risk_of_variant == pytest.approx(
        21 / 112 - 13 / 92, abs=1e-12
    )


def test_huge_counts_stay_finite_and_ordered():
    result = compare_conversion_bayesian(200_000, 2_000_000, 201_500, 2_000_000)
    assert 0.99 < result.chance_to_beat_control < 1.0
    assert 0.0 <= result.risk_of_variant < 1e-5


def test_chance_to_be_best_of_two_equals_the_exact_chance_to_beat():
    for c_s, c_n, v_s, v_n in CONVERSION_CASES:
        exact = compare_conversion_bayesian(c_s, c_n, v_s, v_n).chance_to_beat_control
        best = chance_to_be_best_conversion([c_s, v_s], [c_n, v_n])
        assert best[1] == pytest.approx(exact, abs=1e-6)


@pytest.mark.parametrize(
    ("successes", "ns"),
    [
        ([100, 130, 120], [1_000, 1_000, 1_000]),
        ([0, 5, 100_000], [10, 10, 1_000_000]),
        ([3, 4, 5, 6], [30, 30, 30, 30]),
    ],
)
def test_chance_to_be_best_matches_monte_carlo(successes, ns):
    rng = np.random.default_rng(sum(successes))
    draws = np.array([_posterior_draws(rng, s, n) for s, n in zip(successes, ns, strict=True)])
    winners = draws.argmax(axis=0)
    chances = chance_to_be_best_conversion(successes, ns)
    assert sum(chances) == pytest.approx(1.0, abs=1e-12)
    for k, chance in enumerate(chances):
        assert _within_four_standard_errors(chance, (winners == k) * 1.0)


def test_credible_interval_is_the_beta_quantiles():
    interval = beta_credible_interval(7, 50, alpha=0.1)
    assert interval.low == pytest.approx(sps.beta.ppf(0.05, 8, 44), rel=1e-12)
    assert interval.high == pytest.approx(sps.beta.ppf(0.95, 8, 44), rel=1e-12)
    assert beta_credible_interval(0, 0).low == pytest.approx(0.025)


def test_conversion_without_units_is_an_error():
    result = compare_conversion_bayesian(0, 0, 3, 10)
    assert result.error is ResultError.NO_UNITS
    assert result.variant_value == pytest.approx(0.3)
    assert result.chance_to_beat_control is None


def _mean_stats(values):
    values = np.asarray(values, dtype=float)
    return MeanStats(len(values), values.sum(), (values**2).sum())


def test_means_match_closed_forms_and_monte_carlo():
    rng = np.random.default_rng(5)
    control = _mean_stats(rng.exponential(20.0, 800))
    variant = _mean_stats(rng.exponential(21.5, 900))
    result = compare_means_bayesian(control, variant, alpha=0.05)
    c_var = (control.sum_sq - control.sum**2 / control.n) / (control.n - 1) / control.n
    v_var = (variant.sum_sq - variant.sum**2 / variant.n) / (variant.n - 1) / variant.n
    difference = variant.sum / variant.n - control.sum / control.n
    sd = math.sqrt(c_var + v_var)
    assert result.chance_to_beat_control == pytest.approx(sps.norm.cdf(difference / sd), rel=1e-12)
    draws = rng.normal(difference, sd, DRAWS)
    assert _within_four_standard_errors(result.risk_of_control, np.maximum(0, draws))
    assert _within_four_standard_errors(result.risk_of_variant, np.maximum(0, -draws))
    assert result.variant_interval.high == pytest.approx(
        variant.sum / variant.n + 1.959963984540054 * math.sqrt(v_var), rel=1e-12
    )


def test_normal_expected_positive_part_matches_integration():
    for mean, sd in [(0.0, 1.0), (1.5, 0.7), (-2.0, 0.5), (0.01, 0.003)]:
        reference, _ = integrate.quad(
            lambda x, m=mean, s=sd: x * sps.norm.pdf(x, m, s), 0, mean + 12 * sd, epsabs=1e-13
        )
        assert normal_expected_positive_part(mean, sd) == pytest.approx(reference, abs=1e-10)
    assert normal_expected_positive_part(2.0, 0.0) == 2.0
    assert normal_expected_positive_part(0.0, 1.0) == pytest.approx(1 / math.sqrt(2 * math.pi))


def test_means_degenerate_cases_are_errors():
    one = MeanStats(1, 5.0, 25.0)
    flat = MeanStats(3, 6.0, 12.0)
    assert compare_means_bayesian(one, flat).error is ResultError.NO_UNITS
    result = compare_means_bayesian(flat, flat)
    assert result.error is ResultError.ZERO_VARIANCE
    assert result.control_value == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compare_conversion_bayesian(5, 4, 1, 3), "control successes must not exceed"),
        (lambda: compare_conversion_bayesian(1, 4, -1, 3), "variant counts must be non-negative"),
        (lambda: compare_conversion_bayesian(1, 4, 1, 3, alpha=0), "alpha must be between"),
        (lambda: chance_to_be_best_conversion([1], [3]), "same length of at least two"),
        (lambda: normal_expected_positive_part(0.0, -1.0), "sd must be non-negative"),
    ],
)
def test_invalid_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
