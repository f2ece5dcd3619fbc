"""Estimates under changing allocation: unbiased where pooling is not, and honest intervals."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from offerlab.domain.bandits import (
    EpochArmSums,
    epoch_weighted_difference,
    epoch_weighted_means,
    ipw_difference,
    ipw_means,
    naive_pooled_means,
)

EPOCHS = 8
UNITS_PER_EPOCH = 3000
BASE = np.linspace(0.02, 0.08, EPOCHS)  # conversion drifts upwards for every arm
LIFT = 0.01  # the new offer is always one point better
SHARE_B = np.linspace(0.5, 0.9, EPOCHS)  # and the bandit sends it more traffic over time
REPS = 1000
# 3.29 standard errors: a correct estimator fails these checks about once in 1000 seeds.
Z_BAND = 3.29


def _one_experiment(rng):
    sums = []
    for epoch in range(EPOCHS):
        n_b = rng.binomial(UNITS_PER_EPOCH, SHARE_B[epoch])
        for arm, n, p, share in (
            ("a", UNITS_PER_EPOCH - n_b, BASE[epoch], 1 - SHARE_B[epoch]),
            ("b", n_b, BASE[epoch] + LIFT, SHARE_B[epoch]),
        ):
            wins = int(rng.binomial(n, p))
            sums.append(EpochArmSums(epoch, arm, int(n), wins, wins, float(share)))
    return sums


@pytest.fixture(scope="module")
def experiments():
    rng = np.random.default_rng(20261125)
    return [_one_experiment(rng) for _ in range(REPS)]


def _band(values, target):
    values = np.asarray(values)
    return abs(values.mean() - target) <= Z_BAND * values.std(ddof=1) / math.sqrt(values.size)


def test_pooled_difference_is_biased_and_epoch_weighted_difference_is_not(experiments):
    naive = [naive_pooled_means(s)["b"] - naive_pooled_means(s)["a"] for s in experiments]
    weighted = [epoch_weighted_difference(s, "b", "a").estimate for s in experiments]
    naive_se = np.std(naive, ddof=1) / math.sqrt(REPS)
    assert abs(np.mean(naive) - LIFT) > 20 * naive_se  # Simpson: traffic follows the drift
    assert _band(weighted, LIFT)


def test_ipw_means_are_unbiased_for_every_arms_population_mean(experiments):
    for arm, truth in (("a", BASE.mean()), ("b", BASE.mean() + LIFT)):
        assert _band([ipw_means(s)[arm].estimate for s in experiments], truth)
    assert _band([ipw_difference(s, "b", "a").estimate for s in experiments], LIFT)


@pytest.mark.parametrize(
    ("estimator", "truth"),
    [
        (lambda s: ipw_difference(s, "b", "a"), LIFT),
        (lambda s: epoch_weighted_difference(s, "b", "a"), LIFT),
        (lambda s: ipw_means(s)["b"], BASE.mean() + LIFT),
    ],
)
def test_intervals_cover_near_nominal(experiments, estimator, truth):
    covered = np.mean([e.lower <= truth <= e.upper for e in map(estimator, experiments)])
    band = Z_BAND * math.sqrt(0.95 * 0.05 / REPS)
    assert 0.95 - band <= covered <= 0.95 + band


def test_hajek_mean_and_variance_match_a_per_unit_computation():
    rng = np.random.default_rng(3)
    sums, rewards, propensities = [], [], []
    for epoch, propensity in enumerate((0.2, 0.5, 0.8)):
        y = rng.lognormal(2.0, 0.7, size=50 + 40 * epoch) * rng.integers(0, 2, 50 + 40 * epoch)
        rewards.append(y)
        propensities.append(np.full(y.size, propensity))
        sums.append(EpochArmSums(epoch, "a", y.size, y.sum(), (y * y).sum(), propensity))
    y, pi = np.concatenate(rewards), np.concatenate(propensities)
    mean = np.sum(y / pi) / np.sum(1 / pi)
    variance = np.sum(((y - mean) / pi) ** 2) / np.sum(1 / pi) ** 2
    estimate = ipw_means(sums, alpha=0.1)["a"]
    assert estimate.estimate == pytest.approx(mean, rel=1e-9)
    assert estimate.standard_error == pytest.approx(math.sqrt(variance), rel=1e-9)
    z = sps.norm.ppf(0.95)
    assert estimate.upper - estimate.lower == pytest.approx(2 * z * math.sqrt(variance), rel=1e-9)


def test_one_epoch_epoch_weighted_mean_is_the_plain_mean_and_standard_error():
    y = np.array([0.0, 3.0, 1.0, 4.0, 0.0, 5.0])
    estimate = epoch_weighted_means([EpochArmSums(1, "a", 6, y.sum(), (y * y).sum(), 1.0)])["a"]
    assert estimate.estimate == pytest.approx(y.mean(), rel=1e-12)
    assert estimate.standard_error == pytest.approx(sps.sem(y), rel=1e-12)


def test_epochs_missing_an_arm_are_left_out_of_the_fixed_weights():
    sums = [
        EpochArmSums(1, "a", 10, 5.0, 5.0, 1.0),
        EpochArmSums(2, "a", 10, 1.0, 1.0, 0.5),
        EpochArmSums(2, "b", 10, 2.0, 2.0, 0.5),
    ]
    means = epoch_weighted_means(sums)
    assert means["a"].estimate == pytest.approx(0.1) and means["b"].estimate == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"units": -1, "propensity": 0.5}, "units must be >= 0"),
        ({"units": 5, "propensity": 0.0}, "propensity must be > 0 and <= 1"),
        ({"units": 5, "propensity": 1.5}, "propensity must be > 0 and <= 1"),
    ],
)
def test_invalid_epoch_sums_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EpochArmSums(epoch=1, arm="a", reward_sum=0.0, reward_sum_sq=0.0, **kwargs)


def test_no_usable_epoch_is_an_error():
    with pytest.raises(ValueError, match="no epoch has at least 2 units on every arm"):
        epoch_weighted_means([EpochArmSums(1, "a", 1, 1.0, 1.0, 1.0)])
