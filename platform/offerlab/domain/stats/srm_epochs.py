"""Sample-ratio check per allocation epoch, for experiments whose weights change (bandits).

A bandit moves traffic between variants, so the units of the whole run need not follow any one
set of weights. Each epoch's units (those first exposed while that epoch's weights were in
force) are tested against that epoch's weights with Pearson's chi-square (``srm.check_srm``,
as scipy ``chisquare``). Variants with weight 0 are left out of an epoch's test.

An epoch is skipped, with a reason, when fewer than two variants have a positive weight
(``one_variant``) or when any expected count is below 5 (``too_few_units``, the usual validity
rule of the chi-square approximation). Units at a variant whose weight was 0 cannot come from a
working assignment, so such an epoch is not tested but marked unhealthy
(``units_at_zero_weight``). Over the m tested epochs the p-values are Bonferroni-adjusted,
min(1, m·p), and an epoch is unhealthy when its adjusted p is below the threshold.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from offerlab.domain.stats.srm import DEFAULT_SRM_THRESHOLD, check_srm

MIN_EXPECTED_UNITS = 5.0
ONE_VARIANT = "one_variant"
TOO_FEW_UNITS = "too_few_units"
UNITS_AT_ZERO_WEIGHT = "units_at_zero_weight"


@dataclass(frozen=True)
class EpochUnits:
    """Units first exposed in one allocation epoch, per variant, and that epoch's weights."""

    version: int
    units: Mapping[str, int]
    weights: Mapping[str, float]


@dataclass(frozen=True)
class EpochSampleRatio:
    """One epoch's chi-square check; `skipped_reason` says why an epoch was not tested."""

    version: int
    units: int
    statistic: float | None
    p_value: float | None
    adjusted_p_value: float | None
    tested: bool
    unhealthy: bool
    skipped_reason: str | None = None


def check_epochs(
    epochs: Sequence[EpochUnits],
    variant_names: Sequence[str],
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> tuple[EpochSampleRatio, ...]:
    """Per-epoch checks in input order, Bonferroni-adjusted over the tested epochs."""
    _check_epochs(epochs, variant_names)
    raw = [_check_epoch(epoch, threshold) for epoch in epochs]
    tested = sum(item.tested for item in raw)
    return tuple(_adjusted(item, tested, threshold) for item in raw)


def _check_epoch(epoch: EpochUnits, threshold: float) -> EpochSampleRatio:
    total = sum(epoch.units.values())
    active = [name for name, weight in epoch.weights.items() if weight > 0.0]
    if any(epoch.units.get(name, 0) > 0 for name in epoch.units if name not in active):
        return _untested(epoch, total, UNITS_AT_ZERO_WEIGHT, unhealthy=True)
    if len(active) < 2:
        return _untested(epoch, total, ONE_VARIANT, unhealthy=False)
    weights = [epoch.weights[name] for name in active]
    weight_sum = math.fsum(weights)
    if min(total * w / weight_sum for w in weights) < MIN_EXPECTED_UNITS:
        return _untested(epoch, total, TOO_FEW_UNITS, unhealthy=False)
    result = check_srm([epoch.units.get(name, 0) for name in active], weights, threshold=threshold)
    return EpochSampleRatio(
        epoch.version, total, result.statistic, result.p_value, None, tested=True, unhealthy=False
    )


def _adjusted(item: EpochSampleRatio, tested: int, threshold: float) -> EpochSampleRatio:
    if not item.tested or item.p_value is None:
        return item
    adjusted = min(1.0, item.p_value * tested)
    return EpochSampleRatio(
        item.version,
        item.units,
        item.statistic,
        item.p_value,
        adjusted,
        tested=True,
        unhealthy=adjusted < threshold,
    )


def _untested(epoch: EpochUnits, total: int, reason: str, *, unhealthy: bool) -> EpochSampleRatio:
    return EpochSampleRatio(
        epoch.version,
        total,
        None,
        None,
        None,
        tested=False,
        unhealthy=unhealthy,
        skipped_reason=reason,
    )


def _check_epochs(epochs: Sequence[EpochUnits], variant_names: Sequence[str]) -> None:
    known = set(variant_names)
    versions = [epoch.version for epoch in epochs]
    if len(set(versions)) != len(versions):
        raise ValueError("epoch versions must be unique")
    for epoch in epochs:
        unknown = (set(epoch.units) | set(epoch.weights)) - known
        if unknown:
            raise ValueError(f"epoch {epoch.version}: unknown variants {sorted(unknown)}")
        for name, count in epoch.units.items():
            if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
                raise ValueError(f"epoch {epoch.version}: units of {name!r} must be a count")
        for name, weight in epoch.weights.items():
            if not (math.isfinite(weight) and weight >= 0.0):
                raise ValueError(f"epoch {epoch.version}: weight of {name!r} must be >= 0")
