"""Multiple-comparison corrections of p-values (several variants or metrics against a control).

Results equal ``statsmodels.stats.multitest.multipletests`` for ``holm`` and ``fdr_bh``:

- Holm (step-down, family-wise error rate): with p-values sorted ascending p₍₁₎ ≤ … ≤ p₍ₘ₎,
  p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1) p₍ⱼ₎). Holm (1979).
- Benjamini–Hochberg (step-up, false discovery rate):
  p̃₍ᵢ₎ = min(1, min_{j ≥ i} m p₍ⱼ₎ / j). Benjamini & Hochberg (1995).
- Bonferroni: p̃ᵢ = min(1, m pᵢ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

CorrectionMethod = Literal["holm", "bh", "bonferroni", "none"]
CORRECTION_METHODS: tuple[str, ...] = ("holm", "bh", "bonferroni", "none")


def adjust_p_values(
    p_values: Sequence[float], method: CorrectionMethod = "holm"
) -> tuple[float, ...]:
    """Adjusted p-values in the input order; compare each with alpha as usual."""
    if method not in CORRECTION_METHODS:
        raise ValueError(f"unknown correction method {method!r}; use one of {CORRECTION_METHODS}")
    values = [float(p) for p in p_values]
    if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in values):
        raise ValueError("p-values must be between 0 and 1")
    if not values or method == "none":
        return tuple(values)
    array = np.asarray(values)
    if method == "bonferroni":
        adjusted = np.minimum(1.0, array * len(array))
    elif method == "holm":
        adjusted = _holm(array)
    else:
        adjusted = _benjamini_hochberg(array)
    return tuple(float(p) for p in adjusted)


def _holm(p_values: np.ndarray) -> np.ndarray:
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.maximum.accumulate(p_values[order] * np.arange(m, 0, -1))
    return _unsort(np.minimum(1.0, stepped), order)


def _benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    return _unsort(np.minimum(1.0, stepped), order)


def _unsort(sorted_values: np.ndarray, order: np.ndarray) -> np.ndarray:
    result = np.empty_like(sorted_values)
    result[order] = sorted_values
    return result
