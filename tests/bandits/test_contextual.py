"""Per-segment allocation: small segments borrow strength from the pooled data."""

import numpy as np
import pytest

from offerlab.domain.bandits import (
    POOLED_SEGMENT,
    AllocationSettings,
    ArmArrays,
    ArmStats,
    segment_weights,
    shrunk_arrays,
)

SETTINGS = AllocationSettings(burn_in_units=0, min_share=0.0, draws=20_000, prior_strength=200.0)


def _segments():
    return {
        # Lots of desktop data: b clearly better.
        "desktop": [ArmStats("a", 20_000, 400), ArmStats("b", 20_000, 800)],
        # A handful of tablet visitors, where a looks (by chance) a little better.
        "tablet": [ArmStats("a", 30, 2), ArmStats("b", 30, 1)],
        # Plenty of mobile data where a is clearly better.
        "mobile": [ArmStats("a", 20_000, 900), ArmStats("b", 20_000, 500)],
    }


def test_shrunk_arrays_add_pooled_rates_scaled_to_prior_strength():
    segment = ArmArrays.of([ArmStats("a", 10, 1, 5.0, 25.0)])
    pooled = ArmArrays.of([ArmStats("a", 1000, 100, 500.0, 2600.0)])
    shrunk = shrunk_arrays(segment, pooled, prior_strength=50.0)
    assert shrunk.units[0] == pytest.approx(60.0)
    assert shrunk.successes[0] == pytest.approx(1 + 5.0)
    assert shrunk.value_sum[0] == pytest.approx(5.0 + 25.0)
    assert shrunk.value_sum_sq[0] == pytest.approx(25.0 + 130.0)


def test_large_segments_follow_their_own_data_and_small_ones_the_pooled_data():
    weights = segment_weights(_segments(), settings=SETTINGS, rng=np.random.default_rng(1))
    assert weights["desktop"][1] > 0.99
    assert weights["mobile"][0] > 0.99
    # Pooled, b has 1301 of 40,030 and a 1302: a toss-up; tablet's own data alone favours a.
    alone = segment_weights(
        {"tablet": _segments()["tablet"]}, settings=SETTINGS, rng=np.random.default_rng(1)
    )
    assert alone["tablet"][0] > 0.7
    assert abs(weights["tablet"][0] - weights[POOLED_SEGMENT][0]) < abs(
        alone["tablet"][0] - weights[POOLED_SEGMENT][0]
    )


def test_prior_strength_zero_means_no_borrowing():
    settings = AllocationSettings(burn_in_units=0, min_share=0.0, draws=20_000, prior_strength=0.0)
    segments = _segments()
    weights = segment_weights(segments, settings=settings, rng=np.random.default_rng(2))
    alone = segment_weights(
        {"tablet": segments["tablet"]}, settings=settings, rng=np.random.default_rng(3)
    )
    assert weights["tablet"][0] == pytest.approx(alone["tablet"][0], abs=0.02)


def test_segments_must_list_the_same_arms():
    with pytest.raises(ValueError, match="same arms in the same order"):
        segment_weights(
            {"x": [ArmStats("a", 1)], "y": [ArmStats("b", 1)]},
            settings=SETTINGS,
            rng=np.random.default_rng(0),
        )
    with pytest.raises(ValueError, match="reserved"):
        segment_weights({"*": [ArmStats("a", 1)]}, settings=SETTINGS, rng=np.random.default_rng(0))
