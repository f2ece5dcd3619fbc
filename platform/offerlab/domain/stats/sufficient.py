"""Sufficient statistics per variant, as the SQL aggregation produces them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VariantTotals:
    """Per-variant sums over exposed units (visitors), computed in SQL.

    A unit belongs to the variant of its first exposure. "Revenue" of a unit is the total value of
    the orders attributed to it (orders inside the attribution window after its first exposure).
    Sums of squares and cross products are over units unless the name says "order".
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

    @property
    def revenue_sum(self) -> float:
        return self.order_value_sum

    def __add__(self, other: VariantTotals) -> VariantTotals:
        if not isinstance(other, VariantTotals) or other.variant != self.variant:
            raise TypeError("can only add VariantTotals of the same variant")
        return VariantTotals(
            variant=self.variant,
            units=self.units + other.units,
            impressions=self.impressions + other.impressions,
            converted_units=self.converted_units + other.converted_units,
            acceptances=self.acceptances + other.acceptances,
            acceptance_value_sum=self.acceptance_value_sum + other.acceptance_value_sum,
            orders=self.orders + other.orders,
            order_value_sum=self.order_value_sum + other.order_value_sum,
            order_value_sum_sq=self.order_value_sum_sq + other.order_value_sum_sq,
            revenue_sum_sq=self.revenue_sum_sq + other.revenue_sum_sq,
            orders_sum_sq=self.orders_sum_sq + other.orders_sum_sq,
            revenue_orders_sum_prod=self.revenue_orders_sum_prod + other.revenue_orders_sum_prod,
        )

    @classmethod
    def empty(cls, variant: str) -> VariantTotals:
        return cls(variant, 0, 0, 0, 0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
