"""Chart specs carry the report's numbers in Chart.js form and survive strict JSON."""

from __future__ import annotations

import calendar
import dataclasses
import json
import math
from datetime import datetime

import pytest

from offerlab.domain.model import AllocationKind
from offerlab.domain.reports import ExperimentReport, Interval
from offerlab_dashboards.charts import allocation_chart, conversion_chart


def _utc_ms(*fields: int) -> int:
    return calendar.timegm(datetime(*fields).timetuple()) * 1000


def _strict_json_roundtrip(spec: object) -> object:
    return json.loads(json.dumps(spec, allow_nan=False))


def test_conversion_chart_has_interval_bars_and_estimate_points(
    warranty: ExperimentReport,
) -> None:
    spec = conversion_chart(warranty)
    bars, points = spec["config"]["data"]["datasets"]

    assert spec["config"]["data"]["labels"] == [
        "No offer",
        "Warranty at 39",
        "<script>alert(1)</script>",
    ]
    assert (bars["type"], points["type"]) == ("bar", "line")
    assert bars["data"] == [[9.42, 10.6], [11.18, 12.45], [8.93, 10.08]]
    assert points["data"] == [10.0, 11.8, 9.49]
    assert points["showLine"] is False
    assert bars["label"] == "95% confidence interval"
    assert spec["value_axis"] == "x"
    assert spec["axis_formats"] == {"x": "percent"}
    assert spec["config"]["options"]["indexAxis"] == "y"


def test_conversion_chart_colours_follow_significance(warranty: ExperimentReport) -> None:
    bars = conversion_chart(warranty)["config"]["data"]["datasets"][0]

    control, better, not_significant = bars["borderColor"]
    assert len({control, better, not_significant}) == 3
    assert bars["backgroundColor"] == [f"{c}40" for c in bars["borderColor"]]


def test_conversion_chart_leaves_gaps_for_missing_numbers(warranty: ExperimentReport) -> None:
    empty = dataclasses.replace(warranty.variants[1], conversion_rate=None, conversion_ci=None)
    broken = dataclasses.replace(
        warranty.variants[2], conversion_rate=math.nan, conversion_ci=Interval(math.nan, 0.1)
    )
    report = dataclasses.replace(warranty, variants=(warranty.variants[0], empty, broken))

    spec = _strict_json_roundtrip(conversion_chart(report))
    bars, points = spec["config"]["data"]["datasets"]  # type: ignore[index]

    assert bars["data"] == [None, [11.18, 12.45], None]
    assert points["data"] == [None, 11.8, None]


def test_allocation_chart_only_for_bandits(
    warranty: ExperimentReport, bundle: ExperimentReport
) -> None:
    assert allocation_chart(warranty) is None
    assert allocation_chart(dataclasses.replace(bundle, allocation_history=())) is None
    fixed = dataclasses.replace(bundle.experiment, allocation=AllocationKind.FIXED)
    assert allocation_chart(dataclasses.replace(bundle, experiment=fixed)) is None


def test_allocation_chart_steps_through_epochs_in_time_order(bundle: ExperimentReport) -> None:
    spec = allocation_chart(bundle)
    assert spec is not None
    control, offer = spec["config"]["data"]["datasets"]

    times = [_utc_ms(2025, 3, 1, hour) for hour in (8, 10, 12, 13)]
    assert [point["x"] for point in control["data"]] == times
    assert [point["y"] for point in control["data"]] == [50.0, 35.0, 20.0, 20.0]
    assert [point["y"] for point in offer["data"]] == [50.0, 65.0, 80.0, 80.0]
    assert (control["label"], offer["label"]) == ("Controller only", "Controller + case")
    assert control["stepped"] is True
    assert (control["fill"], offer["fill"]) == ("origin", "-1")
    assert spec["config"]["options"]["scales"]["y"]["stacked"] is True
    assert spec["config"]["options"]["scales"]["x"]["min"] == times[0]
    assert spec["config"]["options"]["scales"]["x"]["max"] == times[-1]
    assert spec["axis_formats"] == {"x": "datetime", "y": "percent"}


def test_allocation_chart_stacks_to_one_hundred_percent(bundle: ExperimentReport) -> None:
    spec = allocation_chart(bundle)
    assert spec is not None
    series = [dataset["data"] for dataset in spec["config"]["data"]["datasets"]]

    for points in zip(*series, strict=True):
        assert sum(point["y"] for point in points) == pytest.approx(100.0, abs=1e-9)


def test_allocation_chart_shows_variants_missing_from_an_epoch(bundle: ExperimentReport) -> None:
    first, *rest = bundle.allocation_history
    history = (dataclasses.replace(first, weights={"control": 1.0, "retired": 0.0}), *rest)
    spec = allocation_chart(dataclasses.replace(bundle, allocation_history=history))
    assert spec is not None

    labels = [dataset["label"] for dataset in spec["config"]["data"]["datasets"]]
    assert labels == ["Controller only", "Controller + case", "retired"]
    offer = spec["config"]["data"]["datasets"][1]
    assert offer["data"][0]["y"] == 0.0


def test_chart_specs_are_strict_json(warranty: ExperimentReport, bundle: ExperimentReport) -> None:
    for spec in (conversion_chart(warranty), conversion_chart(bundle), allocation_chart(bundle)):
        assert _strict_json_roundtrip(spec) == spec
