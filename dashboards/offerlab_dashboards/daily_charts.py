"""Pure Chart.js specs over days: cumulative uplift with its interval band, and new visitors.

Both read `report.daily` only. Spec format as in `charts`: ``{"config", "value_axis",
"axis_formats"}``; datasets marked ``"band": true`` are interval edges that `dashboards.js`
keeps out of the legend and the tooltips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from offerlab.domain.reports import Comparison, DailyResult, ExperimentReport
from offerlab_dashboards.charts import CONTROL_COLOUR, SERIES_COLOURS, ChartSpec
from offerlab_dashboards.significance import (
    CONVERSION,
    METRIC_LABELS,
    ORDERS_PER_UNIT,
    REFUND_RATE,
    primary_metric,
    variant_names,
)

_DECIMALS = 4
# How an absolute difference is scaled and named when the relative uplift is undefined
# (a control at zero, e.g. "no offer"): rates in percentage points, amounts in money.
_ABSOLUTE_FORMATS = {
    CONVERSION: (100.0, "signed_points"),
    REFUND_RATE: (100.0, "signed_points"),
    ORDERS_PER_UNIT: (1.0, "signed_number"),
}
_DEFAULT_ABSOLUTE_FORMAT = (1.0, "signed_money")


def _scaled(value: float | None, scale: float) -> float | None:
    # JSON has no NaN or Infinity: a non-finite value would make the whole chart unreadable.
    if value is None or not math.isfinite(value):
        return None
    return round(value * scale, _DECIMALS)


def _translucent(colour: str) -> str:
    return f"{colour}33"


def challenger_keys(report: ExperimentReport) -> list[str]:
    """Non-control variants in experiment order: the order of each day's comparisons."""
    control = report.experiment.control
    return [variant.key for variant in report.experiment.variants if variant.key != control]


def _by_variant(report: ExperimentReport, day: DailyResult) -> dict[str, Comparison]:
    # DailyResult.comparisons carry no variant key; the engine lists them per challenger in
    # experiment order, so they are matched by position.
    return dict(zip(challenger_keys(report), day.comparisons, strict=False))


def _uses_relative(days: Sequence[DailyResult]) -> bool:
    comparisons = [c for day in days for c in day.comparisons]
    has_relative = any(c.relative_uplift is not None for c in comparisons)
    has_absolute = any(c.absolute_uplift is not None for c in comparisons)
    return has_relative or not has_absolute


def _series(
    report: ExperimentReport, key: str, *, relative: bool, scale: float
) -> tuple[list[float | None], list[float | None], list[float | None]]:
    estimates: list[float | None] = []
    lows: list[float | None] = []
    highs: list[float | None] = []
    for day in report.daily:
        comparison = _by_variant(report, day).get(key)
        if comparison is None:
            estimates.append(None)
            lows.append(None)
            highs.append(None)
            continue
        value = comparison.relative_uplift if relative else comparison.absolute_uplift
        interval = comparison.relative_ci if relative else comparison.absolute_ci
        estimates.append(_scaled(value, scale))
        lows.append(_scaled(interval.low, scale) if interval else None)
        highs.append(_scaled(interval.high, scale) if interval else None)
    return estimates, lows, highs


def _variant_datasets(
    name: str, colour: str, series: tuple[list[float | None], ...]
) -> list[dict[str, object]]:
    estimates, lows, highs = series
    edge = {"pointRadius": 0, "borderWidth": 0, "band": True, "spanGaps": False}
    return [
        {**edge, "label": f"{name} (interval low)", "data": lows, "fill": False},
        {
            **edge,
            "label": f"{name} (interval)",
            "data": highs,
            "fill": "-1",
            "backgroundColor": _translucent(colour),
        },
        {
            "label": name,
            "data": estimates,
            "borderColor": colour,
            "backgroundColor": colour,
            "borderWidth": 2,
            "pointRadius": 3,
            "fill": False,
        },
    ]


def over_time_chart(report: ExperimentReport) -> ChartSpec | None:
    """Cumulative uplift of the primary metric per variant and day, with its interval band.

    The uplift is relative (in %) unless the control stays at zero, then the absolute difference.
    None when the report has no daily results.
    """
    if not report.daily:
        return None
    metric = primary_metric(report)
    relative = _uses_relative(report.daily)
    scale, value_format = (
        (100.0, "signed_percent")
        if relative
        else _ABSOLUTE_FORMATS.get(metric, _DEFAULT_ABSOLUTE_FORMAT)
    )
    names = variant_names(report)
    datasets: list[dict[str, object]] = [
        {
            "label": "Control (no change)",
            "data": [0.0] * len(report.daily),
            "borderColor": CONTROL_COLOUR,
            "borderDash": [4, 4],
            "borderWidth": 1,
            "pointRadius": 0,
            "fill": False,
        }
    ]
    for index, key in enumerate(challenger_keys(report)):
        colour = SERIES_COLOURS[(index + 1) % len(SERIES_COLOURS)]
        series = _series(report, key, relative=relative, scale=scale)
        datasets.extend(_variant_datasets(names.get(key, key), colour, series))
    label = METRIC_LABELS.get(metric, metric)
    title = f"{label}: {'relative uplift' if relative else 'difference'} vs control"
    config = {
        "type": "line",
        "data": {"labels": [day.day.isoformat() for day in report.daily], "datasets": datasets},
        "options": {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "interaction": {"mode": "index", "intersect": False},
            "scales": {
                "x": {"title": {"display": True, "text": "Day (UTC)"}},
                "y": {"title": {"display": True, "text": title}},
            },
            "plugins": {"legend": {"position": "bottom"}},
        },
    }
    return {"config": config, "value_axis": "y", "axis_formats": {"y": value_format}}


def daily_units_chart(report: ExperimentReport) -> ChartSpec | None:
    """New visitors per day and variant as stacked bars; None without daily results."""
    if not report.daily:
        return None
    names = variant_names(report)
    keys = [variant.key for variant in report.experiment.variants]
    for day in report.daily:
        keys.extend(key for key in day.new_units if key not in keys)
    datasets = [
        {
            "label": names.get(key, key),
            "data": [day.new_units.get(key, 0) for day in report.daily],
            "backgroundColor": SERIES_COLOURS[index % len(SERIES_COLOURS)],
            "stack": "units",
        }
        for index, key in enumerate(keys)
    ]
    config = {
        "type": "bar",
        "data": {"labels": [day.day.isoformat() for day in report.daily], "datasets": datasets},
        "options": {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "scales": {
                "x": {"stacked": True, "title": {"display": True, "text": "Day (UTC)"}},
                "y": {
                    "stacked": True,
                    "beginAtZero": True,
                    "title": {"display": True, "text": "New visitors"},
                },
            },
            "plugins": {"legend": {"position": "bottom"}},
        },
    }
    return {"config": config, "value_axis": "y", "axis_formats": {"y": "count"}}
