"""apply_floor: arms at the floor stay there, the rest keep their proportions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerlab.domain.bandits import apply_floor


@given(
    weights=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
    floor_fraction=st.floats(0.0, 1.0, exclude_max=True),
)
def test_floor_is_the_water_filling_solution(weights, floor_fraction):
    min_share = floor_fraction / len(weights)
    floored = np.array(apply_floor(weights, min_share=min_share))
    share = np.array(weights) / sum(weights)
    assert floored.sum() == pytest.approx(1.0, abs=1e-12)
    assert floored.min() >= min_share - 1e-12
    above = floored > min_share + 1e-9
    if above.any():
        # Every arm above the floor is scaled by one common factor c ...
        factors = floored[above] / share[above]
        assert factors == pytest.approx(np.full(factors.size, factors[0]), rel=1e-9)
        # ... and every arm at the floor would have fallen below it with that factor.
        assert np.all(share[~above] * factors[0] <= min_share + 1e-9)


@pytest.mark.parametrize(
    ("weights", "min_share", "expected"),
    [
        ([1.0, 0.0, 0.0], 0.05, [0.9, 0.05, 0.05]),
        ([0.5, 0.3, 0.2, 0.0], 0.25, [0.25, 0.25, 0.25, 0.25]),
        # 0.02 is floored to 0.1; 0.6 and 0.38 share the remaining 0.9 as 0.6 : 0.38.
        ([0.6, 0.38, 0.02], 0.1, [0.9 * 0.6 / 0.98, 0.9 * 0.38 / 0.98, 0.1]),
        # Two rounds: after flooring 0.09, 0.21 * 0.8 / 0.91 = 0.185 falls below 0.2 as well.
        ([0.7, 0.21, 0.09], 0.2, [0.6, 0.2, 0.2]),
        ([2.0, 2.0], 0.0, [0.5, 0.5]),
    ],
)
def test_floor_examples(weights, min_share, expected):
    assert apply_floor(weights, min_share=min_share) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("weights", "min_share", "message"),
    [
        ([], 0.0, "weights must not be empty"),
        ([0.0, 0.0], 0.1, "not all zero"),
        ([0.5, -0.1], 0.1, "non-negative"),
        ([0.5, 0.5], 1.0, "min_share must be >= 0 and < 1"),
        ([0.2, 0.3, 0.5], 0.4, "min_share \\* number of variants must be <= 1"),
    ],
)
def test_invalid_floor_inputs_are_rejected(weights, min_share, message):
    with pytest.raises(ValueError, match=message):
        apply_floor(weights, min_share=min_share)
