"""Reference implementation of the offerlab hashing spec (SPEC.md, "Hashing and bucketing").

Pure functions: no IO, no clock, no randomness. Every boundary comparison is done on
integers, so two implementations that follow the spec agree on every visitor.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Sequence
from fractions import Fraction
from typing import NamedTuple

import mmh3

BASIS_POINTS = 10_000
HASH_SPACE = 2**32
MEASUREMENT_PLACEMENT = "measurement"

# Spec test for variant i: S_i * 10**4 * 2**32 <= h * 10**8 < (S_i * 10**4 + T * W_i) * 2**32.
# For an integer h, "c <= h * 10**8" is exactly "h >= ceil(c / 10**8)", so each range becomes a
# pair of integer hash thresholds computed once per experiment: same result, no big integers.
_SCALE = BASIS_POINTS * BASIS_POINTS


class Bounds(NamedTuple):
    """Variant i owns the hashes ``lows[i] <= h < highs[i]``; ``lows`` is non-decreasing."""

    lows: tuple[int, ...]
    highs: tuple[int, ...]


def hash_uint32(text: str) -> int:
    """Return the unsigned 32-bit MurmurHash3 (seed 0) of the UTF-8 bytes of ``text``."""
    return mmh3.hash(text.encode("utf-8"), 0, False)


def experiment_input(salt: str, visitor_id: str) -> str:
    """Return the exact string hashed to place a visitor within an experiment."""
    return f"{salt}.{visitor_id}"


def placement_input(placement: str, visitor_id: str) -> str:
    """Return the exact string hashed to place a visitor within a placement's slices."""
    return f"placement/{placement}.{visitor_id}"


def measurement_input(visitor_id: str) -> str:
    """Return the exact string hashed to place a visitor in or out of the measurement slice.

    It is the placement input of the reserved pseudo-placement ``measurement``: independent of
    every experiment's variant hash and of the real placements' slices.
    """
    return placement_input(MEASUREMENT_PLACEMENT, visitor_id)


def in_measurement_slice(hash_value: int, measurement_bp: int) -> bool:
    """Return True when a measurement hash falls in the first ``measurement_bp`` of the space.

    >>> in_measurement_slice(hash_uint32(measurement_input("visitor-1")), 10000)
    True
    """
    return hash_value * BASIS_POINTS < measurement_bp * HASH_SPACE


def position(hash_value: int) -> float:
    """Return the position in [0, 1) of a hash; informational only, never used for decisions."""
    return hash_value / HASH_SPACE


def variant_bounds(weights_bp: Sequence[int], traffic_bp: int) -> Bounds:
    """Return the integer hash thresholds of every variant's covered range.

    Variant i owns positions [S_i / 10**4, S_i / 10**4 + T * W_i / 10**8): coverage is applied
    inside each variant's range, so raising traffic never moves an included visitor.
    """
    lows, highs = [], []
    start_bp = 0
    for weight_bp in weights_bp:
        lows.append(_ceil_div(start_bp * BASIS_POINTS * HASH_SPACE, _SCALE))
        highs.append(
            _ceil_div((start_bp * BASIS_POINTS + traffic_bp * weight_bp) * HASH_SPACE, _SCALE)
        )
        start_bp += weight_bp
    return Bounds(tuple(lows), tuple(highs))


def weighted_bounds(weights: Sequence[int], traffic_bp: int) -> Bounds:
    """Return the hash thresholds of integer ``weights`` with any positive total ``E``.

    Variant i owns positions [S_i / E, S_i / E + T * W_i / (10**4 * E)): the same hash picks
    among the eligible variants after renormalisation (their weights, the others' set to 0).
    With ``E`` = 10000 this is exactly ``variant_bounds``.

    >>> weighted_bounds((1, 0, 1), 10000) == variant_bounds((5000, 0, 5000), 10000)
    True
    """
    total = sum(weights)
    if total <= 0 or any(weight < 0 for weight in weights):
        raise ValueError(f"weights must be >= 0 with a positive total, got {tuple(weights)!r}")
    scale = BASIS_POINTS * total
    lows, highs = [], []
    start = 0
    for weight in weights:
        lows.append(_ceil_div(start * BASIS_POINTS * HASH_SPACE, scale))
        highs.append(_ceil_div((start * BASIS_POINTS + traffic_bp * weight) * HASH_SPACE, scale))
        start += weight
    return Bounds(tuple(lows), tuple(highs))


def index_for_hash(hash_value: int, bounds: Bounds) -> int | None:
    """Return the index of the range containing ``hash_value``, or None when outside traffic."""
    # The last range starting at or below the hash is the only candidate: ranges never overlap,
    # and a zero-width range is skipped because a later one shares its start.
    lows, highs = bounds
    index = bisect_right(lows, hash_value) - 1
    if hash_value < highs[index]:
        return index
    return None


def variant_index(
    salt: str, visitor_id: str, weights_bp: Sequence[int], traffic_bp: int
) -> int | None:
    """Return the index of the visitor's variant, or None when the visitor is outside traffic.

    >>> variant_index("cart-accessory-cross-sell", "visitor-1", (5000, 5000), 10000) in (0, 1)
    True
    >>> variant_index("cart-accessory-cross-sell", "visitor-1", (5000, 5000), 0) is None
    True
    """
    hash_value = hash_uint32(experiment_input(salt, visitor_id))
    return index_for_hash(hash_value, variant_bounds(weights_bp, traffic_bp))


def hash_in_range(hash_value: int, range_bp: tuple[int, int]) -> bool:
    """Return True when position ``hash_value / 2**32`` lies in [start / 10**4, end / 10**4)."""
    start_bp, end_bp = range_bp
    scaled = hash_value * BASIS_POINTS
    return start_bp * HASH_SPACE <= scaled < end_bp * HASH_SPACE


def in_placement_range(placement: str, visitor_id: str, range_bp: tuple[int, int]) -> bool:
    """Return True when the visitor's placement position falls in ``range_bp`` = [start, end).

    >>> in_placement_range("cart", "visitor-1", (0, 10000))
    True
    """
    return hash_in_range(hash_uint32(placement_input(placement, visitor_id)), range_bp)


def weights_to_bp(weights: Sequence[float]) -> tuple[int, ...]:
    """Convert weights summing to 1 into integer basis points summing to exactly 10000.

    Largest-remainder rounding on exact rational arithmetic; ties go to the earlier variant.

    >>> weights_to_bp([1 / 3, 1 / 3, 1 / 3])
    (3334, 3333, 3333)
    """
    _check_weights(weights)
    exact = [Fraction(float(weight)) * BASIS_POINTS for weight in weights]
    floors = [math.floor(value) for value in exact]
    missing = BASIS_POINTS - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in by_remainder[:missing]:
        floors[index] += 1
    return tuple(floors)


def _check_weights(weights: Sequence[float]) -> None:
    if len(weights) == 0:
        raise ValueError("weights must not be empty")
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise ValueError(f"weights must be numbers, got {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weights must be finite and >= 0, got {weight!r}")
    total = math.fsum(float(weight) for weight in weights)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"weights must sum to 1 (within 1e-6), got {total!r}")


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
