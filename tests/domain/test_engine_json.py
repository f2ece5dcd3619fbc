"""Every report is JSON without NaN or infinities, however degenerate the input."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.engine import EpochUnits, Guardrail, VariantSums, analyse
from offerlab.domain.stats.guardrails import DEFAULT_WORSE_WHEN


def arm(name, revenue, orders=None, covariate=None, accepted=None, refunded=0):
    revenue = np.asarray(revenue, dtype=float)
    orders = (revenue != 0).astype(float) if orders is None else np.asarray(orders, dtype=float)
    covariate = np.zeros_like(revenue) if covariate is None else np.asarray(covariate, float)
    accepted = np.zeros_like(revenue) if accepted is None else np.asarray(accepted, float)
    return VariantSums(
        variant=name,
        units=len(revenue),
        conversions=int((accepted > 0).sum()),
        revenue_sum=float(revenue.sum()),
        revenue_sum_sq=float((revenue**2).sum()),
        orders_sum=float(orders.sum()),
        orders_sum_sq=float((orders**2).sum()),
        revenue_orders_sum_prod=float((revenue * orders).sum()),
        covariate_sum=float(covariate.sum()),
        covariate_sum_sq=float((covariate**2).sum()),
        revenue_covariate_sum_prod=float((revenue * covariate).sum()),
        acceptance_value_sum=float(accepted.sum()),
        acceptance_value_sum_sq=float((accepted**2).sum()),
        refunded_units=refunded,
    )


SHAPES = {
    "empty": dict(revenue=[]),
    "one unit": dict(revenue=[12.0], accepted=[5.0], refunded=1),
    "all zero": dict(revenue=[0.0] * 40),
    "all converted alike": dict(revenue=[9.0] * 20, accepted=[4.0] * 20, refunded=20),
    "refunds net negative": dict(revenue=[-5.0, 0.0, 20.0, 0.0], orders=[1, 0, 1, 0]),
    "revenue proportional to covariate": dict(
        revenue=[2.0, 4.0, 6.0, 8.0], covariate=[1.0, 2.0, 3.0, 4.0], accepted=[1.0, 0, 0, 0]
    ),
    "huge values": dict(revenue=[1e12, 0.0, 3e12], accepted=[1e9, 0.0, 0.0], refunded=1),
    "ordinary": dict(
        revenue=[0.0, 35.0, 0.0, 80.0, 0.0, 0.0, 12.5, 0.0],
        covariate=[10.0, 50.0, 0.0, 90.0, 5.0, 0.0, 20.0, 1.0],
        accepted=[0.0, 9.0, 0.0, 15.0, 0.0, 0.0, 0.0, 0.0],
        refunded=1,
    ),
}
ALL_GUARDRAILS = [Guardrail(metric) for metric in DEFAULT_WORSE_WHEN]


def reports(shapes):
    variants = [arm(f"v{i}", **SHAPES[shape]) for i, shape in enumerate(shapes)]
    units = {v.variant: v.units for v in variants}
    weights = {v.variant: 1.0 for v in variants}
    for sequential, correction in itertools.product([False, True], ["holm", "bh", "none"]):
        yield analyse(
            variants,
            sequential=sequential,
            correction=correction,
            metrics=list(DEFAULT_WORSE_WHEN),
            guardrails=ALL_GUARDRAILS,
            epochs=[EpochUnits(1, units, weights)] if correction == "bh" else None,
        )


@pytest.mark.parametrize(
    "shapes", list(itertools.product(SHAPES, repeat=2)), ids=lambda pair: " vs ".join(pair)
)
def test_degenerate_pairs_give_finite_json(shapes):
    for report in reports(shapes):
        text = json.dumps(report.to_dict(), allow_nan=False)
        assert "NaN" not in text and "Infinity" not in text
        for item in report.comparisons:
            if item.comparison.error not in (None, ResultError.CONTROL_ZERO):
                assert item.comparison.p_value is None and not item.significant


def test_three_arms_with_mixed_degeneracy_give_finite_json():
    for shapes in itertools.permutations(["empty", "ordinary", "all converted alike"]):
        for report in reports(shapes):
            json.dumps(report.to_dict(), allow_nan=False)


def test_zero_variance_is_an_error_code_not_p_one():
    same = [
        arm("control", **SHAPES["all converted alike"]),
        arm("b", **SHAPES["all converted alike"]),
    ]
    report = analyse(same, metrics=list(DEFAULT_WORSE_WHEN), guardrails=ALL_GUARDRAILS)
    for item in report.comparisons:
        assert item.comparison.error is ResultError.ZERO_VARIANCE, item
        assert item.comparison.p_value is None
    assert all(g.error == "zero_variance" and g.p_value is None for g in report.guardrails)


def test_revenue_exactly_linear_in_the_covariate_is_zero_variance_after_cuped():
    shape = SHAPES["revenue proportional to covariate"]
    report = analyse([arm("control", **shape), arm("b", **shape)])
    assert report.variance_reduction.theta == pytest.approx(2.0)
    assert report.variance_reduction.variance_ratio == 0.0
    revenue = next(c for c in report.comparisons if c.metric == "revenue_per_unit")
    assert revenue.comparison.error is ResultError.ZERO_VARIANCE


values = st.lists(
    st.sampled_from([0.0, 0.0, 0.0, 1.0, 2.5, 10.0, 99.0, -3.0]), min_size=0, max_size=6
)


@settings(max_examples=150, deadline=None)
@given(st.lists(values, min_size=2, max_size=3), st.booleans())
def test_random_small_arms_never_raise_and_stay_json_safe(revenues, sequential):
    variants = [
        arm(
            f"v{i}",
            revenue,
            covariate=[abs(x) + i for x in revenue],
            accepted=[max(x, 0.0) for x in revenue],
            refunded=sum(x < 0 for x in revenue),
        )
        for i, revenue in enumerate(revenues)
    ]
    report = analyse(
        variants,
        sequential=sequential,
        metrics=list(DEFAULT_WORSE_WHEN),
        guardrails=ALL_GUARDRAILS,
    )
    json.dumps(report.to_dict(), allow_nan=False)
