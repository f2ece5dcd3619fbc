"""Multiple-comparison corrections checked against statsmodels' multipletests."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from offerlab.domain.stats.corrections import adjust_p_values

REFERENCE_TOLERANCE = 1e-9
STATSMODELS_NAMES = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}


def _random_p_values(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 12))
    values = rng.uniform(0, 1, size=size) ** 3  # skewed towards small p-values
    values[rng.uniform(size=size) < 0.2] = 0.0
    values[rng.uniform(size=size) < 0.1] = 1.0
    if size > 2:
        values[1] = values[2]  # a tie
    return list(rng.permutation(values))


@pytest.mark.parametrize("method", ["holm", "bh", "bonferroni"])
@pytest.mark.parametrize("seed", range(40))
def test_matches_statsmodels_on_random_p_values(method, seed):
    p_values = _random_p_values(seed)
    _, reference, _, _ = multipletests(p_values, method=STATSMODELS_NAMES[method])
    assert adjust_p_values(p_values, method) == pytest.approx(
        tuple(reference), abs=REFERENCE_TOLERANCE
    )


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_matches_statsmodels_on_ties_zeros_and_ones(method):
    p_values = [0.01, 0.04, 0.04, 0.0, 1.0, 0.04, 0.2, 0.0, 1.0]
    _, reference, _, _ = multipletests(p_values, method=STATSMODELS_NAMES[method])
    assert adjust_p_values(p_values, method) == pytest.approx(
        tuple(reference), abs=REFERENCE_TOLERANCE
    )


def test_known_holm_and_bh_values():
    # Hand computation, sorted 0.01, 0.02, 0.03 with m = 3. Holm: 3·0.01, 2·0.02, max(0.04, 0.03).
    assert adjust_p_values([0.03, 0.01, 0.02], "holm") == pytest.approx((0.04, 0.03, 0.04))
    # BH: min over j ≥ i of 3 p₍ⱼ₎ / j: 0.03, 0.03, 0.03.
    assert adjust_p_values([0.03, 0.01, 0.02], "bh") == pytest.approx((0.03, 0.03, 0.03))
    assert adjust_p_values([0.04, 0.001], "holm") == pytest.approx((0.04, 0.002))
    assert adjust_p_values([0.04, 0.001], "bh") == pytest.approx((0.04, 0.002))


def test_default_is_holm_and_none_is_identity():
    assert adjust_p_values([0.01, 0.02]) == pytest.approx((0.02, 0.02))
    assert adjust_p_values([0.3, 0.01], "none") == (0.3, 0.01)


def test_empty_input_gives_empty_output():
    assert adjust_p_values([], "bh") == ()


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_p_values_outside_unit_interval_raise(bad):
    with pytest.raises(ValueError, match="p-values must be between 0 and 1"):
        adjust_p_values([0.1, bad])


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown correction method 'sidak'"):
        adjust_p_values([0.1], "sidak")
