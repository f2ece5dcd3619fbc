"""Thompson sampling weights: invariants, behaviour, and P(best) against closed forms."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sps

from offerlab.domain.bandits import (
    ThompsonSpec,
    allocate,
    thompson_revenue_weights,
    thompson_weights,
)
from offerlab.domain.model import Objective
from offerlab.domain.stats import VariantTotals

# 3.29 standard errors: a correct implementation fails about once in 1000 seeds.
Z_BAND = 3.29


def _monte_carlo_se(probability: float, draws: int) -> float:
    return math.sqrt(probability * (1 - probability) / draws)


INVALID_SPECS = [
    ({"min_share": -0.01}, "min_share must be >= 0 and < 1"),
    ({"min_share": 1.0}, "min_share must be >= 0 and < 1"),
    ({"draws": 0}, "draws must be a positive integer"),
    ({"draws": 10.5}, "draws must be a positive integer"),
    ({"draws": True}, "draws must be a positive integer"),
    ({"prior_alpha": 0.0}, "prior_alpha must be a positive finite number"),
    ({"prior_beta": -1.0}, "prior_beta must be a positive finite number"),
    ({"prior_beta": math.inf}, "prior_beta must be a positive finite number"),
    ({"prior_alpha": True}, "prior_alpha must be a positive finite number"),
    ({"prior_alpha": "1"}, "prior_alpha must be a positive finite number"),
]


@pytest.mark.parametrize(("kwargs", "message"), INVALID_SPECS)
def test_invalid_spec_is_rejected_with_exact_message(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ThompsonSpec(**kwargs)


def test_numpy_numbers_are_accepted_in_spec():
    spec = ThompsonSpec(min_share=np.float64(0.1), draws=np.int64(100), prior_alpha=np.int64(2))
    assert spec.draws == 100 and spec.prior_alpha == 2


def test_infeasible_floor_is_rejected_at_allocation_time():
    spec = ThompsonSpec(min_share=0.3)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="^min_share \\* number of variants must be <= 1$"):
        thompson_weights([1, 2, 3, 4], [10, 10, 10, 10], spec=spec, rng=rng)
    with pytest.raises(ValueError, match="^min_share \\* number of variants must be <= 1$"):
        thompson_revenue_weights([10] * 4, [5.0] * 4, [9.0] * 4, spec=spec, rng=rng)


INVALID_DATA = [
    (([1, 2], [10]), "equal length"),
    (([], []), "non-empty"),
    (([11, 2], [10, 10]), "successes must be between 0 and trials"),
    (([-1, 2], [10, 10]), "successes must be between 0 and trials"),
]


@pytest.mark.parametrize(("args", "message"), INVALID_DATA)
def test_invalid_conversion_data_is_rejected(args, message):
    with pytest.raises(ValueError, match=message):
        thompson_weights(*args, spec=ThompsonSpec(), rng=np.random.default_rng(0))


def _arm_data(max_arms: int = 8):
    """Lists of (trials, successes) for 1..max_arms arms."""
    arm = st.integers(0, 5000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))
    return st.lists(arm, min_size=1, max_size=max_arms)


@settings(max_examples=60, deadline=None)
@given(arms=_arm_data(), floor_fraction=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_conversion_weights_sum_to_one_and_respect_floor(arms, floor_fraction, seed):
    min_share = floor_fraction / len(arms) * 0.999
    spec = ThompsonSpec(min_share=min_share, draws=500)
    trials, successes = zip(*arms, strict=True)
    weights = thompson_weights(successes, trials, spec=spec, rng=np.random.default_rng(seed))
    assert len(weights) == len(arms)
    assert sum(weights) == pytest.approx(1.0, abs=1e-12)
    assert min(weights) >= min_share - 1e-12


@settings(max_examples=60, deadline=None)
@given(
    arms=st.lists(
        st.tuples(st.integers(0, 3000), st.floats(0.0, 500.0), st.floats(0.0, 300.0)),
        min_size=1,
        max_size=8,
    ),
    floor_fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_revenue_weights_sum_to_one_and_respect_floor(arms, floor_fraction, seed):
    min_share = floor_fraction / len(arms) * 0.999
    units = [n for n, _, _ in arms]
    # Build consistent sums: mean m and standard deviation s per unit.
    sums = [n * m for n, m, _ in arms]
    sums_sq = [n * (m * m + s * s) for n, m, s in arms]
    spec = ThompsonSpec(min_share=min_share, draws=500)
    weights = thompson_revenue_weights(
        units, sums, sums_sq, spec=spec, rng=np.random.default_rng(seed)
    )
    assert sum(weights) == pytest.approx(1.0, abs=1e-12)
    assert min(weights) >= min_share - 1e-12


def test_clearly_better_arm_gets_most_of_the_traffic():
    spec = ThompsonSpec(min_share=0.05)
    weights = thompson_weights(
        [50, 150, 55], [1000, 1000, 1000], spec=spec, rng=np.random.default_rng(1)
    )
    assert weights[1] == pytest.approx(0.9, abs=1e-9)  # P(best) ~ 1, the others held at the floor
    assert weights[0] == pytest.approx(0.05) and weights[2] == pytest.approx(0.05)


def test_equal_data_gives_roughly_equal_weights():
    spec = ThompsonSpec(min_share=0.0, draws=20_000)
    weights = thompson_weights([80] * 3, [1000] * 3, spec=spec, rng=np.random.default_rng(2))
    tolerance = Z_BAND * _monte_carlo_se(1 / 3, spec.draws)
    assert weights == pytest.approx([1 / 3] * 3, abs=tolerance)


def _beta_probability_greater(a_x: float, a_y: float, b_x: float, b_y: float) -> float:
    """P(X > Y) for X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y): integral of f_X(t) F_Y(t) dt."""
    value, _ = integrate.quad(
        lambda t: sps.beta.pdf(t, a_x, b_x) * sps.beta.cdf(t, a_y, b_y), 0.0, 1.0, limit=200
    )
    return value


@pytest.mark.parametrize(
    ("successes", "trials", "prior"),
    [((30, 40), (200, 200), (1.0, 1.0)), ((3, 1), (10, 12), (2.0, 5.0)), ((0, 0), (0, 50), (1, 1))],
)
def test_two_arm_probability_best_matches_numeric_integration(successes, trials, prior):
    spec = ThompsonSpec(min_share=0.0, draws=40_000, prior_alpha=prior[0], prior_beta=prior[1])
    weights = thompson_weights(successes, trials, spec=spec, rng=np.random.default_rng(3))
    a = [prior[0] + s for s in successes]
    b = [prior[1] + n - s for s, n in zip(successes, trials, strict=True)]
    expected = _beta_probability_greater(a[1], a[0], b[1], b[0])
    assert weights[1] == pytest.approx(expected, abs=3 * _monte_carlo_se(expected, spec.draws))


def test_revenue_probability_best_matches_normal_closed_form():
    units, sums, sums_sq = [400, 380], [2000.0, 2100.0], [60_000.0, 70_000.0]
    spec = ThompsonSpec(min_share=0.0, draws=40_000)
    weights = thompson_revenue_weights(
        units, sums, sums_sq, spec=spec, rng=np.random.default_rng(4)
    )
    # Posterior per arm as documented: one pseudo-unit with the pooled mean and variance.
    pooled_mean = sum(sums) / sum(units)
    pooled_var = sum(sums_sq) / sum(units) - pooled_mean**2
    means, variances = [], []
    for n, s, q in zip(units, sums, sums_sq, strict=True):
        sample_var = (q - s * s / n) / (n - 1)
        means.append((pooled_mean + s) / (1 + n))
        variances.append((pooled_var + (n - 1) * sample_var) / n / (1 + n))
    expected = sps.norm.cdf((means[1] - means[0]) / math.sqrt(sum(variances)))
    assert weights[1] == pytest.approx(expected, abs=3 * _monte_carlo_se(expected, spec.draws))


def test_revenue_favours_higher_revenue_and_still_explores_an_empty_arm():
    spec = ThompsonSpec(min_share=0.05)
    weights = thompson_revenue_weights(
        [5000, 5000, 0],
        [25_000.0, 35_000.0, 0.0],
        [900_000.0, 1_100_000.0, 0.0],
        spec=spec,
        rng=np.random.default_rng(5),
    )
    assert weights[1] > weights[0]
    assert weights[0] == pytest.approx(0.05)
    assert weights[2] > 0.1  # drawn around the pooled mean with one visitor's spread


def test_revenue_without_any_data_splits_evenly():
    spec = ThompsonSpec()
    weights = thompson_revenue_weights(
        [0, 0, 0, 0], [0.0] * 4, [0.0] * 4, spec=spec, rng=np.random.default_rng(6)
    )
    assert weights == pytest.approx([0.25] * 4, abs=1e-12)


def _totals(variant, units, converted, revenue, revenue_sq):
    one_order_each = dict(orders=converted, order_value_sum_sq=revenue_sq, orders_sum_sq=converted)
    return dataclasses.replace(
        VariantTotals.empty(variant),
        units=units,
        converted_units=converted,
        order_value_sum=revenue,
        revenue_sum_sq=revenue_sq,
        **one_order_each,
    )


def test_allocate_dispatches_on_objective():
    totals = [_totals("a", 1000, 50, 3000.0, 200_000.0), _totals("b", 1000, 90, 2000.0, 90_000.0)]
    spec = ThompsonSpec(min_share=0.1)
    by_conversion = allocate("conversion", totals, spec=spec, rng=np.random.default_rng(7))
    expected_conversion = thompson_weights(
        [50, 90], [1000, 1000], spec=spec, rng=np.random.default_rng(7)
    )
    by_revenue = allocate(Objective.REVENUE, totals, spec=spec, rng=np.random.default_rng(7))
    expected_revenue = thompson_revenue_weights(
        [1000, 1000],
        [3000.0, 2000.0],
        [200_000.0, 90_000.0],
        spec=spec,
        rng=np.random.default_rng(7),
    )
    assert by_conversion == expected_conversion and by_conversion[1] > by_conversion[0]
    assert by_revenue == expected_revenue and by_revenue[0] > by_revenue[1]


def test_allocate_rejects_unknown_objective():
    with pytest.raises(ValueError, match="unknown objective 'clicks'"):
        allocate("clicks", [], spec=ThompsonSpec(), rng=np.random.default_rng(0))
