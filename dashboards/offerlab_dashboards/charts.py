"""Pure Chart.js chart specifications built from reports.

A spec is ``{"config": <Chart.js config>, "value_axis": "x" | "y", "axis_formats": {...}}``.
Chart.js tick and tooltip formatters are functions, which JSON cannot carry, so ``axis_formats``
names a formatter per axis ("percent" or "datetime") that ``static/dashboards.js`` attaches.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from offerlab.domain.reports import AllocationEpoch, ExperimentReport, Interval, VariantResult
from offerlab_dashboards.formatting import format_confidence
from offerlab_dashboards.significance import (
    CONVERSION,
    Significance,
    classify_significance,
    find_comparison,
    is_bandit,
    ordered_variants,
)

ChartSpec = dict[str, Any]

CONTROL_COLOUR = "#6b7280"
_SIGNIFICANCE_COLOURS = {
    Significance.BETTER: "#15803d",
    Significance.WORSE: "#b91c1c",
    Significance.NOT_SIGNIFICANT: "#2563eb",
    Significance.NOT_ENOUGH_DATA: "#9ca3af",
}
SERIES_COLOURS = ("#6b7280", "#2563eb", "#d97706", "#7c3aed", "#0d9488", "#db2777", "#65a30d")
_DECIMALS = 4


def _percent(fraction: float | None) -> float | None:
    # JSON has no NaN or Infinity: a non-finite value would make the whole chart unreadable.
    if fraction is None or not math.isfinite(fraction):
        return None
    return round(fraction * 100.0, _DECIMALS)


def _percent_interval(interval: Interval | None) -> list[float] | None:
    if interval is None:
        return None
    low, high = _percent(interval.low), _percent(interval.high)
    return None if low is None or high is None else [low, high]


def _translucent(colour: str) -> str:
    return f"{colour}40"


def variant_colour(result: VariantResult) -> str:
    """Grey for the control; green, red or blue by how the variant's conversion compares."""
    if result.is_control:
        return CONTROL_COLOUR
    return _SIGNIFICANCE_COLOURS[classify_significance(find_comparison(result, CONVERSION))]


def conversion_chart(report: ExperimentReport) -> ChartSpec:
    """Conversion rate per variant: a floating bar for its CI and a point for the estimate."""
    variants = ordered_variants(report)
    colours = [variant_colour(result) for result in variants]
    confidence = format_confidence(report.experiment.alpha)
    interval_data = [_percent_interval(r.conversion_ci) for r in variants]
    interval_dataset = {
        "type": "bar",
        "label": f"{confidence} confidence interval",
        "data": interval_data,
        "backgroundColor": [_translucent(colour) for colour in colours],
        "borderColor": colours,
        "borderWidth": 1,
        "borderSkipped": False,
        "barPercentage": 0.6,
        "maxBarThickness": 28,
        "order": 2,
    }
    estimate_dataset = {
        "type": "line",
        "label": "Conversion rate",
        "data": [_percent(r.conversion_rate) for r in variants],
        "showLine": False,
        "pointRadius": 6,
        "pointHoverRadius": 8,
        "pointBackgroundColor": colours,
        "pointBorderColor": "#111827",
        "order": 1,
    }
    config = {
        "type": "bar",
        "data": {
            "labels": [r.name or r.variant for r in variants],
            "datasets": [interval_dataset, estimate_dataset],
        },
        "options": {
            "indexAxis": "y",
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "scales": {
                "x": {"beginAtZero": True, "title": {"display": True, "text": "Conversion rate"}},
                "y": {"grid": {"display": False}},
            },
            "plugins": {"legend": {"display": False}},
        },
    }
    return {"config": config, "value_axis": "x", "axis_formats": {"x": "percent"}}


def _milliseconds(moment: datetime) -> int:
    """Milliseconds since the epoch; naive times are taken as UTC (how the service stores them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _series_keys(report: ExperimentReport, epochs: tuple[AllocationEpoch, ...]) -> list[str]:
    keys = [variant.key for variant in report.experiment.variants]
    for epoch in epochs:
        keys.extend(key for key in epoch.weights if key not in keys)
    return keys


def _weight_points(
    key: str, epochs: tuple[AllocationEpoch, ...], *, until: datetime
) -> list[dict[str, float | int | None]]:
    points: list[dict[str, float | int | None]] = [
        {"x": _milliseconds(epoch.started_at), "y": _percent(epoch.weights.get(key, 0.0))}
        for epoch in epochs
    ]
    # Repeat the last weights at report time so the current epoch has a visible width.
    points.append({"x": _milliseconds(until), "y": points[-1]["y"]})
    return points


def allocation_chart(report: ExperimentReport) -> ChartSpec | None:
    """Traffic share per variant over time as a stepped, stacked area; None unless a bandit."""
    epochs = tuple(sorted(report.allocation_history, key=lambda epoch: epoch.started_at))
    if not is_bandit(report) or not epochs:
        return None
    until = max(report.generated_at, epochs[-1].started_at, key=_milliseconds)
    names = {variant.key: variant.name or variant.key for variant in report.experiment.variants}
    start, end = _milliseconds(epochs[0].started_at), _milliseconds(until)
    datasets = [
        {
            "label": names.get(key, key),
            "data": _weight_points(key, epochs, until=until),
            "stepped": True,
            "fill": "origin" if index == 0 else "-1",
            "borderColor": SERIES_COLOURS[index % len(SERIES_COLOURS)],
            "backgroundColor": _translucent(SERIES_COLOURS[index % len(SERIES_COLOURS)]),
            "pointRadius": 0,
            "borderWidth": 2,
        }
        for index, key in enumerate(_series_keys(report, epochs))
    ]
    config = {
        "type": "line",
        "data": {"datasets": datasets},
        "options": {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "interaction": {"mode": "index", "intersect": False},
            "scales": {
                "x": {
                    "type": "linear",
                    "min": start,
                    "max": end,
                    "title": {"display": True, "text": "Time"},
                    "ticks": {"maxRotation": 0, "maxTicksLimit": 6},
                },
                "y": {
                    "stacked": True,
                    "min": 0,
                    "max": 100,
                    "title": {"display": True, "text": "Share of traffic"},
                },
            },
            "plugins": {"legend": {"position": "bottom"}},
        },
    }
    return {"config": config, "value_axis": "y", "axis_formats": {"x": "datetime", "y": "percent"}}
