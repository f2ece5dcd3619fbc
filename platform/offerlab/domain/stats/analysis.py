"""Per-variant results of an experiment: rates, averages and comparisons against the control."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from offerlab.domain.reports import Comparison, ResultError, VariantResult
from offerlab.domain.stats.frequentist import compare_means, compare_proportions, wilson_interval
from offerlab.domain.stats.sufficient import VariantTotals

CONVERSION = "conversion"
AVERAGE_ORDER_VALUE = "average_order_value"
REVENUE_PER_VISITOR = "revenue_per_visitor"


def analyse_variants(
    totals: Sequence[VariantTotals],
    *,
    control: str,
    names: Mapping[str, str],
    alpha: float,
) -> tuple[VariantResult, ...]:
    """Analyse every variant against the control; the control comes first, then input order.

    Several totals of one variant (e.g. one per allocation period) are summed. Variants named in
    ``names`` without totals, and the control if it has none, get empty totals, so their
    comparisons carry an error instead of numbers. The conversion CI is a Wilson score interval
    at confidence 1 - alpha.
    """
    merged = _merge_by_variant(totals, control=control, names=names)
    control_totals = merged[control]
    return tuple(
        _variant_result(
            variant_totals,
            control_totals,
            name=names.get(key, key),
            is_control=key == control,
            alpha=alpha,
        )
        for key, variant_totals in merged.items()
    )


def compare_totals(
    control: VariantTotals, variant: VariantTotals, *, alpha: float
) -> dict[str, Comparison]:
    """The three standard comparisons of a variant against the control.

    Average order value treats single orders as independent observations (n = orders), which
    ignores that one visitor may place several orders; revenue per visitor is per unit.
    """
    conversion = compare_proportions(
        control.converted_units,
        control.units,
        variant.converted_units,
        variant.units,
        alpha=alpha,
        metric=CONVERSION,
    )
    average_order_value = compare_means(
        (control.orders, control.order_value_sum, control.order_value_sum_sq),
        (variant.orders, variant.order_value_sum, variant.order_value_sum_sq),
        alpha=alpha,
        metric=AVERAGE_ORDER_VALUE,
    )
    if average_order_value.error is ResultError.NO_UNITS:
        average_order_value = dataclasses.replace(average_order_value, error=ResultError.NO_ORDERS)
    revenue_per_visitor = compare_means(
        (control.units, control.order_value_sum, control.revenue_sum_sq),
        (variant.units, variant.order_value_sum, variant.revenue_sum_sq),
        alpha=alpha,
        metric=REVENUE_PER_VISITOR,
    )
    return {
        CONVERSION: conversion,
        AVERAGE_ORDER_VALUE: average_order_value,
        REVENUE_PER_VISITOR: revenue_per_visitor,
    }


def _merge_by_variant(
    totals: Sequence[VariantTotals], *, control: str, names: Mapping[str, str]
) -> dict[str, VariantTotals]:
    merged: dict[str, VariantTotals] = {control: VariantTotals.empty(control)}
    for item in totals:
        previous = merged.get(item.variant)
        merged[item.variant] = item if previous is None else previous + item
    for key in names:
        merged.setdefault(key, VariantTotals.empty(key))
    return merged


def _variant_result(
    totals: VariantTotals,
    control_totals: VariantTotals,
    *,
    name: str,
    is_control: bool,
    alpha: float,
) -> VariantResult:
    comparisons = {} if is_control else compare_totals(control_totals, totals, alpha=alpha)
    return VariantResult(
        variant=totals.variant,
        name=name,
        is_control=is_control,
        totals=totals,
        conversion_rate=_ratio(totals.converted_units, totals.units),
        conversion_ci=wilson_interval(totals.converted_units, totals.units, alpha=alpha),
        average_order_value=_ratio(totals.order_value_sum, totals.orders),
        revenue_per_visitor=_ratio(totals.order_value_sum, totals.units),
        comparisons=comparisons,
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
