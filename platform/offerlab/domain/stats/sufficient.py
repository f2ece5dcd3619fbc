"""Sufficient statistics per variant, as the SQL aggregation produces them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class VariantTotals:
    """Per-variant sums over exposed units (visitors), computed in SQL.

    A unit belongs to the variant of its first exposure. "Revenue" of a unit is the total value of
    the orders attributed to it (orders inside the attribution window after its first exposure),
    capped when the experiment winsorises order values, net of the refunds of those orders.
    Sums of squares and cross products are over units unless the name says "order". The
    covariate is the unit's pre-period value (a visitor attribute), 0 when it was not sent.
    """

    variant: str
    units: int
    impressions: int
    converted_units: int
    acceptances: int
    acceptance_value_sum: float
    orders: int
    order_value_sum: float
    order_value_sum_sq: float
    revenue_sum_sq: float
    orders_sum_sq: float
    revenue_orders_sum_prod: float
    acceptance_value_sum_sq: float = 0.0
    refunded_units: int = 0
    refunds: int = 0
    refund_value: float = 0.0
    orders_capped: int = 0
    covariate_units: int = 0
    covariate_sum: float = 0.0
    covariate_sum_sq: float = 0.0
    revenue_covariate_sum_prod: float = 0.0

    @property
    def revenue_sum(self) -> float:
        return self.order_value_sum

    def __add__(self, other: VariantTotals) -> VariantTotals:
        if not isinstance(other, VariantTotals) or other.variant != self.variant:
            raise TypeError("can only add VariantTotals of the same variant")
        sums = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in dataclasses.fields(self)
            if f.name != "variant"
        }
        return VariantTotals(variant=self.variant, **sums)

    @classmethod
    def empty(cls, variant: str) -> VariantTotals:
        return cls(variant, 0, 0, 0, 0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
