"""Minimum traffic shares: keep every variant explored while a bandit re-weights them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def apply_floor(weights: Sequence[float], *, min_share: float) -> tuple[float, ...]:
    """Raise every weight to at least ``min_share`` and share the rest proportionally.

    The result is ``max(min_share, c * w_i)`` with the one ``c`` that makes it sum to 1: arms
    pushed to the floor stay exactly at the floor, the others keep their relative proportions.
    """
    raw = np.asarray(weights, dtype=float)
    _check_floor_inputs(raw, min_share)
    raw = raw / raw.sum()
    at_floor = np.zeros(raw.size, dtype=bool)
    while True:
        free_mass = raw[~at_floor].sum()
        remainder = 1.0 - min_share * at_floor.sum()
        result = np.where(at_floor, min_share, raw * (remainder / free_mass))
        newly_low = ~at_floor & (result < min_share)
        if not newly_low.any():
            break
        at_floor |= newly_low
        if at_floor.all():
            result = np.full(raw.size, min_share)
            break
    return tuple(float(w) for w in result / result.sum())


def _check_floor_inputs(raw: np.ndarray, min_share: float) -> None:
    if raw.size == 0:
        raise ValueError("weights must not be empty")
    if not np.all(np.isfinite(raw)) or np.any(raw < 0) or raw.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    if not 0.0 <= min_share < 1.0:
        raise ValueError("min_share must be >= 0 and < 1")
    if min_share * raw.size > 1.0 + 1e-12:
        raise ValueError("min_share * number of variants must be <= 1")
