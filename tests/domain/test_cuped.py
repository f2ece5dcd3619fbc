"""CUPED in the engine against brute force on simulated raw per-unit data (OLS, scipy Welch)."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import stats as sps

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.engine import VariantSums, analyse
from offerlab.domain.stats.sequential import always_valid_p_value, tuned_tau_sq

REL = 1e-9


def arm(name, covariate, revenue):
    return VariantSums(
        variant=name,
        units=len(revenue),
        conversions=int((revenue > 0).sum()),
        revenue_sum=float(revenue.sum()),
        revenue_sum_sq=float((revenue**2).sum()),
        orders_sum=float((revenue > 0).sum()),
        orders_sum_sq=float((revenue > 0).sum()),
        revenue_orders_sum_prod=float(revenue.sum()),
        covariate_sum=float(covariate.sum()),
        covariate_sum_sq=float((covariate**2).sum()),
        revenue_covariate_sum_prod=float((revenue * covariate).sum()),
    )


def correlated_arms(seed=1, n=(3_000, 2_800, 3_200), lifts=(0.0, 4.0, 1.0), slope=0.6):
    """Pre-period spend x and in-experiment revenue y = slope·x + lift + noise, per arm."""
    rng = np.random.default_rng(seed)
    raw = []
    for size, lift in zip(n, lifts[: len(n)], strict=True):
        x = rng.gamma(2.0, 40.0, size)
        y = np.maximum(0.0, slope * x + lift + rng.normal(0.0, 25.0, size))
        raw.append((x, y))
    names = ["control", "bundle", "warranty"][: len(n)]
    return [arm(name, x, y) for name, (x, y) in zip(names, raw, strict=True)], raw


def brute_force(raw):
    """OLS of y on one intercept per arm and x: θ and the arms' intercept differences."""
    x = np.concatenate([a[0] for a in raw])
    y = np.concatenate([a[1] for a in raw])
    dummies = np.zeros((len(x), len(raw)))
    start = 0
    for index, (xs, _ys) in enumerate(raw):
        dummies[start : start + len(xs), index] = 1.0
        start += len(xs)
    coefficients, *_ = np.linalg.lstsq(np.column_stack([dummies, x]), y, rcond=None)
    theta = coefficients[-1]
    adjusted = [ys - theta * (xs - x.mean()) for xs, ys in raw]
    return theta, coefficients[:-1], adjusted


def revenue_items(report):
    return {c.variant: c for c in report.comparisons if c.metric == "revenue_per_unit"}


def test_theta_and_uplift_equal_ols_with_arm_intercepts():
    variants, raw = correlated_arms()
    theta, intercepts, adjusted = brute_force(raw)
    report = analyse(variants, correction="none")
    assert report.variance_reduction.covariate_used
    assert report.variance_reduction.theta == pytest.approx(theta, rel=REL)
    for index, name in ((1, "bundle"), (2, "warranty")):
        item = revenue_items(report)[name]
        ols_effect = intercepts[index] - intercepts[0]
        assert item.comparison.absolute_uplift == pytest.approx(ols_effect, rel=REL)
        assert item.comparison.control_value == pytest.approx(adjusted[0].mean(), rel=REL)
        assert item.comparison.variant_value == pytest.approx(adjusted[index].mean(), rel=REL)


def test_p_value_and_interval_equal_welch_on_the_adjusted_raw_values():
    variants, raw = correlated_arms()
    _theta, _intercepts, adjusted = brute_force(raw)
    report = analyse(variants, correction="none")
    for index, name in ((1, "bundle"), (2, "warranty")):
        item = revenue_items(report)[name]
        control, variant = adjusted[0], adjusted[index]
        reference = sps.ttest_ind(variant, control, equal_var=False)
        interval = reference.confidence_interval(0.95)
        assert item.comparison.p_value == pytest.approx(reference.pvalue, rel=REL)
        assert item.comparison.absolute_ci.low == pytest.approx(interval.low, rel=REL)
        assert item.comparison.absolute_ci.high == pytest.approx(interval.high, rel=REL)


def test_variance_ratio_is_one_minus_the_pooled_within_correlation_squared():
    variants, raw = correlated_arms()
    centred_x = np.concatenate([x - x.mean() for x, _y in raw])
    centred_y = np.concatenate([y - y.mean() for _x, y in raw])
    rho = (centred_x @ centred_y) / np.sqrt((centred_x @ centred_x) * (centred_y @ centred_y))
    reduction = analyse(variants).variance_reduction
    assert reduction.variance_ratio == pytest.approx(1.0 - rho**2, rel=REL)


def test_intervals_narrow_on_correlated_data():
    variants, raw = correlated_arms()
    with_covariate = analyse(variants, correction="none")
    plain = [
        dataclasses.replace(
            v,
            covariate_sum=None,
            covariate_sum_sq=None,
            revenue_covariate_sum_prod=None,
        )
        for v in variants
    ]
    without = analyse(plain, correction="none")
    assert without.variance_reduction is None
    ratios = []
    for name in ("bundle", "warranty"):
        adjusted = revenue_items(with_covariate)[name].comparison.absolute_ci
        unadjusted = revenue_items(without)[name].comparison.absolute_ci
        ratios.append((adjusted.high - adjusted.low) / (unadjusted.high - unadjusted.low))
    assert max(ratios) < 0.8  # ρ ≈ 0.8 here: widths shrink to about √(1 − ρ²) ≈ 0.6
    narrowing = with_covariate.variance_reduction.interval_narrowing
    assert narrowing == pytest.approx(1.0 - np.mean(ratios), rel=REL)
    # The adjustment has more power on the +4 lift than the raw comparison.
    assert revenue_items(with_covariate)["bundle"].comparison.p_value < (
        revenue_items(without)["bundle"].comparison.p_value
    )


def test_an_unrelated_covariate_barely_changes_the_interval():
    rng = np.random.default_rng(4)
    raw = [(rng.normal(50.0, 10.0, 4_000), rng.gamma(2.0, 20.0, 4_000)) for _ in range(2)]
    report = analyse([arm("control", *raw[0]), arm("b", *raw[1])])
    assert abs(report.variance_reduction.interval_narrowing) < 0.01
    assert report.variance_reduction.variance_ratio > 0.99


def test_sequential_mode_applies_to_the_adjusted_estimate():
    variants, raw = correlated_arms(n=(3_000, 2_800))
    _theta, _intercepts, adjusted = brute_force(raw)
    report = analyse(variants, correction="none", sequential=True, planned_units=20_000)
    item = revenue_items(report)["bundle"]
    control, variant = adjusted
    diff = variant.mean() - control.mean()
    variance = variant.var(ddof=1) / len(variant) + control.var(ddof=1) / len(control)
    tau_sq = tuned_tau_sq(variance, 5_800, alpha=0.05, planned_units=20_000)
    expected = always_valid_p_value(diff, variance, tau_sq=tau_sq)
    assert item.comparison.p_value == pytest.approx(expected, rel=1e-7)


def test_covariate_without_spread_is_reported_and_not_used():
    rng = np.random.default_rng(2)
    raw = [(np.full(500, 7.0), rng.gamma(2.0, 20.0, 500)) for _ in range(2)]
    report = analyse([arm("control", *raw[0]), arm("b", *raw[1])])
    reduction = report.variance_reduction
    assert not reduction.covariate_used and reduction.theta is None
    assert reduction.error is ResultError.ZERO_VARIANCE
    unadjusted = sps.ttest_ind(raw[1][1], raw[0][1], equal_var=False)
    assert revenue_items(report)["b"].comparison.p_value == pytest.approx(
        unadjusted.pvalue, rel=1e-7
    )
    json.dumps(report.to_dict(), allow_nan=False)


def test_covariate_in_only_some_variants_is_not_used():
    variants, _raw = correlated_arms(n=(300, 300))
    partial = dataclasses.replace(
        variants[1],
        covariate_sum=None,
        covariate_sum_sq=None,
        revenue_covariate_sum_prod=None,
    )
    assert analyse([variants[0], partial]).variance_reduction is None
