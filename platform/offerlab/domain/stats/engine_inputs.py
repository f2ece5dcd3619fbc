"""Input of the analysis engine: per-variant sums, checked so that only real data gets through."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from offerlab.domain.stats.ratio import RatioStats


class InvalidSums(ValueError):
    """Sums that no real data can produce; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class VariantSums:
    """Sums over the units (visitors) of one variant; `weight` is its planned traffic share.

    The covariate fields are accepted for a later variance reduction (CUPED) and not used yet.
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

    def __post_init__(self) -> None:
        check_counts(self)
        check_sums(self)

    def revenue_stats(self) -> tuple[int, float, float]:
        """(n, Σ revenue, Σ revenue²) over units."""
        return (self.units, self.revenue_sum, self.revenue_sum_sq)

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
        value = getattr(sums, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InvalidSums(name, "must be a whole number")
        if value < 0:
            raise InvalidSums(name, "must not be negative")
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
