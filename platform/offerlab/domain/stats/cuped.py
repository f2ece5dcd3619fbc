"""CUPED variance reduction of revenue per unit with a pre-period covariate, from sums.

With y a unit's revenue and x its covariate (e.g. spend in the 30 days before exposure), each
variant i contributes centred sums S_xx,i = Σx² − (Σx)²/n, S_yy,i and S_xy,i = Σxy − ΣxΣy/n.
The pooled within-variant slope

    θ = Σ_i S_xy,i / Σ_i S_xx,i

is the OLS slope of y on x with one intercept per variant (so a treatment effect does not leak
into θ). Each unit's adjusted value is y − θ (x − x̄), x̄ the covariate mean over all units, so
an arm's adjusted mean is ȳ_i − θ (x̄_i − x̄) and its sample variance
(S_yy,i − 2θ S_xy,i + θ² S_xx,i) / (n_i − 1). The difference of adjusted means equals the
variant coefficient of that regression. Welch's t-test then runs on the adjusted figures, θ
treated as known (Deng, Xu, Kohavi & Walker 2013, "Improving the Sensitivity of Online
Controlled Experiments by Utilizing Pre-Experiment Data").

`variance_ratio` is the pooled within-variant residual variance over the pooled revenue
variance, (ΣS_yy − θ ΣS_xy) / ΣS_yy = 1 − ρ² with ρ the pooled within-variant correlation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from offerlab.domain.reports import Comparison, ResultError
from offerlab.domain.stats.engine_inputs import VariantSums
from offerlab.domain.stats.frequentist import (
    Estimate,
    SampleMoments,
    check_alpha,
    degenerate_comparison,
    welch_comparison,
)

# Centred sums at or below this fraction of the raw sums of squares are rounding noise.
_RELATIVE_EPSILON = 1e-12


@dataclass(frozen=True)
class CentredSums:
    """Within-variant centred sums of squares and cross-products of revenue y and covariate x."""

    s_xx: float
    s_yy: float
    s_xy: float


@dataclass(frozen=True)
class CupedAdjustment:
    """The fitted adjustment: θ, the overall covariate mean and the variance ratio 1 − ρ²."""

    theta: float
    covariate_mean: float
    variance_ratio: float | None

    def adjusted_mean(self, sums: VariantSums) -> float | None:
        """ȳ − θ (x̄_arm − x̄); None without units."""
        if sums.units == 0:
            return None
        assert sums.covariate_sum is not None
        covariate_shift = sums.covariate_sum / sums.units - self.covariate_mean
        return sums.revenue_sum / sums.units - self.theta * covariate_shift

    def adjusted_moments(self, sums: VariantSums) -> SampleMoments | None:
        """Size, adjusted mean and adjusted sample variance; None below two units."""
        mean = self.adjusted_mean(sums)
        if mean is None or sums.units < 2:
            return None
        assert sums.covariate_sum_sq is not None
        centred = centred_sums(sums)
        theta = self.theta
        residual = centred.s_yy - 2.0 * theta * centred.s_xy + theta**2 * centred.s_xx
        scale = sums.revenue_sum_sq + theta**2 * sums.covariate_sum_sq
        if residual <= _RELATIVE_EPSILON * scale:
            residual = 0.0
        return SampleMoments(sums.units, mean, residual / (sums.units - 1))

    def arm_estimate(self, sums: VariantSums) -> Estimate | None:
        """Adjusted mean and the variance of that mean; None below two units."""
        moments = self.adjusted_moments(sums)
        return None if moments is None else Estimate(moments.mean, moments.variance / moments.n)


@dataclass(frozen=True)
class CupedFit:
    """Outcome of fitting CUPED: the adjustment, or why the covariate could not be used."""

    adjustment: CupedAdjustment | None
    error: ResultError | None = None


def fit_cuped(variants: Sequence[VariantSums]) -> CupedFit | None:
    """Fit θ over all variants; None when some variant lacks the covariate sums."""
    if not all(v.has_covariate for v in variants):
        return None
    filled = [v for v in variants if v.units > 0]
    if not filled:
        return CupedFit(None, ResultError.NO_UNITS)
    centred = [centred_sums(v) for v in filled]
    s_xx = math.fsum(c.s_xx for c in centred)
    s_xy = math.fsum(c.s_xy for c in centred)
    s_yy = math.fsum(c.s_yy for c in centred)
    scale = math.fsum(v.covariate_sum_sq or 0.0 for v in filled)
    if s_xx <= _RELATIVE_EPSILON * scale:
        return CupedFit(None, ResultError.ZERO_VARIANCE)
    theta = s_xy / s_xx
    covariate_mean = math.fsum(v.covariate_sum or 0.0 for v in filled) / sum(
        v.units for v in filled
    )
    variance_ratio = max(0.0, (s_yy - theta * s_xy) / s_yy) if s_yy > 0.0 else None
    return CupedFit(CupedAdjustment(theta, covariate_mean, variance_ratio))


def centred_sums(sums: VariantSums) -> CentredSums:
    """S_xx, S_yy, S_xy of one variant with at least one unit."""
    assert sums.covariate_sum is not None and sums.covariate_sum_sq is not None
    assert sums.revenue_covariate_sum_prod is not None
    n = sums.units
    return CentredSums(
        s_xx=max(0.0, sums.covariate_sum_sq - sums.covariate_sum**2 / n),
        s_yy=max(0.0, sums.revenue_sum_sq - sums.revenue_sum**2 / n),
        s_xy=sums.revenue_covariate_sum_prod - sums.revenue_sum * sums.covariate_sum / n,
    )


def compare_adjusted(
    control: VariantSums,
    variant: VariantSums,
    adjustment: CupedAdjustment,
    *,
    alpha: float,
    metric: str,
) -> Comparison:
    """Welch's t-test on the CUPED-adjusted means and variances of two arms."""
    check_alpha(alpha)
    control_moments = adjustment.adjusted_moments(control)
    variant_moments = adjustment.adjusted_moments(variant)
    if control_moments is None or variant_moments is None:
        return degenerate_comparison(
            metric,
            adjustment.adjusted_mean(control),
            adjustment.adjusted_mean(variant),
            ResultError.NO_UNITS,
        )
    return welch_comparison(control_moments, variant_moments, alpha=alpha, metric=metric)
