"""Properties of the hashing spec, checked against exact rational arithmetic and scipy."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from offerlab_sdk import bucketing

ALPHA = 0.001
visitor_ids = st.text(min_size=1, max_size=40)
salts = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
traffic = st.integers(min_value=0, max_value=10_000)


@st.composite
def weight_sets(draw: st.DrawFn) -> tuple[int, ...]:
    """Integer basis points summing to 10000, 1-5 variants, zeros and 1 bp allowed."""
    count = draw(st.integers(min_value=1, max_value=5))
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=count - 1, max_size=count - 1)))
    edges = [0, *cuts, 10_000]
    return tuple(b - a for a, b in zip(edges, edges[1:], strict=False))


def reference_index(
    salt: str, visitor_id: str, weights: tuple[int, ...], traffic_bp: int
) -> int | None:
    position = Fraction(bucketing.hash_uint32(f"{salt}.{visitor_id}"), 2**32)
    start = Fraction(0)
    for index, weight in enumerate(weights):
        if start <= position < start + Fraction(traffic_bp * weight, 10**8):
            return index
        start += Fraction(weight, 10**4)
    return None


def test_hash_is_murmur3_over_utf8_bytes() -> None:
    # Published MurmurHash3_x86_32 values (seed 0): "" -> 0, "hello" -> 0x248bfa47.
    assert bucketing.hash_uint32("") == 0
    assert bucketing.hash_uint32("hello") == 0x248BFA47
    assert bucketing.hash_uint32("é") != bucketing.hash_uint32("e\u0301")


@given(visitor_ids)
def test_positions_lie_in_unit_interval(text: str) -> None:
    hash_value = bucketing.hash_uint32(text)
    assert 0 <= hash_value < 2**32
    assert 0.0 <= bucketing.position(hash_value) < 1.0


@given(salts, visitor_ids, weight_sets(), traffic)
def test_variant_index_matches_exact_fractions(
    salt: str, visitor_id: str, weights: tuple[int, ...], traffic_bp: int
) -> None:
    assert bucketing.variant_index(salt, visitor_id, weights, traffic_bp) == reference_index(
        salt, visitor_id, weights, traffic_bp
    )


@given(weight_sets())
def test_full_traffic_ranges_partition_the_hash_space(weights: tuple[int, ...]) -> None:
    lows, highs = bucketing.variant_bounds(weights, 10_000)
    assert lows[0] == 0
    assert list(highs[:-1]) == list(lows[1:])
    assert highs[-1] == 2**32


@given(salts, visitor_ids, weight_sets(), traffic, traffic)
def test_raising_traffic_never_moves_an_included_visitor(
    salt: str, visitor_id: str, weights: tuple[int, ...], first: int, second: int
) -> None:
    low, high = sorted((first, second))
    before = bucketing.variant_index(salt, visitor_id, weights, low)
    after = bucketing.variant_index(salt, visitor_id, weights, high)
    if before is not None:
        assert after == before


@given(salts, visitor_ids, weight_sets())
def test_zero_traffic_includes_nobody_and_zero_weight_variants_get_nobody(
    salt: str, visitor_id: str, weights: tuple[int, ...]
) -> None:
    assert bucketing.variant_index(salt, visitor_id, weights, 0) is None
    index = bucketing.variant_index(salt, visitor_id, weights, 10_000)
    assert index is not None and weights[index] > 0


@given(st.sampled_from(["cart", "checkout", "email"]), visitor_ids, st.integers(0, 10_000))
def test_adjacent_placement_ranges_hold_each_visitor_exactly_once(
    placement: str, visitor_id: str, cut: int
) -> None:
    inside = [
        bucketing.in_placement_range(placement, visitor_id, (0, cut)),
        bucketing.in_placement_range(placement, visitor_id, (cut, 10_000)),
    ]
    assert inside.count(True) == 1


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=8))
def test_weights_to_bp_sum_to_10000_and_round_each_weight_by_less_than_one(
    raw: list[float],
) -> None:
    total = math.fsum(raw)
    if total == 0:
        return
    weights = [w / total for w in raw]
    if abs(math.fsum(weights) - 1) > 1e-6:
        return
    result = bucketing.weights_to_bp(weights)
    assert sum(result) == 10_000
    assert all(bp >= 0 for bp in result)
    assert all(
        abs(bp - Fraction(w) * 10_000) < 1 + Fraction(1, 100)
        for bp, w in zip(result, weights, strict=True)
    )


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([0.5, 0.5], (5000, 5000)),
        ([1 / 3, 1 / 3, 1 / 3], (3334, 3333, 3333)),
        ([0.29, 0.71], (2900, 7100)),
        ([1.0, 0.0], (10000, 0)),
        ([0.0001, 0.9999], (1, 9999)),
        ([0.00016, 0.99984], (2, 9998)),
        ([0.15, 0.15, 0.7], (1500, 1500, 7000)),
    ],
)
def test_weights_to_bp_known_values(weights: list[float], expected: tuple[int, ...]) -> None:
    assert bucketing.weights_to_bp(weights) == expected


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "must not be empty"),
        ([-0.1, 1.1], "finite and >= 0"),
        ([0.5, 0.4], "must sum to 1"),
        ([0.5, 0.5, 1e-5], "must sum to 1"),
        ([math.nan, 1.0], "finite"),
        ([math.inf], "finite"),
        ([True], "must be numbers"),
        (["0.5", "0.5"], "must be numbers"),
    ],
)
def test_weights_to_bp_rejects_invalid_weights(weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bucketing.weights_to_bp(weights)


def test_weights_to_bp_accepts_a_sum_within_tolerance() -> None:
    assert bucketing.weights_to_bp([0.5, 0.5 + 9e-7]) == (5000, 5000)


def test_variant_counts_are_uniform_over_100k_ids() -> None:
    """Chi-square goodness of fit at alpha 0.001.

    The ids are fixed, so the outcome is deterministic; for ids drawn at random the test would
    fail falsely with probability 0.001 (one run in a thousand).
    """
    weights = (5000, 3000, 1500, 499, 1)
    counts = [0] * len(weights)
    for n in range(100_000):
        index = bucketing.variant_index(
            "cart-accessory-cross-sell", f"visitor-{n}", weights, 10_000
        )
        assert index is not None
        counts[index] += 1
    expected = [100_000 * w / 10_000 for w in weights]
    assert scipy.stats.chisquare(counts, expected).pvalue > ALPHA


def test_traffic_share_matches_traffic_bp() -> None:
    """Binomial z-test at |z| < 3.29 (two-sided alpha 0.001; same false-failure rate as above)."""
    n, traffic_bp = 100_000, 2_500
    included = sum(
        bucketing.variant_index("pdp-upgrade", f"visitor-{i}", (5000, 5000), traffic_bp) is not None
        for i in range(n)
    )
    p = traffic_bp / 10_000
    z = (included - n * p) / math.sqrt(n * p * (1 - p))
    assert abs(z) < 3.29


def test_assignments_are_independent_across_salts() -> None:
    """Chi-square test of independence of two experiments' variants at alpha 0.001."""
    table = [[0, 0], [0, 0]]
    for n in range(50_000):
        first = bucketing.variant_index("cart-accessory-cross-sell", f"v{n}", (5000, 5000), 10_000)
        second = bucketing.variant_index("checkout-warranty-price", f"v{n}", (5000, 5000), 10_000)
        table[first][second] += 1
    assert scipy.stats.chi2_contingency(table).pvalue > ALPHA
