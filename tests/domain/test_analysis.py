"""analyse_variants on totals built from simulated raw per-visitor data, checked against scipy."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from offerlab.domain.reports import ResultError
from offerlab.domain.stats import VariantTotals, analyse_variants

REFERENCE_TOLERANCE = 1e-9
NAMES = {"none": "No offer", "warranty_39": "Warranty at 39", "warranty_29": "Warranty at 29"}


def _simulate_visitors(rng, n, *, take_rate, order_rate, order_log_mean):
    """Raw per-visitor data: accepted the offer, each order's value, revenue per visitor."""
    converted = rng.random(n) < take_rate
    orders_per_visitor = rng.poisson(order_rate, size=n)
    order_values = rng.lognormal(order_log_mean, 0.5, size=orders_per_visitor.sum())
    owner = np.repeat(np.arange(n), orders_per_visitor)
    revenue = np.bincount(owner, weights=order_values, minlength=n)
    return converted, order_values, revenue, orders_per_visitor


def _totals(variant, converted, order_values, revenue, orders_per_visitor):
    return VariantTotals(
        variant=variant,
        units=len(converted),
        impressions=len(converted),
        converted_units=int(converted.sum()),
        acceptances=int(converted.sum()),
        acceptance_value_sum=0.0,
        orders=len(order_values),
        order_value_sum=float(order_values.sum()),
        order_value_sum_sq=float((order_values**2).sum()),
        revenue_sum_sq=float((revenue**2).sum()),
        orders_sum_sq=float((orders_per_visitor**2).sum()),
        revenue_orders_sum_prod=float((revenue * orders_per_visitor).sum()),
    )


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(31)
    raw = {
        "warranty_39": _simulate_visitors(
            rng, 4000, take_rate=0.06, order_rate=0.3, order_log_mean=4.0
        ),
        "none": _simulate_visitors(rng, 4100, take_rate=0.05, order_rate=0.3, order_log_mean=3.9),
        "warranty_29": _simulate_visitors(
            rng, 3900, take_rate=0.08, order_rate=0.32, order_log_mean=3.9
        ),
    }
    totals = [_totals(key, *data) for key, data in raw.items()]
    results = analyse_variants(totals, control="none", names=NAMES, alpha=0.05)
    return raw, {result.variant: result for result in results}, results


def test_control_comes_first_then_input_order(simulated):
    _, _, results = simulated
    assert [r.variant for r in results] == ["none", "warranty_39", "warranty_29"]
    assert [r.name for r in results] == ["No offer", "Warranty at 39", "Warranty at 29"]
    assert [r.is_control for r in results] == [True, False, False]
    assert results[0].comparisons == {}


def test_per_variant_figures_match_raw_data(simulated):
    raw, by_key, _ = simulated
    for key, (converted, order_values, revenue, _) in raw.items():
        result = by_key[key]
        assert result.conversion_rate == pytest.approx(converted.mean(), rel=1e-12)
        assert result.average_order_value == pytest.approx(order_values.mean(), rel=1e-12)
        assert result.revenue_per_visitor == pytest.approx(revenue.mean(), rel=1e-12)
        low, high = proportion_confint(converted.sum(), converted.size, 0.05, method="wilson")
        assert result.conversion_ci.low == pytest.approx(low, abs=REFERENCE_TOLERANCE)
        assert result.conversion_ci.high == pytest.approx(high, abs=REFERENCE_TOLERANCE)


@pytest.mark.parametrize("variant", ["warranty_39", "warranty_29"])
def test_mean_comparisons_match_welch_on_raw_arrays(simulated, variant):
    raw, by_key, _ = simulated
    _, control_orders, control_revenue, _ = raw["none"]
    _, variant_orders, variant_revenue, _ = raw[variant]
    comparisons = by_key[variant].comparisons
    aov_reference = sps.ttest_ind(variant_orders, control_orders, equal_var=False)
    rpv_reference = sps.ttest_ind(variant_revenue, control_revenue, equal_var=False)
    aov = comparisons["average_order_value"]
    rpv = comparisons["revenue_per_visitor"]
    assert aov.p_value == pytest.approx(aov_reference.pvalue, rel=REFERENCE_TOLERANCE)
    assert rpv.p_value == pytest.approx(rpv_reference.pvalue, rel=REFERENCE_TOLERANCE)
    assert aov.absolute_uplift == pytest.approx(
        variant_orders.mean() - control_orders.mean(), rel=1e-9
    )
    assert rpv.absolute_uplift == pytest.approx(
        variant_revenue.mean() - control_revenue.mean(), rel=1e-9
    )
    assert aov.error is None and rpv.error is None


@pytest.mark.parametrize("variant", ["warranty_39", "warranty_29"])
def test_conversion_comparison_matches_ztest_on_raw_counts(simulated, variant):
    raw, by_key, _ = simulated
    control_converted, variant_converted = raw["none"][0], raw[variant][0]
    _, reference = proportions_ztest(
        [variant_converted.sum(), control_converted.sum()],
        [variant_converted.size, control_converted.size],
    )
    conversion = by_key[variant].comparisons["conversion"]
    assert conversion.metric == "conversion"
    assert conversion.p_value == pytest.approx(reference, rel=REFERENCE_TOLERANCE)


def test_periods_of_one_variant_are_summed(simulated):
    raw, by_key, _ = simulated
    converted, order_values, revenue, orders = raw["warranty_39"]
    half, order_half = 2000, int(orders[:2000].sum())
    first = _totals(
        "warranty_39", converted[:half], order_values[:order_half], revenue[:half], orders[:half]
    )
    second = _totals(
        "warranty_39", converted[half:], order_values[order_half:], revenue[half:], orders[half:]
    )
    control = _totals("none", *raw["none"])
    results = analyse_variants([first, control, second], control="none", names=NAMES, alpha=0.05)
    merged = results[1]
    assert [r.variant for r in results] == ["none", "warranty_39", "warranty_29"]
    assert merged.totals.units == 4000
    for metric, comparison in merged.comparisons.items():
        expected = by_key["warranty_39"].comparisons[metric]
        assert comparison.p_value == pytest.approx(expected.p_value, rel=1e-9)


def test_variants_without_data_get_empty_totals_and_error_comparisons():
    control = VariantTotals("none", 100, 100, 5, 5, 0.0, 10, 600.0, 40_000.0, 41_000.0, 12.0, 0.0)
    results = analyse_variants([control], control="none", names=NAMES, alpha=0.05)
    assert [r.variant for r in results] == ["none", "warranty_39", "warranty_29"]
    empty = results[1]
    assert empty.totals == VariantTotals.empty("warranty_39")
    assert empty.conversion_rate is None and empty.conversion_ci is None
    assert empty.average_order_value is None and empty.revenue_per_visitor is None
    errors = {metric: c.error for metric, c in empty.comparisons.items()}
    assert errors == {
        "conversion": ResultError.NO_UNITS,
        "average_order_value": ResultError.NO_ORDERS,
        "revenue_per_visitor": ResultError.NO_UNITS,
    }


def test_missing_control_gives_error_comparisons_for_everyone():
    variant = VariantTotals(
        "warranty_29", 50, 50, 5, 5, 0.0, 6, 300.0, 16_000.0, 16_500.0, 7.0, 0.0
    )
    results = analyse_variants([variant], control="none", names={}, alpha=0.05)
    assert [r.variant for r in results] == ["none", "warranty_29"]
    assert results[0].totals == VariantTotals.empty("none")
    assert results[1].name == "warranty_29"
    assert all(c.error is not None for c in results[1].comparisons.values())


def test_stats_and_reports_import_in_either_order(tmp_path):
    for first, second in [
        ("offerlab.domain.reports", "offerlab.domain.stats"),
        ("offerlab.domain.stats", "offerlab.domain.reports"),
    ]:
        code = f"import {first}, {second}; from offerlab.domain.stats import analyse_variants"
        completed = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
        )
        assert completed.returncode == 0, completed.stderr
