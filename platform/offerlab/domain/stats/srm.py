"""Sample ratio mismatch (SRM): are units split across variants as the weights say?

Pearson's chi-square goodness-of-fit test, as ``scipy.stats.chisquare`` with
f_exp = total × weights / Σweights:  χ² = Σ (oᵢ − eᵢ)² / eᵢ with k − 1 degrees of freedom.
A tiny p-value means the assignment or the event pipeline is broken and the comparison cannot
be trusted; the usual threshold is 0.001 (e.g. Fabijan et al. 2019, "Diagnosing Sample Ratio
Mismatch in Online Controlled Experiments").

Weights must be those in force for the whole period of the counts; a variant with weight 0
(e.g. stopped) must be left out by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from scipy import stats as sps

from offerlab.domain.reports import ResultError

DEFAULT_SRM_THRESHOLD = 0.001


class SrmResult(NamedTuple):
    """Chi-square statistic, its p-value and the verdict; no units gives `error=NO_UNITS`."""

    statistic: float | None
    p_value: float | None
    unhealthy: bool
    error: ResultError | None = None


def check_srm(
    observed_units: Sequence[int],
    expected_weights: Sequence[float],
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SrmResult:
    """Pearson chi-square test of observed units per variant against the expected weights."""
    _check_arguments(observed_units, expected_weights, threshold)
    total = sum(observed_units)
    if total == 0:
        return SrmResult(None, None, unhealthy=False, error=ResultError.NO_UNITS)
    weight_sum = math.fsum(expected_weights)
    statistic = 0.0
    for observed, weight in zip(observed_units, expected_weights, strict=True):
        expected = total * weight / weight_sum
        statistic += (observed - expected) ** 2 / expected
    p_value = float(sps.chi2.sf(statistic, len(observed_units) - 1))
    return SrmResult(statistic, p_value, unhealthy=p_value < threshold)


def _check_arguments(
    observed_units: Sequence[int], expected_weights: Sequence[float], threshold: float
) -> None:
    if len(observed_units) != len(expected_weights):
        raise ValueError("observed_units and expected_weights must have the same length")
    if len(observed_units) < 2:
        raise ValueError("at least two variants are needed")
    if any(count < 0 for count in observed_units):
        raise ValueError("observed units must be non-negative")
    if not all(math.isfinite(weight) and weight > 0 for weight in expected_weights):
        raise ValueError("expected weights must be positive and finite")
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be between 0 and 1 (exclusive)")
