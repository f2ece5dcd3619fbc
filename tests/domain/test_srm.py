"""Sample ratio mismatch checked against scipy.stats.chisquare."""

import numpy as np
import pytest
from scipy import stats as sps

from offerlab.domain.reports import ResultError
from offerlab.domain.stats.srm import check_srm

REFERENCE_TOLERANCE = 1e-9


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([5_000, 5_000], [0.5, 0.5]),
        ([5_100, 4_900], [0.5, 0.5]),
        ([5_300, 4_700], [1, 1]),
        ([2_010, 3_990, 4_050], [0.2, 0.4, 0.4]),
        ([0, 12], [0.5, 0.5]),
        ([1, 0, 0], [70, 20, 10]),
        ([123_456, 124_321, 61_000], [2, 2, 1]),
    ],
)
def test_matches_scipy_chisquare(observed, weights):
    result = check_srm(observed, weights)
    expected = np.asarray(weights, dtype=float) / np.sum(weights) * np.sum(observed)
    reference = sps.chisquare(observed, f_exp=expected)
    assert result.statistic == pytest.approx(reference.statistic, rel=REFERENCE_TOLERANCE)
    assert result.p_value == pytest.approx(reference.pvalue, rel=REFERENCE_TOLERANCE, abs=1e-300)
    assert result.unhealthy == (reference.pvalue < 0.001)
    assert result.error is None


def test_clear_mismatch_is_unhealthy_and_balance_is_healthy():
    assert check_srm([10_500, 9_500], [0.5, 0.5]).unhealthy
    assert not check_srm([10_050, 9_950], [0.5, 0.5]).unhealthy


def test_threshold_decides_the_verdict():
    observed = [5_150, 4_850]  # p ≈ 0.0027
    assert not check_srm(observed, [1, 1]).unhealthy
    assert check_srm(observed, [1, 1], threshold=0.01).unhealthy


def test_srm_rate_under_correct_assignment_is_about_threshold():
    rng = np.random.default_rng(11)
    threshold, runs = 0.05, 2_000
    flagged = sum(
        check_srm(
            list(rng.multinomial(3_000, [0.2, 0.3, 0.5])), [0.2, 0.3, 0.5], threshold=threshold
        ).unhealthy
        for _ in range(runs)
    )
    # Binomial band: 0.05 ± 4 sd, sd = sqrt(0.05 * 0.95 / 2000) ≈ 0.0049.
    assert abs(flagged / runs - threshold) <= 4 * np.sqrt(threshold * (1 - threshold) / runs)


def test_no_units_is_not_enough_data():
    result = check_srm([0, 0, 0], [1, 1, 1])
    assert result == (None, None, False, ResultError.NO_UNITS)


@pytest.mark.parametrize(
    ("observed", "weights", "threshold", "message"),
    [
        ([1, 2], [1], 0.001, "must have the same length"),
        ([1], [1], 0.001, "at least two variants are needed"),
        ([1, -2], [1, 1], 0.001, "observed units must be non-negative"),
        ([1, 2], [1, 0], 0.001, "expected weights must be positive and finite"),
        ([1, 2], [1, float("inf")], 0.001, "expected weights must be positive and finite"),
        ([1, 2], [1, 1], 0.0, "threshold must be between 0 and 1"),
    ],
)
def test_invalid_arguments_raise(observed, weights, threshold, message):
    with pytest.raises(ValueError, match=message):
        check_srm(observed, weights, threshold=threshold)
