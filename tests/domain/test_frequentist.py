"""Frequentist comparisons checked against statsmodels, scipy, closed forms and simulation."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from offerlab.domain.reports import ResultError
from offerlab.domain.stats import (
    MeanStats,
    compare_means,
    compare_proportions,
    wilson_interval,
)

REFERENCE_TOLERANCE = 1e-9

PROPORTION_CASES = [
    # control_successes, control_n, variant_successes, variant_n, alpha
    (100, 1000, 130, 1000, 0.05),
    (48, 1210, 51, 1187, 0.05),
    (3, 40, 12, 45, 0.10),
    (900, 1000, 870, 1000, 0.01),
    (0, 500, 7, 480, 0.05),
    (1, 2, 2, 3, 0.05),
    (12_345, 150_000, 12_801, 150_500, 0.05),
]


def _mean_stats(values: np.ndarray) -> MeanStats:
    return MeanStats(len(values), float(values.sum()), float((values**2).sum()))


@pytest.mark.parametrize(("c_x", "c_n", "v_x", "v_n", "alpha"), PROPORTION_CASES)
def test_proportions_p_value_matches_statsmodels_ztest(c_x, c_n, v_x, v_n, alpha):
    result = compare_proportions(c_x, c_n, v_x, v_n, alpha=alpha)
    _, reference = proportions_ztest([v_x, c_x], [v_n, c_n])
    assert result.p_value == pytest.approx(reference, rel=REFERENCE_TOLERANCE, abs=1e-300)
    assert result.significant == (reference < alpha)


@pytest.mark.parametrize(("c_x", "c_n", "v_x", "v_n", "alpha"), PROPORTION_CASES)
def test_proportions_difference_ci_matches_statsmodels_wald(c_x, c_n, v_x, v_n, alpha):
    result = compare_proportions(c_x, c_n, v_x, v_n, alpha=alpha)
    low, high = confint_proportions_2indep(
        v_x, v_n, c_x, c_n, method="wald", compare="diff", alpha=alpha
    )
    assert result.absolute_uplift == pytest.approx(v_x / v_n - c_x / c_n, abs=1e-15)
    assert result.absolute_ci.low == pytest.approx(low, abs=REFERENCE_TOLERANCE)
    assert result.absolute_ci.high == pytest.approx(high, abs=REFERENCE_TOLERANCE)


def test_proportions_relative_ci_matches_delta_method_closed_form():
    c_x, c_n, v_x, v_n = 100, 1000, 130, 1000
    result = compare_proportions(c_x, c_n, v_x, v_n, alpha=0.05)
    p_c, p_v = c_x / c_n, v_x / v_n
    ratio = p_v / p_c
    var_c, var_v = p_c * (1 - p_c) / c_n, p_v * (1 - p_v) / v_n
    se = math.sqrt(ratio**2 * (var_v / p_v**2 + var_c / p_c**2))
    z = sps.norm.ppf(0.975)
    assert result.relative_uplift == pytest.approx(0.3, rel=1e-12)
    assert result.relative_ci.low == pytest.approx(ratio - 1 - z * se, rel=1e-12)
    assert result.relative_ci.high == pytest.approx(ratio - 1 + z * se, rel=1e-12)


MEAN_CASES = [
    # (control n, mean, sd), (variant n, mean, sd), alpha
    ((200, 55.0, 20.0), (210, 58.0, 25.0), 0.05),
    ((5, 10.0, 1.0), (40, 12.0, 8.0), 0.05),
    ((3000, 1.7, 9.0), (2900, 1.9, 9.5), 0.10),
    ((2, 3.0, 0.5), (2, 4.0, 3.0), 0.05),
    ((50, 100.0, 0.0), (60, 103.0, 4.0), 0.05),
]


def _simulated_sample(rng, n, mean, sd):
    values = rng.normal(mean, sd if sd > 0 else 1.0, size=n)
    if sd == 0:
        return np.full(n, mean)
    return values


@pytest.mark.parametrize(("control_spec", "variant_spec", "alpha"), MEAN_CASES)
def test_welch_p_value_matches_scipy(control_spec, variant_spec, alpha):
    rng = np.random.default_rng(11)
    control = _simulated_sample(rng, *control_spec)
    variant = _simulated_sample(rng, *variant_spec)
    result = compare_means(_mean_stats(control), _mean_stats(variant), alpha=alpha)
    reference = sps.ttest_ind_from_stats(
        variant.mean(),
        variant.std(ddof=1),
        len(variant),
        control.mean(),
        control.std(ddof=1),
        len(control),
        equal_var=False,
    )
    assert result.p_value == pytest.approx(reference.pvalue, rel=REFERENCE_TOLERANCE)
    assert result.significant == (reference.pvalue < alpha)


@pytest.mark.parametrize(("control_spec", "variant_spec", "alpha"), MEAN_CASES)
def test_welch_ci_matches_closed_form_with_t_quantile(control_spec, variant_spec, alpha):
    rng = np.random.default_rng(12)
    control = _simulated_sample(rng, *control_spec)
    variant = _simulated_sample(rng, *variant_spec)
    result = compare_means(_mean_stats(control), _mean_stats(variant), alpha=alpha)
    vn_c = control.var(ddof=1) / len(control)
    vn_v = variant.var(ddof=1) / len(variant)
    df = (vn_c + vn_v) ** 2 / (vn_c**2 / (len(control) - 1) + vn_v**2 / (len(variant) - 1))
    half_width = sps.t.ppf(1 - alpha / 2, df) * math.sqrt(vn_c + vn_v)
    difference = variant.mean() - control.mean()
    assert result.absolute_uplift == pytest.approx(difference, rel=REFERENCE_TOLERANCE)
    assert result.absolute_ci.low == pytest.approx(difference - half_width, rel=1e-8, abs=1e-9)
    assert result.absolute_ci.high == pytest.approx(difference + half_width, rel=1e-8, abs=1e-9)


def test_welch_accepts_plain_tuples():
    as_tuple = compare_means((3, 6.0, 14.0), (4, 12.0, 40.0), alpha=0.05)
    as_stats = compare_means(MeanStats(3, 6.0, 14.0), MeanStats(4, 12.0, 40.0), alpha=0.05)
    assert as_tuple == as_stats
    assert as_tuple.control_value == 2.0 and as_tuple.variant_value == 3.0


def test_wilson_interval_matches_statsmodels():
    for successes, n, alpha in [(0, 10, 0.05), (7, 10, 0.05), (130, 1000, 0.1), (50, 50, 0.01)]:
        low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
        interval = wilson_interval(successes, n, alpha=alpha)
        assert interval.low == pytest.approx(low, abs=REFERENCE_TOLERANCE)
        assert interval.high == pytest.approx(high, abs=REFERENCE_TOLERANCE)
    assert wilson_interval(0, 0, alpha=0.05) is None


def _coverage_tolerance(replications: int, level: float) -> float:
    """3.29 binomial standard errors (false failure about 1 in 1000) plus 0.5 percentage points.

    The extra half point allows for the delta method being a large-sample approximation.
    """
    return 3.29 * math.sqrt(level * (1 - level) / replications) + 0.005


def test_relative_ci_of_proportions_covers_true_uplift_in_simulation():
    rng = np.random.default_rng(2024)
    replications, n, p_c, p_v = 2000, 4000, 0.08, 0.10
    true_uplift = p_v / p_c - 1
    control_hits = rng.binomial(n, p_c, size=replications)
    variant_hits = rng.binomial(n, p_v, size=replications)
    covered = [
        (ci := compare_proportions(c, n, v, n, alpha=0.05).relative_ci).low
        <= true_uplift
        <= ci.high
        for c, v in zip(control_hits, variant_hits, strict=True)
    ]
    assert abs(np.mean(covered) - 0.95) < _coverage_tolerance(replications, 0.95)


def _revenue_per_visitor(rng, shape, conversion, log_mean):
    """Zero-inflated log-normal revenue per visitor, the usual shape of shop revenue."""
    bought = rng.random(shape) < conversion
    return np.where(bought, rng.lognormal(log_mean, 0.6, size=shape), 0.0)


def test_relative_ci_of_means_covers_true_uplift_in_simulation():
    rng = np.random.default_rng(7)
    replications, n = 1000, 3000
    control_conv, variant_conv, log_mean = 0.2, 0.23, 3.5
    true_uplift = variant_conv / control_conv - 1  # same order-value distribution in both arms
    control = _revenue_per_visitor(rng, (replications, n), control_conv, log_mean)
    variant = _revenue_per_visitor(rng, (replications, n), variant_conv, log_mean)
    covered = []
    for c_row, v_row in zip(control, variant, strict=True):
        ci = compare_means(_mean_stats(c_row), _mean_stats(v_row), alpha=0.05).relative_ci
        covered.append(ci.low <= true_uplift <= ci.high)
    assert abs(np.mean(covered) - 0.95) < _coverage_tolerance(replications, 0.95)


def test_relative_ci_width_agrees_with_bootstrap_of_raw_data():
    rng = np.random.default_rng(99)
    control = _revenue_per_visitor(rng, 5000, 0.2, 3.5)
    variant = _revenue_per_visitor(rng, 5000, 0.24, 3.5)
    result = compare_means(_mean_stats(control), _mean_stats(variant), alpha=0.05)
    boot = 2000
    c_means = control[rng.integers(0, control.size, size=(boot, control.size))].mean(axis=1)
    v_means = variant[rng.integers(0, variant.size, size=(boot, variant.size))].mean(axis=1)
    bootstrap_se = np.std(v_means / c_means - 1, ddof=1)
    delta_se = (result.relative_ci.high - result.relative_ci.low) / (2 * sps.norm.ppf(0.975))
    # The bootstrap SE itself has about 1.6 % sampling error at 2000 resamples; allow 8 %.
    assert delta_se == pytest.approx(bootstrap_se, rel=0.08)


DEGENERATE_PROPORTIONS = [
    # args, expected error, expected control_value, expected variant_value
    ((0, 0, 5, 10), ResultError.NO_UNITS, None, None),
    ((3, 10, 0, 0), ResultError.NO_UNITS, None, None),
    ((0, 10, 0, 12), ResultError.ZERO_VARIANCE, 0.0, 0.0),
    ((10, 10, 12, 12), ResultError.ZERO_VARIANCE, 1.0, 1.0),
]


@pytest.mark.parametrize(
    ("args", "error", "control_value", "variant_value"), DEGENERATE_PROPORTIONS
)
def test_degenerate_proportions_return_error_without_numbers(
    args, error, control_value, variant_value
):
    result = compare_proportions(*args, alpha=0.05)
    assert result.error is error
    assert (result.control_value, result.variant_value) == (control_value, variant_value)
    assert result.p_value is None and result.absolute_ci is None and result.relative_ci is None
    assert result.absolute_uplift is None and result.relative_uplift is None
    assert not result.significant


DEGENERATE_MEANS = [
    (((1, 5.0, 25.0), (10, 50.0, 300.0)), ResultError.NO_UNITS),
    (((10, 50.0, 300.0), (0, 0.0, 0.0)), ResultError.NO_UNITS),
    (((0, 0.0, 0.0), (0, 0.0, 0.0)), ResultError.NO_UNITS),
    (((10, 50.0, 250.0), (20, 100.0, 500.0)), ResultError.ZERO_VARIANCE),
    (((4, 0.0, 0.0), (4, 0.0, 0.0)), ResultError.ZERO_VARIANCE),
    (((3, 3 * 49.99, 3 * 49.99**2), (3, 3 * 59.99, 3 * 59.99**2)), ResultError.ZERO_VARIANCE),
]


@pytest.mark.parametrize(("args", "error"), DEGENERATE_MEANS)
def test_degenerate_means_return_error_without_numbers(args, error):
    result = compare_means(*args, alpha=0.05)
    assert result.error is error
    assert result.p_value is None and result.absolute_ci is None and result.relative_ci is None
    assert not result.significant


def test_zero_control_keeps_absolute_comparison_but_drops_relative():
    proportions = compare_proportions(0, 500, 7, 480, alpha=0.05)
    _, reference = proportions_ztest([7, 0], [480, 500])
    means = compare_means((2, 0.0, 2.0), (3, 6.0, 14.0), alpha=0.05)  # control values -1 and 1
    for result in (proportions, means):
        assert result.error is ResultError.CONTROL_ZERO
        assert result.relative_uplift is None and result.relative_ci is None
        assert result.absolute_ci is not None and result.p_value is not None
    assert proportions.p_value == pytest.approx(reference, rel=REFERENCE_TOLERANCE)


INVALID_INPUTS = [
    (lambda: compare_proportions(1, 10, 2, 10, alpha=0.0), "alpha must be between 0 and 1"),
    (lambda: compare_proportions(1, 10, 2, 10, alpha=1.0), "alpha must be between 0 and 1"),
    (lambda: compare_proportions(11, 10, 2, 10, alpha=0.05), "control successes must not exceed"),
    (lambda: compare_proportions(1, 10, -2, 10, alpha=0.05), "variant counts must be non-neg"),
    (lambda: compare_means((3, 1.0, 1.0), (-1, 0.0, 0.0), alpha=0.05), "variant n must be non-neg"),
    (
        lambda: compare_means((3, 1.0, -1.0), (3, 1.0, 1.0), alpha=0.05),
        "control sum_sq must be non",
    ),
    (lambda: compare_means((3, 30.0, 10.0), (3, 1.0, 1.0), alpha=0.05), "sum_sq is inconsistent"),
    (lambda: wilson_interval(3, 2, alpha=0.05), "sample successes must not exceed"),
]


@pytest.mark.parametrize(("call", "message"), INVALID_INPUTS)
def test_invalid_inputs_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
