"""Sequential mode of the engine: a comparison's p-value and intervals made always-valid."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from offerlab.domain.reports import Comparison, Interval, ResultError
from offerlab.domain.stats.frequentist import Estimate
from offerlab.domain.stats.sequential import (
    always_valid_p_value,
    confidence_sequence,
    tuned_tau_sq,
)


@dataclass(frozen=True)
class SequentialFrame:
    """Total units now, the planned units N* and alpha: what tunes the mixing variance τ²."""

    total_units: int
    planned_units: int
    alpha: float

    def tau_sq(self, variance: float) -> float:
        """τ² for a difference whose estimate has this variance (sequential module)."""
        return tuned_tau_sq(
            variance, self.total_units, alpha=self.alpha, planned_units=self.planned_units
        )


def make_sequential(
    comparison: Comparison,
    control: Estimate,
    variant: Estimate,
    frame: SequentialFrame,
    interval_alpha: float,
) -> Comparison:
    """Replace p-value and intervals by always-valid ones (mixture SPRT, sequential module)."""
    if comparison.p_value is None:
        return comparison
    variance = control.variance + variant.variance
    if not variance > 0.0:
        return Comparison(
            comparison.metric,
            comparison.control_value,
            comparison.variant_value,
            error=ResultError.ZERO_VARIANCE,
        )
    diff = variant.value - control.value
    tau_sq = frame.tau_sq(variance)
    return dataclasses.replace(
        comparison,
        absolute_ci=confidence_sequence(diff, variance, alpha=interval_alpha, tau_sq=tau_sq),
        relative_ci=_relative_sequence(control, variant, frame, interval_alpha),
        p_value=always_valid_p_value(diff, variance, tau_sq=tau_sq),
    )


def _relative_sequence(
    control: Estimate, variant: Estimate, frame: SequentialFrame, interval_alpha: float
) -> Interval | None:
    """Confidence sequence of v/c − 1 with the delta-method variance of v/c."""
    if control.value == 0.0:
        return None
    variance = variant.variance / control.value**2 + (
        variant.value**2 * control.variance / control.value**4
    )
    if not variance > 0.0:
        return None
    uplift = variant.value / control.value - 1.0
    return confidence_sequence(
        uplift, variance, alpha=interval_alpha, tau_sq=frame.tau_sq(variance)
    )
