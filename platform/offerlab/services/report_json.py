"""Reports as plain JSON-ready dicts: the stable wire format of results (API and CLI).

Every key is documented in README.md ("Results JSON"); figures that cannot be computed are null.
"""

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
        "acceptance_value_per_unit": plain(result.acceptance_value_per_unit),
        "orders": totals.orders,
        "orders_per_unit": plain(result.orders_per_unit),
        "revenue": totals.order_value_sum,
        "refunds": totals.refunds,
        "refund_value": totals.refund_value,
        "refund_rate": plain(result.refund_rate),
        "average_order_value": plain(result.average_order_value),
        "revenue_per_unit": plain(result.revenue_per_unit),
        "chance_to_be_best": plain(result.chance_to_be_best),
        "comparisons": {
            metric: plain(comparison) | plain(result.details.get(metric) or {})
            for metric, comparison in result.comparisons.items()
        },
    }


def report_to_dict(report: ExperimentReport) -> dict[str, Any]:
    return {
        "experiment": experiment_to_dict(report.experiment),
        "settings": plain(report.settings),
        "variants": [variant_to_dict(v) for v in report.variants],
        "sample_ratio": plain(report.sample_ratio),
        "unhealthy": report.unhealthy,
        "guardrails": plain(report.guardrails),
        "guardrail_violated": report.guardrail_violated,
        "capping": plain(report.capping),
        "variance_reduction": plain(report.variance_reduction),
        "power": plain(report.power),
        "daily": plain(report.daily),
        "segments": [
            {
                "attribute": segment.attribute,
                "value": segment.value,
                "units": segment.units,
                "variants": [variant_to_dict(v) for v in segment.variants],
            }
            for segment in report.segments
        ],
        "allocation_history": plain(report.allocation_history),
        "bandit": plain(report.bandit),
        "audit_log": plain(report.audit_log),
        "generated_at": report.generated_at.isoformat(),
    }


def placement_to_dict(report: PlacementReport) -> dict[str, Any]:
    return plain(report)  # type: ignore[no-any-return]
