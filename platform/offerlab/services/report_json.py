"""Reports as plain JSON-ready dicts: the stable wire format of results (API and CLI)."""

from __future__ import annotations

from typing import Any

from offerlab.domain.model import Experiment
from offerlab.domain.plain import plain
from offerlab.domain.reports import ExperimentReport, PlacementReport, VariantResult


def experiment_to_dict(experiment: Experiment) -> dict[str, Any]:
    return plain(experiment)  # type: ignore[no-any-return]


def variant_to_dict(result: VariantResult) -> dict[str, Any]:
    totals = result.totals
    return {
        "variant": result.variant,
        "name": result.name,
        "is_control": result.is_control,
        "units": totals.units,
        "impressions": totals.impressions,
        "acceptances": totals.acceptances,
        "converted_units": totals.converted_units,
        "conversion_rate": plain(result.conversion_rate),
        "conversion_ci": plain(result.conversion_ci),
        "acceptance_value": totals.acceptance_value_sum,
        "orders": totals.orders,
        "revenue": totals.order_value_sum,
        "average_order_value": plain(result.average_order_value),
        "revenue_per_visitor": plain(result.revenue_per_visitor),
        "comparisons": plain(result.comparisons),
    }


def report_to_dict(report: ExperimentReport) -> dict[str, Any]:
    return {
        "experiment": experiment_to_dict(report.experiment),
        "variants": [variant_to_dict(v) for v in report.variants],
        "allocation_history": plain(report.allocation_history),
        "generated_at": report.generated_at.isoformat(),
    }


def placement_to_dict(report: PlacementReport) -> dict[str, Any]:
    return plain(report)  # type: ignore[no-any-return]
