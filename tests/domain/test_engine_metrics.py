"""The engine's added metrics (orders, offer value, refund rate) against scipy and statsmodels."""

import dataclasses

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.engine import InvalidSums, VariantSums, analyse

REL = 1e-9


def unit_sums(name, rng, n, *, order_rate, accept_rate, refund_rate, accept_value=25.0):
    """Simulated per-unit data of one arm, summed, plus the raw arrays for references."""
    orders = rng.poisson(order_rate, size=n).astype(float)
    revenue = np.where(orders > 0, rng.gamma(2.0 * np.maximum(orders, 1.0), 30.0), 0.0)
    accepted = np.where(rng.random(n) < accept_rate, rng.gamma(3.0, accept_value / 3.0, n), 0.0)
    refunded = (orders > 0) & (rng.random(n) < refund_rate)
    sums = VariantSums(
        variant=name,
        units=n,
        conversions=int((accepted > 0).sum()),
        revenue_sum=float(revenue.sum()),
        revenue_sum_sq=float((revenue**2).sum()),
        orders_sum=float(orders.sum()),
        orders_sum_sq=float((orders**2).sum()),
        revenue_orders_sum_prod=float((revenue * orders).sum()),
        acceptance_value_sum=float(accepted.sum()),
        acceptance_value_sum_sq=float((accepted**2).sum()),
        refunded_units=int(refunded.sum()),
    )
    return sums, {"orders": orders, "accepted": accepted, "refunded": refunded}


def three_arms(seed=3, n=2_500):
    rng = np.random.default_rng(seed)
    arms = [
        unit_sums("control", rng, n, order_rate=0.08, accept_rate=0.05, refund_rate=0.05),
        unit_sums("bundle", rng, n, order_rate=0.10, accept_rate=0.07, refund_rate=0.08),
        unit_sums("warranty", rng, n, order_rate=0.09, accept_rate=0.06, refund_rate=0.03),
    ]
    return [a[0] for a in arms], [a[1] for a in arms]


def by_key(report):
    return {(c.variant, c.metric): c for c in report.comparisons}


def welch_reference(variant, control):
    return sps.ttest_ind_from_stats(
        variant.mean(),
        variant.std(ddof=1),
        len(variant),
        control.mean(),
        control.std(ddof=1),
        len(control),
        equal_var=False,
    )


@pytest.mark.parametrize(
    ("metric", "column"),
    [("orders_per_unit", "orders"), ("acceptance_value_per_unit", "accepted")],
)
def test_mean_metrics_match_welch_from_stats(metric, column):
    variants, raw = three_arms()
    report = analyse(variants, correction="none")
    for name, arm in zip(("bundle", "warranty"), raw[1:], strict=True):
        item = by_key(report)[(name, metric)]
        reference = welch_reference(arm[column], raw[0][column])
        difference = arm[column].mean() - raw[0][column].mean()
        se = np.sqrt(
            arm[column].var(ddof=1) / len(arm[column])
            + raw[0][column].var(ddof=1) / len(raw[0][column])
        )
        df = _welch_df(arm[column], raw[0][column])
        half = sps.t.isf(0.025, df) * se
        assert item.comparison.p_value == pytest.approx(reference.pvalue, rel=REL)
        assert item.comparison.absolute_uplift == pytest.approx(difference, rel=REL)
        assert item.comparison.absolute_ci.low == pytest.approx(difference - half, rel=REL)
        assert item.comparison.absolute_ci.high == pytest.approx(difference + half, rel=REL)


def _welch_df(a, b):
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    return (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))


def test_refund_rate_matches_statsmodels_when_requested():
    variants, raw = three_arms()
    report = analyse(variants, correction="none", metrics=["refund_rate"])
    assert report.metrics == ("refund_rate",)
    for name, arm in zip(("bundle", "warranty"), raw[1:], strict=True):
        item = by_key(report)[(name, "refund_rate")]
        counts = [int(arm["refunded"].sum()), int(raw[0]["refunded"].sum())]
        _z, p = proportions_ztest(counts, [2_500, 2_500])
        low, high = confint_proportions_2indep(
            counts[0], 2_500, counts[1], 2_500, method="wald", alpha=0.05
        )
        assert item.comparison.p_value == pytest.approx(p, rel=REL)
        assert item.comparison.absolute_ci.low == pytest.approx(low, rel=REL)
        assert item.comparison.absolute_ci.high == pytest.approx(high, rel=REL)


def test_default_metrics_leave_out_the_refund_rate_guardrail_metric():
    variants, _raw = three_arms()
    report = analyse(variants)
    assert report.metrics == (
        "conversion",
        "revenue_per_unit",
        "average_order_value",
        "orders_per_unit",
        "acceptance_value_per_unit",
    )
    assert [g.metric for g in report.guardrails] == ["refund_rate", "refund_rate"]


def test_holm_runs_over_every_variant_and_metric_comparison():
    variants, _raw = three_arms()
    report = analyse(variants, correction="holm")
    raw_p = [c.comparison.p_value for c in report.comparisons]
    _rejected, expected, _, _ = multipletests(raw_p, alpha=0.05, method="holm")
    assert len(raw_p) == 10 == report.comparisons_tested
    assert [c.adjusted_p_value for c in report.comparisons] == pytest.approx(expected, rel=REL)


def test_metrics_without_inputs_in_some_variant_are_not_compared():
    variants, _raw = three_arms()
    stripped = dataclasses.replace(
        variants[2],
        acceptance_value_sum=None,
        acceptance_value_sum_sq=None,
        refunded_units=None,
    )
    report = analyse([*variants[:2], stripped], metrics=["conversion", "refund_rate"])
    assert report.metrics == ("conversion",)
    assert {c.metric for c in report.comparisons} == {"conversion"}
    assert report.guardrails == ()
    assert report.variants[2].acceptance_value_per_unit is None
    assert report.variants[2].refund_rate is None
    assert report.variants[1].refund_rate == pytest.approx(variants[1].refunded_units / 2_500)


def test_variant_summaries_give_the_new_per_unit_figures():
    variants, raw = three_arms()
    report = analyse(variants)
    for summary, arm in zip(report.variants, raw, strict=True):
        assert summary.acceptance_value_per_unit == pytest.approx(arm["accepted"].mean(), rel=REL)
        assert summary.refund_rate == pytest.approx(arm["refunded"].mean(), rel=REL)


def test_unknown_metric_is_an_argument_error():
    variants, _raw = three_arms(n=50)
    with pytest.raises(ValueError, match="unknown metric"):
        analyse(variants, metrics=["aov"])
    with pytest.raises(ValueError, match="not one string"):
        analyse(variants, metrics="conversion")


def test_bayesian_mean_metrics_follow_the_normal_closed_form():
    variants, raw = three_arms()
    item = by_key(analyse(variants))[("bundle", "orders_per_unit")]
    control, variant = raw[0]["orders"], raw[1]["orders"]
    difference = variant.mean() - control.mean()
    sd = np.sqrt(control.var(ddof=1) / len(control) + variant.var(ddof=1) / len(variant))
    assert item.chance_to_beat_control == pytest.approx(sps.norm.cdf(difference / sd), rel=REL)
    loss = -difference * sps.norm.cdf(-difference / sd) + sd * sps.norm.pdf(difference / sd)
    assert item.expected_loss == pytest.approx(loss, rel=REL)


def test_refund_rate_bayesian_counts_a_lower_rate_as_better():
    # 400k posterior draws: standard error below 0.001, tolerance 0.005.
    control = VariantSums("control", 900, 0, 0.0, 0.0, 0.0, 0.0, 0.0, refunded_units=45)
    variant = VariantSums("b", 900, 0, 0.0, 0.0, 0.0, 0.0, 0.0, refunded_units=30)
    item = by_key(analyse([control, variant], metrics=["refund_rate"]))[("b", "refund_rate")]
    rng = np.random.default_rng(5)
    draws_c = rng.beta(46, 856, 400_000)
    draws_v = rng.beta(31, 871, 400_000)
    assert item.chance_to_beat_control == pytest.approx((draws_v < draws_c).mean(), abs=0.005)
    assert item.expected_loss == pytest.approx(np.maximum(draws_v - draws_c, 0).mean(), abs=2e-4)
    assert item.comparison.control_value == pytest.approx(45 / 900)


def test_zero_spread_in_a_mean_metric_is_an_error_code_not_p_one():
    fields = dict(revenue_sum=0.0, revenue_sum_sq=0.0, orders_sum=10.0, orders_sum_sq=10.0)
    control = VariantSums("control", 10, 0, revenue_orders_sum_prod=0.0, **fields)
    variant = VariantSums("b", 10, 0, revenue_orders_sum_prod=0.0, **fields)
    item = by_key(analyse([control, variant]))[("b", "orders_per_unit")]
    assert item.comparison.error is ResultError.ZERO_VARIANCE
    assert item.comparison.p_value is None and item.adjusted_p_value is None


BASE = dict(
    variant="a",
    units=10,
    conversions=2,
    revenue_sum=20.0,
    revenue_sum_sq=200.0,
    orders_sum=2.0,
    orders_sum_sq=2.0,
    revenue_orders_sum_prod=20.0,
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"acceptance_value_sum": 5.0}, "acceptance_value_sum_sq: give all of"),
        ({"covariate_sum": 5.0, "covariate_sum_sq": 5.0}, "revenue_covariate_sum_prod: give all"),
        ({"acceptance_value_sum": 10.0, "acceptance_value_sum_sq": 1.0}, "is too small"),
        ({"acceptance_value_sum": -1.0, "acceptance_value_sum_sq": 1.0}, "must not be negative"),
        ({"refunded_units": 11}, "refunded_units: must not exceed units"),
        ({"refunded_units": 1.5}, "refunded_units: must be a whole number"),
        (
            {"covariate_sum": 10.0, "covariate_sum_sq": 20.0, "revenue_covariate_sum_prod": 500.0},
            "revenue_covariate_sum_prod: is impossible",
        ),
        (
            {
                "covariate_sum": 1.0,
                "covariate_sum_sq": float("inf"),
                "revenue_covariate_sum_prod": 0,
            },
            "covariate_sum_sq: must be a finite number",
        ),
    ],
)
def test_impossible_optional_sums_are_rejected(change, message):
    with pytest.raises(InvalidSums, match=message):
        VariantSums(**(BASE | change))
