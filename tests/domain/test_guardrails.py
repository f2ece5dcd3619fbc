"""Guardrails: one-sided tests in the bad direction against scipy and statsmodels references."""

import json

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from offerlab.domain.stats.engine import VariantSums, analyse
from offerlab.domain.stats.guardrails import (
    DEFAULT_WORSE_WHEN,
    MISSING_INPUTS,
    Guardrail,
    evaluate_guardrails,
)

REL = 1e-9


def arm(name, revenue, orders, refunded):
    return VariantSums(
        variant=name,
        units=len(revenue),
        conversions=int((orders > 0).sum()),
        revenue_sum=float(revenue.sum()),
        revenue_sum_sq=float((revenue**2).sum()),
        orders_sum=float(orders.sum()),
        orders_sum_sq=float((orders**2).sum()),
        revenue_orders_sum_prod=float((revenue * orders).sum()),
        refunded_units=int(refunded.sum()),
    )


def simulate(seed, *, value_scale=(30.0, 27.0), refund=(0.04, 0.06), n=4_000):
    rng = np.random.default_rng(seed)
    arms, raw = [], []
    for name, scale, rate in zip(("control", "cheap_addon"), value_scale, refund, strict=True):
        orders = rng.poisson(0.2, n).astype(float)
        revenue = np.where(orders > 0, rng.gamma(2.0 * np.maximum(orders, 1.0), scale), 0.0)
        refunded = (orders > 0) & (rng.random(n) < rate * 5)
        arms.append(arm(name, revenue, orders, refunded))
        raw.append((revenue, orders, refunded))
    return arms, raw


def test_default_directions():
    assert Guardrail("refund_rate").worse_when == "higher"
    assert Guardrail("average_order_value").worse_when == "lower"
    assert Guardrail("conversion", "higher").worse_when == "higher"
    assert set(DEFAULT_WORSE_WHEN) == {
        "conversion",
        "revenue_per_unit",
        "average_order_value",
        "orders_per_unit",
        "acceptance_value_per_unit",
        "refund_rate",
    }
    with pytest.raises(ValueError, match="unknown guardrail metric"):
        Guardrail("bounce_rate")
    with pytest.raises(ValueError, match="worse_when"):
        Guardrail("conversion", "down")


def test_revenue_guardrail_is_welch_one_sided_in_the_bad_direction():
    variants, raw = simulate(8)
    (result,) = evaluate_guardrails(variants, [Guardrail("revenue_per_unit")], alpha=0.05)
    control, variant = raw[0][0], raw[1][0]
    reference = sps.ttest_ind(variant, control, equal_var=False, alternative="less")
    assert result.p_value == pytest.approx(reference.pvalue, rel=REL)
    assert result.interval_level == pytest.approx(0.90)
    upper = sps.ttest_ind(variant, control, equal_var=False).confidence_interval(0.90).high
    assert result.absolute_ci.high == pytest.approx(upper, rel=REL)
    assert result.violated == (reference.pvalue < 0.05) == (upper < 0.0)


def test_refund_guardrail_matches_statsmodels_one_sided_larger():
    variants, raw = simulate(9)
    (result,) = evaluate_guardrails(variants, [Guardrail("refund_rate")], alpha=0.05)
    counts = [int(raw[1][2].sum()), int(raw[0][2].sum())]
    _z, p = proportions_ztest(counts, [4_000, 4_000], alternative="larger")
    low, high = confint_proportions_2indep(
        counts[0], 4_000, counts[1], 4_000, method="wald", alpha=0.10
    )
    assert result.p_value == pytest.approx(p, rel=REL)
    assert result.absolute_ci.low == pytest.approx(low, rel=REL)
    assert result.absolute_ci.high == pytest.approx(high, rel=REL)
    assert result.violated and result.worse_when == "higher"


def test_a_change_in_the_good_direction_never_violates():
    variants, raw = simulate(10, value_scale=(27.0, 33.0), refund=(0.06, 0.03))
    results = evaluate_guardrails(
        variants,
        [Guardrail("average_order_value"), Guardrail("refund_rate")],
        alpha=0.05,
    )
    for result in results:
        assert result.p_value > 0.5 and not result.violated


def test_aov_violation_agrees_with_the_bad_side_interval_bound():
    flags = []
    for seed in range(30):
        variants, _raw = simulate(seed, value_scale=(30.0, 28.5), n=2_000)
        (result,) = evaluate_guardrails(variants, [Guardrail("average_order_value")], alpha=0.05)
        assert result.violated == (result.absolute_ci.high < 0.0)
        flags.append(result.violated)
    assert any(flags) and not all(flags)


def test_analyse_reports_guardrails_and_the_overall_flag():
    variants, _raw = simulate(9)
    report = analyse(variants)
    assert [g.metric for g in report.guardrails] == ["refund_rate"]
    assert report.guardrail_violated
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["guardrail_violated"] is True
    assert set(data["guardrails"][0]) == {
        "metric",
        "variant",
        "worse_when",
        "control_value",
        "variant_value",
        "absolute_change",
        "absolute_ci",
        "relative_change",
        "relative_ci",
        "p_value",
        "interval_level",
        "violated",
        "error",
    }
    assert analyse(variants, guardrails=[]).to_dict()["guardrails"] == []
    named = analyse(variants, guardrails=["average_order_value"])
    assert [g.metric for g in named.guardrails] == ["average_order_value"]


def test_guardrail_without_inputs_gets_an_error_code():
    control = VariantSums("control", 100, 5, 0.0, 0.0, 0.0, 0.0, 0.0)
    variant = VariantSums("b", 100, 6, 0.0, 0.0, 0.0, 0.0, 0.0)
    (result,) = evaluate_guardrails(
        [control, variant], [Guardrail("acceptance_value_per_unit")], alpha=0.05
    )
    assert result.error == MISSING_INPUTS and not result.violated and result.p_value is None
    (degenerate,) = evaluate_guardrails(
        [control, variant], [Guardrail("revenue_per_unit")], alpha=0.05
    )
    assert degenerate.error == "zero_variance" and degenerate.p_value is None


def test_guardrail_arguments_are_checked():
    variants, _raw = simulate(1, n=50)
    with pytest.raises(ValueError, match="below 0.5"):
        evaluate_guardrails(variants, [Guardrail("refund_rate")], alpha=0.5)
    with pytest.raises(ValueError, match="at least two"):
        evaluate_guardrails(variants[:1], [Guardrail("refund_rate")], alpha=0.05)
    with pytest.raises(ValueError, match="sequence of Guardrail"):
        analyse(variants, guardrails="refund_rate")
