"""Delta-method ratio metrics checked against raw-data formulas, bootstrap and simulation."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.ratio import (
    RatioStats,
    average_order_value_stats,
    compare_ratios,
    ratio_estimate,
)
from offerlab.domain.stats.sufficient import VariantTotals


def _simulate_units(rng, n, *, order_rate, order_value):
    """Per-unit orders (Poisson) and revenue (each order Gamma with mean `order_value`)."""
    orders = rng.poisson(order_rate, size=n)
    shape = 2.0
    revenue = rng.gamma(shape * orders, order_value / shape)
    return revenue, orders.astype(float)


def _ratio_stats(x, y):
    return RatioStats(len(x), x.sum(), (x * x).sum(), y.sum(), (y * y).sum(), (x * y).sum())


def test_delta_variance_matches_formula_on_raw_data():
    x, y = _simulate_units(np.random.default_rng(1), 3_000, order_rate=0.4, order_value=50.0)
    estimate = ratio_estimate(_ratio_stats(x, y))
    cov = np.cov(x, y, ddof=1)
    mx, my = x.mean(), y.mean()
    expected = (cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4) / 3_000
    assert estimate.value == pytest.approx(x.sum() / y.sum(), rel=1e-12)
    assert estimate.variance == pytest.approx(expected, rel=1e-9)
    assert estimate.error is None


def test_delta_variance_within_ten_percent_of_bootstrap():
    rng = np.random.default_rng(7)
    x, y = _simulate_units(rng, 4_000, order_rate=0.3, order_value=60.0)
    indices = rng.integers(0, len(x), size=(2_000, len(x)))
    bootstrap_ratios = x[indices].sum(axis=1) / y[indices].sum(axis=1)
    # Relative standard error of a 2,000-resample variance is about sqrt(2/2000) ≈ 3%.
    assert ratio_estimate(_ratio_stats(x, y)).variance == pytest.approx(
        bootstrap_ratios.var(ddof=1), rel=0.10
    )


def test_ci_coverage_with_true_ratio_difference():
    rng = np.random.default_rng(2024)
    experiments, alpha = 400, 0.05
    covered_absolute = covered_relative = 0
    for _ in range(experiments):
        control = _ratio_stats(*_simulate_units(rng, 2_000, order_rate=0.3, order_value=50.0))
        variant = _ratio_stats(*_simulate_units(rng, 2_000, order_rate=0.25, order_value=55.0))
        result = compare_ratios(control, variant, alpha=alpha)
        covered_absolute += result.absolute_ci.low <= 5.0 <= result.absolute_ci.high
        covered_relative += result.relative_ci.low <= 0.1 <= result.relative_ci.high
    # Binomial band: 0.95 ± 3 sd, sd = sqrt(0.95 * 0.05 / 400) ≈ 0.011, i.e. [0.917, 0.983].
    band = 3 * math.sqrt(0.95 * 0.05 / experiments)
    assert abs(covered_absolute / experiments - 0.95) <= band
    assert abs(covered_relative / experiments - 0.95) <= band


def test_comparison_is_consistent_with_its_own_estimates():
    rng = np.random.default_rng(3)
    control = _ratio_stats(*_simulate_units(rng, 1_500, order_rate=0.5, order_value=40.0))
    variant = _ratio_stats(*_simulate_units(rng, 1_500, order_rate=0.5, order_value=46.0))
    result = compare_ratios(control, variant, alpha=0.10)
    c, v = ratio_estimate(control), ratio_estimate(variant)
    se = math.sqrt(c.variance + v.variance)
    z = sps.norm.isf(0.05)
    assert result.absolute_uplift == pytest.approx(v.value - c.value, rel=1e-12)
    assert result.absolute_ci.low == pytest.approx(v.value - c.value - z * se, rel=1e-12)
    assert result.p_value == pytest.approx(2 * sps.norm.sf(abs(v.value - c.value) / se), rel=1e-9)
    relative_se = math.sqrt(v.variance / c.value**2 + v.value**2 * c.variance / c.value**4)
    assert result.relative_uplift == pytest.approx(v.value / c.value - 1, rel=1e-12)
    assert result.relative_ci.high == pytest.approx(
        v.value / c.value - 1 + z * relative_se, rel=1e-12
    )
    assert result.significant == (result.p_value < 0.10)
    assert result.significant == (not result.absolute_ci.low <= 0 <= result.absolute_ci.high)


def test_average_order_value_stats_reads_unit_sums_from_totals():
    totals = VariantTotals("a", 10, 12, 3, 3, 30.0, 4, 200.0, 12_000.0, 14_000.0, 6.0, 290.0)
    assert average_order_value_stats(totals) == RatioStats(10, 200.0, 14_000.0, 4.0, 6.0, 290.0)


def test_no_units_and_no_orders_are_reported_as_errors():
    empty = RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    no_orders = RatioStats(50, 0.0, 0.0, 0.0, 0.0, 0.0)
    some = RatioStats(3, 150.0, 8_500.0, 3.0, 3.0, 150.0)
    assert ratio_estimate(empty) == (None, None, ResultError.NO_UNITS)
    assert ratio_estimate(no_orders) == (None, None, ResultError.NO_ORDERS)
    result = compare_ratios(some, no_orders, alpha=0.05)
    assert result.error is ResultError.NO_ORDERS
    assert result.control_value == pytest.approx(50.0)
    assert result.variant_value is None
    assert result.p_value is None


def test_single_unit_has_a_value_but_no_variance():
    one = RatioStats(1, 80.0, 6_400.0, 2.0, 4.0, 160.0)
    assert ratio_estimate(one) == (40.0, None, ResultError.NO_UNITS)
    other = RatioStats(3, 150.0, 8_500.0, 3.0, 3.0, 150.0)
    assert compare_ratios(one, other, alpha=0.05).error is ResultError.NO_UNITS


def test_constant_order_value_has_zero_variance():
    # Every order is worth 25 in both arms: the ratio is exact, so no test is possible.
    orders = np.array([0.0, 1.0, 2.0, 3.0, 1.0])
    control = _ratio_stats(25.0 * orders, orders)
    assert ratio_estimate(control).variance == 0.0
    result = compare_ratios(control, control, alpha=0.05)
    assert result.error is ResultError.ZERO_VARIANCE
    assert result.control_value == pytest.approx(25.0)
    assert result.p_value is None


def test_zero_control_ratio_keeps_absolute_result():
    control = RatioStats(4, 0.0, 0.0, 2.0, 2.0, 0.0)
    variant = RatioStats(4, 100.0, 5_800.0, 2.0, 2.0, 100.0)
    result = compare_ratios(control, variant, alpha=0.05)
    assert result.error is ResultError.CONTROL_ZERO
    assert result.absolute_uplift == pytest.approx(50.0)
    assert result.relative_ci is None


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        (RatioStats(-1, 0.0, 0.0, 0.0, 0.0, 0.0), "control n must be non-negative"),
        (RatioStats(2, 1.0, -1.0, 1.0, 1.0, 1.0), "control sums of squares must be non-negative"),
        (RatioStats(2, 1.0, math.nan, 1.0, 1.0, 1.0), "control sums must be finite"),
        (RatioStats(2, 10.0, 1.0, 2.0, 2.0, 10.0), "sums of squares are inconsistent"),
    ],
)
def test_invalid_sums_raise(stats, message):
    valid = RatioStats(3, 150.0, 8_500.0, 3.0, 3.0, 150.0)
    with pytest.raises(ValueError, match=message):
        compare_ratios(stats, valid, alpha=0.05)


def test_invalid_alpha_raises():
    valid = RatioStats(3, 150.0, 8_500.0, 3.0, 3.0, 150.0)
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        compare_ratios(valid, valid, alpha=1.0)
