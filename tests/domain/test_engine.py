"""The analysis engine checked against statsmodels and scipy on sums and on simulated raw data."""

import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.engine import InvalidSums, VariantSums, analyse
from offerlab.domain.stats.sequential import always_valid_p_value, confidence_sequence, tuned_tau_sq

REL = 1e-9


def sums_from_units(name, revenue, orders, converted, weight=None):
    """VariantSums of per-unit raw arrays, as the SQL aggregation would produce them."""
    return VariantSums(
        variant=name,
        units=len(revenue),
        conversions=int(converted.sum()),
        revenue_sum=float(revenue.sum()),
        revenue_sum_sq=float((revenue**2).sum()),
        orders_sum=float(orders.sum()),
        orders_sum_sq=float((orders**2).sum()),
        revenue_orders_sum_prod=float((revenue * orders).sum()),
        weight=weight,
    )


def simulate(rng, name, n, *, order_rate, order_value, weight=None):
    orders = rng.poisson(order_rate, size=n).astype(float)
    revenue = np.where(orders > 0, rng.gamma(2.0 * np.maximum(orders, 1.0), order_value / 2.0), 0.0)
    return sums_from_units(name, revenue, orders, orders > 0, weight), (revenue, orders)


def three_arms(seed=7, n=3_000):
    rng = np.random.default_rng(seed)
    arms = [
        simulate(rng, "control", n, order_rate=0.05, order_value=60.0),
        simulate(rng, "warranty_39", n, order_rate=0.06, order_value=62.0),
        simulate(rng, "warranty_29", n, order_rate=0.07, order_value=58.0),
    ]
    return [sums for sums, _raw in arms], [raw for _sums, raw in arms]


def by_key(report):
    return {(c.variant, c.metric): c for c in report.comparisons}


def test_conversion_matches_statsmodels_z_test_and_wald_interval():
    control = VariantSums("control", 2_000, 90, 0.0, 0.0, 0.0, 0.0, 0.0)
    variant = VariantSums("b", 2_100, 126, 0.0, 0.0, 0.0, 0.0, 0.0)
    report = analyse([control, variant], alpha=0.05, correction="none")
    item = by_key(report)[("b", "conversion")]
    _z, p = proportions_ztest([126, 90], [2_100, 2_000])
    low, high = confint_proportions_2indep(126, 2_100, 90, 2_000, method="wald", alpha=0.05)
    assert item.comparison.p_value == pytest.approx(p, rel=REL)
    assert item.comparison.absolute_ci.low == pytest.approx(low, rel=REL)
    assert item.comparison.absolute_ci.high == pytest.approx(high, rel=REL)
    assert item.interval_alpha == 0.05


def test_revenue_per_unit_matches_welch_on_raw_data():
    variants, raw = three_arms()
    report = analyse(variants, correction="none")
    for (revenue, _orders), sums in zip(raw[1:], variants[1:], strict=True):
        item = by_key(report)[(sums.variant, "revenue_per_unit")]
        control_revenue = raw[0][0]
        expected = sps.ttest_ind(revenue, control_revenue, equal_var=False)
        from_stats = sps.ttest_ind_from_stats(
            revenue.mean(),
            revenue.std(ddof=1),
            len(revenue),
            control_revenue.mean(),
            control_revenue.std(ddof=1),
            len(control_revenue),
            equal_var=False,
        )
        assert item.comparison.p_value == pytest.approx(expected.pvalue, rel=1e-7)
        assert item.comparison.p_value == pytest.approx(from_stats.pvalue, rel=1e-7)
        assert item.comparison.absolute_uplift == pytest.approx(
            revenue.mean() - control_revenue.mean(), rel=REL
        )


def test_variant_figures_equal_raw_data_means():
    variants, raw = three_arms()
    report = analyse(variants)
    for summary, (revenue, orders) in zip(report.variants, raw, strict=True):
        assert summary.revenue_per_unit == pytest.approx(revenue.mean(), rel=REL)
        assert summary.average_order_value == pytest.approx(revenue.sum() / orders.sum(), rel=REL)
        assert summary.orders_per_unit == pytest.approx(orders.mean(), rel=REL)
        assert summary.conversion_rate == pytest.approx((orders > 0).mean(), rel=REL)
    assert math.fsum(v.chance_to_be_best_conversion for v in report.variants) == pytest.approx(1.0)


@pytest.mark.parametrize(("correction", "reference"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_p_values_match_multipletests_over_all_comparisons(correction, reference):
    variants, _raw = three_arms()
    report = analyse(variants, correction=correction)
    raw_p = [c.comparison.p_value for c in report.comparisons]
    rejected, expected, _, _ = multipletests(raw_p, alpha=0.05, method=reference)
    # Every decision metric with inputs: conversion, revenue, AOV and orders per unit, 2 variants.
    assert len(raw_p) == 8 and report.comparisons_tested == 8
    assert [c.adjusted_p_value for c in report.comparisons] == pytest.approx(expected, rel=REL)
    assert [c.significant for c in report.comparisons] == list(rejected)


@pytest.mark.parametrize("correction", ["holm", "bh", "none"])
@pytest.mark.parametrize("sequential", [False, True])
def test_significant_exactly_when_interval_excludes_zero(correction, sequential):
    # Welch and delta-method ratio tests use the same statistic for p and CI, so agreement is
    # exact there; conversion's pooled p against the unpooled interval is only approximate.
    checked = 0
    for seed in range(12):
        variants, _raw = three_arms(seed, n=4_000)
        report = analyse(variants, correction=correction, sequential=sequential)
        for item in report.comparisons:
            ci = item.comparison.absolute_ci
            if item.metric == "conversion" or ci is None:
                continue
            assert item.significant == (ci.low > 0 or ci.high < 0), (seed, item)
            checked += 1
    assert checked >= 40


def test_holm_interval_levels_follow_the_step_down():
    variants, _raw = three_arms()
    report = analyse(variants, correction="holm")
    ranked = sorted(report.comparisons, key=lambda c: c.comparison.p_value)
    m = len(ranked)
    first_failure = next(i for i, c in enumerate(ranked) if not c.significant)
    for rank, item in enumerate(ranked):
        step = rank if item.significant else first_failure
        assert item.interval_alpha == pytest.approx(0.05 / (m - step), rel=REL)


def test_sequential_uses_mixture_sprt_with_tau_tuned_to_planned_units():
    variants, raw = three_arms()
    report = analyse(variants, correction="none", sequential=True, planned_units=50_000)
    assert report.planned_units == 50_000
    control_revenue, revenue = raw[0][0], raw[1][0]
    diff = revenue.mean() - control_revenue.mean()
    variance = revenue.var(ddof=1) / len(revenue) + control_revenue.var(ddof=1) / len(
        control_revenue
    )
    tau_sq = tuned_tau_sq(variance, 9_000, alpha=0.05, planned_units=50_000)
    item = by_key(report)[("warranty_39", "revenue_per_unit")]
    expected_ci = confidence_sequence(diff, variance, alpha=0.05, tau_sq=tau_sq)
    assert item.comparison.p_value == pytest.approx(
        always_valid_p_value(diff, variance, tau_sq=tau_sq), rel=1e-7
    )
    assert item.comparison.absolute_ci.low == pytest.approx(expected_ci.low, rel=1e-7)
    fixed = by_key(analyse(variants, correction="none"))[("warranty_39", "revenue_per_unit")]
    assert item.comparison.p_value > fixed.comparison.p_value


def test_planned_units_default_to_total_units_when_sequential():
    variants, _raw = three_arms()
    assert analyse(variants, sequential=True).planned_units == 9_000
    assert analyse(variants).planned_units is None


def test_conversion_chance_to_beat_control_agrees_with_monte_carlo():
    # 400k draws: standard error below 0.001, so a 0.005 tolerance fails with probability < 1e-6.
    control = VariantSums("control", 800, 40, 0.0, 0.0, 0.0, 0.0, 0.0)
    variant = VariantSums("b", 800, 52, 0.0, 0.0, 0.0, 0.0, 0.0)
    item = by_key(analyse([control, variant]))[("b", "conversion")]
    rng = np.random.default_rng(11)
    draws_c = rng.beta(41, 761, 400_000)
    draws_v = rng.beta(53, 749, 400_000)
    assert item.chance_to_beat_control == pytest.approx((draws_v > draws_c).mean(), abs=0.005)
    assert item.expected_loss == pytest.approx(np.maximum(draws_c - draws_v, 0).mean(), abs=2e-4)


def test_sample_ratio_check_matches_chisquare_with_weights():
    a = VariantSums("control", 1_000, 10, 0.0, 0.0, 0.0, 0.0, 0.0, weight=1.0)
    b = VariantSums("b", 1_200, 10, 0.0, 0.0, 0.0, 0.0, 0.0, weight=1.0)
    report = analyse([a, b])
    expected = sps.chisquare([1_000, 1_200], [1_100, 1_100])
    assert report.sample_ratio.p_value == pytest.approx(expected.pvalue, rel=REL)
    assert report.sample_ratio.unhealthy
    weighted = analyse([a, VariantSums("b", 1_200, 10, 0.0, 0.0, 0.0, 0.0, 0.0, weight=1.2)])
    assert not weighted.sample_ratio.unhealthy
    assert weighted.variants[1].expected_share == pytest.approx(1.2 / 2.2, rel=REL)


def arm(name, units, conversions, revenue=(), orders=None):
    revenue = np.asarray(revenue if len(revenue) else [0.0] * units, dtype=float)
    orders = (revenue > 0).astype(float) if orders is None else np.asarray(orders, dtype=float)
    return sums_from_units(name, revenue, orders, np.arange(units) < conversions)


EDGE_CASES = {
    "zero conversions everywhere": (
        [arm("control", 50, 0), arm("b", 50, 0)],
        {"conversion": ResultError.ZERO_VARIANCE, "average_order_value": ResultError.NO_ORDERS},
    ),
    "100 percent conversion": (
        [arm("control", 5, 5, [3.0] * 5), arm("b", 5, 5, [3.0] * 5)],
        {"conversion": ResultError.ZERO_VARIANCE, "revenue_per_unit": ResultError.ZERO_VARIANCE},
    ),
    "a single unit": (
        [arm("control", 1, 1, [9.0]), arm("b", 1, 0)],
        {"revenue_per_unit": ResultError.NO_UNITS, "average_order_value": ResultError.NO_UNITS},
    ),
    "no orders in the variant": (
        [arm("control", 20, 4, [5.0] * 4 + [0.0] * 16), arm("b", 20, 0)],
        {"average_order_value": ResultError.NO_ORDERS},
    ),
    "an empty variant": (
        [arm("control", 20, 4, [5.0] * 4 + [0.0] * 16), arm("b", 0, 0)],
        {"conversion": ResultError.NO_UNITS, "revenue_per_unit": ResultError.NO_UNITS},
    ),
    "zero control conversion": (
        [arm("control", 30, 0), arm("b", 30, 6, [2.0] * 6 + [0.0] * 24)],
        {"conversion": ResultError.CONTROL_ZERO},
    ),
}


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("case", EDGE_CASES, ids=list(EDGE_CASES))
def test_edge_cases_give_error_codes_and_json_without_nan(case, sequential):
    variants, expected_errors = EDGE_CASES[case]
    report = analyse(variants, sequential=sequential)
    errors = {c.metric: c.comparison.error for c in report.comparisons}
    for metric, error in expected_errors.items():
        assert errors[metric] is error, (metric, errors)
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text
    for item in report.comparisons:
        # CONTROL_ZERO only lacks the relative uplift; every other code means no test at all.
        if item.comparison.error not in (None, ResultError.CONTROL_ZERO):
            assert item.adjusted_p_value is None and not item.significant


def test_json_has_stable_field_names():
    variants, _raw = three_arms()
    data = json.loads(json.dumps(analyse(variants).to_dict(), allow_nan=False))
    assert set(data) == {
        "control",
        "alpha",
        "correction",
        "sequential",
        "planned_units",
        "comparisons_tested",
        "interval_rule",
        "significance_rule",
        "variants",
        "comparisons",
        "sample_ratio",
        "metrics",
        "variance_reduction",
        "guardrails",
        "guardrail_violated",
    }
    assert data["metrics"] == [
        "conversion",
        "revenue_per_unit",
        "average_order_value",
        "orders_per_unit",
    ]
    assert data["variance_reduction"] is None
    assert data["guardrails"] == [] and data["guardrail_violated"] is False
    assert set(data["sample_ratio"]) == {
        "statistic",
        "p_value",
        "unhealthy",
        "threshold",
        "error",
        "method",
        "epochs",
    }
    assert data["sample_ratio"]["method"] == "overall" and data["sample_ratio"]["epochs"] == []
    assert set(data["variants"][0]) == {
        "variant",
        "is_control",
        "units",
        "conversions",
        "conversion_rate",
        "conversion_ci",
        "revenue_per_unit",
        "average_order_value",
        "orders_per_unit",
        "expected_share",
        "observed_share",
        "chance_to_be_best_conversion",
        "errors",
        "acceptance_value_per_unit",
        "refund_rate",
    }
    assert set(data["comparisons"][0]) == {
        "variant",
        "metric",
        "control_value",
        "variant_value",
        "absolute_uplift",
        "absolute_ci",
        "relative_uplift",
        "relative_ci",
        "p_value",
        "adjusted_p_value",
        "significant",
        "interval_alpha",
        "interval_level",
        "chance_to_beat_control",
        "expected_loss",
        "expected_loss_of_control",
        "error",
    }
    assert set(data["variants"][0]["conversion_ci"]) == {"low", "high"}
    assert data["sample_ratio"]["threshold"] == 0.001


INVALID_SUMS = [
    ({"units": -1}, "units: must not be negative"),
    ({"conversions": 11}, "conversions: must not exceed units"),
    ({"units": 2.5}, "units: must be a whole number"),
    ({"revenue_sum_sq": float("nan")}, "revenue_sum_sq: must be a finite number"),
    ({"orders_sum": -1.0}, "orders_sum: must not be negative"),
    ({"revenue_sum_sq": 1.0}, "revenue_sum_sq: is too small"),
    ({"weight": 0.0}, "weight: must be a positive number"),
    ({"variant": ""}, "variant: must not be empty"),
]


@pytest.mark.parametrize(("change", "message"), INVALID_SUMS)
def test_impossible_sums_are_rejected(change, message):
    fields = dict(
        variant="a",
        units=10,
        conversions=2,
        revenue_sum=20.0,
        revenue_sum_sq=200.0,
        orders_sum=2.0,
        orders_sum_sq=2.0,
        revenue_orders_sum_prod=20.0,
    )
    with pytest.raises(InvalidSums, match=message):
        VariantSums(**(fields | change))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"correction": "bonferroni"}, "unknown correction"),
        ({"planned_units": 0}, "planned_units"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    variants, _raw = three_arms(n=50)
    with pytest.raises(ValueError, match=message):
        analyse(variants, **kwargs)


def test_needs_two_unique_variants_and_consistent_weights():
    a = VariantSums("a", 10, 1, 0.0, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least two"):
        analyse([a])
    with pytest.raises(ValueError, match="unique"):
        analyse([a, a])
    weighted = VariantSums("b", 10, 1, 0.0, 0.0, 0.0, 0.0, 0.0, weight=2.0)
    with pytest.raises(ValueError, match="every variant or for none"):
        analyse([a, weighted])


def test_stats_and_reports_import_in_either_order(tmp_path):
    import subprocess
    import sys

    for first, second in [
        ("offerlab.domain.reports", "offerlab.domain.stats"),
        ("offerlab.domain.stats", "offerlab.domain.reports"),
    ]:
        code = f"import {first}, {second}; from offerlab.domain.stats import analyse"
        completed = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
        )
        assert completed.returncode == 0, completed.stderr
