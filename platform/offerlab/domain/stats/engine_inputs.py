"""Input of the analysis engine: per-variant sums, checked so that only real data gets through."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from offerlab.domain.stats.frequentist import MeanStats
from offerlab.domain.stats.ratio import RatioStats

COVARIATE_FIELDS = ("covariate_sum", "covariate_sum_sq", "revenue_covariate_sum_prod")
ACCEPTANCE_FIELDS = ("acceptance_value_sum", "acceptance_value_sum_sq")


class InvalidSums(ValueError):
    """Sums that no real data can produce; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class VariantSums:
    """Sums over the units (visitors) of one variant; `weight` is its planned traffic share.

    Optional groups, each given whole or not at all: the pre-period covariate sums (CUPED for
    revenue per unit), the per-unit value of accepted offers, and the units with a refund.
    """

    variant: str
    units: int
    conversions: int
    revenue_sum: float
    revenue_sum_sq: float
    orders_sum: float
    orders_sum_sq: float
    revenue_orders_sum_prod: float
    weight: float | None = None
    covariate_sum: float | None = None
    covariate_sum_sq: float | None = None
    revenue_covariate_sum_prod: float | None = None
    acceptance_value_sum: float | None = None
    acceptance_value_sum_sq: float | None = None
    refunded_units: int | None = None

    def __post_init__(self) -> None:
        check_counts(self)
        check_sums(self)
        check_optional_sums(self)

    @property
    def has_covariate(self) -> bool:
        """True when the three covariate sums are given."""
        return self.covariate_sum is not None

    @property
    def has_acceptance_value(self) -> bool:
        """True when the accepted-offer value sums are given."""
        return self.acceptance_value_sum is not None

    def revenue_stats(self) -> tuple[int, float, float]:
        """(n, Σ revenue, Σ revenue²) over units."""
        return (self.units, self.revenue_sum, self.revenue_sum_sq)

    def orders_stats(self) -> MeanStats:
        """(n, Σ orders, Σ orders²) over units."""
        return MeanStats(self.units, self.orders_sum, self.orders_sum_sq)

    def acceptance_value_stats(self) -> MeanStats | None:
        """(n, Σ accepted value, Σ accepted value²) over units; None when not given."""
        if self.acceptance_value_sum is None or self.acceptance_value_sum_sq is None:
            return None
        return MeanStats(self.units, self.acceptance_value_sum, self.acceptance_value_sum_sq)

    def order_value_stats(self) -> RatioStats:
        """Per-unit sums of the ratio revenue / orders (average order value)."""
        return RatioStats(
            self.units,
            self.revenue_sum,
            self.revenue_sum_sq,
            self.orders_sum,
            self.orders_sum_sq,
            self.revenue_orders_sum_prod,
        )


def check_counts(sums: VariantSums) -> None:
    if not sums.variant:
        raise InvalidSums("variant", "must not be empty")
    for name in ("units", "conversions"):
        _check_count(sums, name)
    if sums.conversions > sums.units:
        raise InvalidSums("conversions", "must not exceed units")
    if sums.weight is not None and not (math.isfinite(sums.weight) and sums.weight > 0):
        raise InvalidSums("weight", "must be a positive number")


def check_sums(sums: VariantSums) -> None:
    for field in ("revenue_sum", "revenue_sum_sq", "orders_sum", "orders_sum_sq"):
        _check_finite(sums, field, allow_negative=field == "revenue_sum")
    _check_finite(sums, "revenue_orders_sum_prod", allow_negative=True)
    _check_spread(sums, "revenue_sum", "revenue_sum_sq")
    _check_spread(sums, "orders_sum", "orders_sum_sq")


def check_optional_sums(sums: VariantSums) -> None:
    """The covariate and acceptance groups are all-or-none; refunds are a count ≤ units."""
    if _given_group(sums, COVARIATE_FIELDS):
        _check_finite(sums, "covariate_sum", allow_negative=True)
        _check_finite(sums, "covariate_sum_sq", allow_negative=False)
        _check_finite(sums, "revenue_covariate_sum_prod", allow_negative=True)
        _check_spread(sums, "covariate_sum", "covariate_sum_sq")
        _check_covariance(sums)
    if _given_group(sums, ACCEPTANCE_FIELDS):
        _check_finite(sums, "acceptance_value_sum", allow_negative=False)
        _check_finite(sums, "acceptance_value_sum_sq", allow_negative=False)
        _check_spread(sums, "acceptance_value_sum", "acceptance_value_sum_sq")
    if sums.refunded_units is not None:
        _check_count(sums, "refunded_units")
        if sums.refunded_units > sums.units:
            raise InvalidSums("refunded_units", "must not exceed units")


def _given_group(sums: VariantSums, fields: tuple[str, ...]) -> bool:
    missing = [field for field in fields if getattr(sums, field) is None]
    if missing and len(missing) < len(fields):
        raise InvalidSums(missing[0], f"give all of {', '.join(fields)} or none")
    return not missing


def _check_count(sums: VariantSums, field: str) -> None:
    value = getattr(sums, field)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidSums(field, "must be a whole number")
    if value < 0:
        raise InvalidSums(field, "must not be negative")


def _check_finite(sums: VariantSums, field: str, *, allow_negative: bool) -> None:
    value = getattr(sums, field)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidSums(field, "must be a finite number")
    if value < 0 and not allow_negative:
        raise InvalidSums(field, "must not be negative")


def _check_spread(sums: VariantSums, sum_field: str, sum_sq_field: str) -> None:
    """(Σx)² ≤ n Σx² (Cauchy–Schwarz): otherwise no data has these sums."""
    total, total_sq = getattr(sums, sum_field), getattr(sums, sum_sq_field)
    if total * total > sums.units * total_sq * (1.0 + 1e-9) + 1e-12:
        raise InvalidSums(sum_sq_field, f"is too small for {sum_field} and units")


def _check_covariance(sums: VariantSums) -> None:
    """Centred cross-product² ≤ S_yy S_xx (Cauchy–Schwarz), with room for rounding."""
    if sums.units == 0:
        if sums.revenue_covariate_sum_prod != 0.0:
            raise InvalidSums("revenue_covariate_sum_prod", "must be 0 without units")
        return
    assert sums.covariate_sum is not None and sums.covariate_sum_sq is not None
    assert sums.revenue_covariate_sum_prod is not None
    n = sums.units
    s_xx = max(0.0, sums.covariate_sum_sq - sums.covariate_sum**2 / n)
    s_yy = max(0.0, sums.revenue_sum_sq - sums.revenue_sum**2 / n)
    s_xy = sums.revenue_covariate_sum_prod - sums.revenue_sum * sums.covariate_sum / n
    slack = 1e-9 * sums.covariate_sum_sq * sums.revenue_sum_sq + 1e-12
    if s_xy * s_xy > s_xx * s_yy * (1.0 + 1e-9) + slack:
        raise InvalidSums(
            "revenue_covariate_sum_prod", "is impossible for the revenue and covariate sums"
        )


def check_variant_list(variants: Sequence[VariantSums]) -> None:
    """At least two variants (the control first), unique names, weights for all or none."""
    if len(variants) < 2:
        raise ValueError("at least two variants are needed (the control first)")
    names = [v.variant for v in variants]
    if len(set(names)) != len(names):
        raise ValueError("variant names must be unique")
    if len({v.weight is None for v in variants}) > 1:
        raise ValueError("give a weight for every variant or for none")
