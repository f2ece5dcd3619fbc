"""Reports as plain JSON-ready dicts: the stable wire format of results (API and CLI)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from offerlab.domain.model import Experiment
from offerlab.domain.reports import ExperimentReport, PlacementReport, VariantResult


def plain(value: Any) -> Any:
    """Dataclasses, enums, datetimes and mappings to JSON types; NaN and infinities to None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
