"""The over-time charts carry `report.daily` in Chart.js form and survive strict JSON."""

from __future__ import annotations

import dataclasses
import json
import math

from offerlab.domain.reports import Comparison, ExperimentReport, Interval, ResultError
from offerlab_dashboards.daily_charts import daily_units_chart, over_time_chart


def _strict(spec: object) -> object:
    return json.loads(json.dumps(spec, allow_nan=False))


def test_over_time_chart_draws_uplift_and_band_per_challenger(
    warranty: ExperimentReport,
) -> None:
    spec = over_time_chart(warranty)
    assert spec is not None
    config = spec["config"]
    zero, low, high, line, *hostile = config["data"]["datasets"]

    assert config["data"]["labels"] == ["2025-02-27", "2025-02-28", "2025-03-01"]
    assert zero["data"] == [0.0, 0.0, 0.0]
    assert line["label"] == "Warranty at 39"
    assert line["data"] == [25.0, 20.0, 18.0]
    assert low["data"] == [-5.0, 4.0, 8.12]
    assert high["data"] == [55.0, 36.0, 27.88]
    assert (low["band"], high["band"], high["fill"]) == (True, True, "-1")
    assert "band" not in line
    assert [d["label"] for d in hostile] == [
        "<script>alert(1)</script> (interval low)",
        "<script>alert(1)</script> (interval)",
        "<script>alert(1)</script>",
    ]
    assert hostile[2]["data"] == [-2.0, -4.0, -5.1]
    assert spec["axis_formats"] == {"y": "signed_percent"}
    assert "relative uplift" in config["options"]["scales"]["y"]["title"]["text"]
    assert _strict(spec) == spec


def test_over_time_chart_leaves_gaps_for_missing_figures(warranty: ExperimentReport) -> None:
    first, *rest = warranty.daily
    broken = Comparison("conversion", 0.1, None, None, None, math.nan, Interval(math.nan, 0.2))
    days = (dataclasses.replace(first, comparisons=(broken,)), *rest)

    spec = _strict(over_time_chart(dataclasses.replace(warranty, daily=days)))
    datasets = spec["config"]["data"]["datasets"]  # type: ignore[index]

    assert datasets[3]["data"][0] is None and datasets[1]["data"][0] is None
    assert datasets[2]["data"][0] == 20.0
    assert datasets[6]["data"][0] is None  # the second challenger had no comparison that day


def test_over_time_chart_uses_the_difference_against_a_zero_control(
    warranty: ExperimentReport,
) -> None:
    def zero_control(comparison: Comparison) -> Comparison:
        return dataclasses.replace(
            comparison,
            control_value=0.0,
            absolute_ci=Interval(0.01, 0.03),
            relative_uplift=None,
            relative_ci=None,
            error=ResultError.CONTROL_ZERO,
        )

    days = tuple(
        dataclasses.replace(day, comparisons=tuple(zero_control(c) for c in day.comparisons))
        for day in warranty.daily
    )

    spec = over_time_chart(dataclasses.replace(warranty, daily=days))

    assert spec is not None
    assert spec["axis_formats"] == {"y": "signed_points"}
    assert spec["config"]["data"]["datasets"][3]["data"] == [2.5, 2.0, 1.8]
    assert spec["config"]["data"]["datasets"][1]["data"] == [1.0, 1.0, 1.0]


def test_daily_units_chart_stacks_new_visitors(warranty: ExperimentReport) -> None:
    spec = daily_units_chart(warranty)
    assert spec is not None
    datasets = spec["config"]["data"]["datasets"]

    assert [d["label"] for d in datasets] == [
        "No offer",
        "Warranty at 39",
        "<script>alert(1)</script>",
    ]
    assert [d["data"] for d in datasets] == [
        [3_000, 3_500, 3_500],
        [3_100, 3_400, 3_500],
        [2_900, 3_600, 3_400],
    ]
    totals = [sum(day) for day in zip(*(d["data"] for d in datasets), strict=True)]
    assert totals == [sum(day.new_units.values()) for day in warranty.daily]
    assert spec["config"]["options"]["scales"]["y"]["stacked"] is True
    assert _strict(spec) == spec


def test_no_daily_results_no_charts(bundle: ExperimentReport) -> None:
    assert over_time_chart(bundle) is None
    assert daily_units_chart(bundle) is None
