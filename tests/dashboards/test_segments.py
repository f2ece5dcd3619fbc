"""Segment attributes from the query string are validated; breakdowns become one table a value."""

from __future__ import annotations

import dataclasses

import pytest

from offerlab.domain.reports import ExperimentReport
from offerlab_dashboards.segments import (
    is_valid_attribute,
    parse_segment_request,
    segment_views,
)
from offerlab_dashboards.significance import Significance


@pytest.mark.parametrize(
    "attribute",
    ["device", "country", "new_vs_returning", "utm.source", "geo:region", "spend-30d", "a" * 64],
)
def test_valid_attributes(attribute: str) -> None:
    assert is_valid_attribute(attribute)


@pytest.mark.parametrize(
    "attribute",
    ["", "a" * 65, "de vice", "<script>", "device;drop", "gerät", "a/b", "x\n", "'or 1=1"],
)
def test_invalid_attributes(attribute: str) -> None:
    assert not is_valid_attribute(attribute)


def test_request_keeps_valid_distinct_attributes_and_lists_rejected_ones() -> None:
    request = parse_segment_request(["device", " country ", "device", "<b>", "", "x" * 100])

    assert request.attributes == ("device", "country")
    assert request.rejected[0] == "<b>"
    assert request.rejected[1] == "x" * 39 + "…"


@pytest.mark.parametrize("values", [[], [""], ["  "], ["<script>"]])
def test_no_valid_attribute_leaves_the_choice_to_the_experiment(values: list[str]) -> None:
    assert parse_segment_request(values).attributes is None


def test_segment_views_group_tables_by_attribute(warranty: ExperimentReport) -> None:
    device, hostile = segment_views(warranty)

    assert (device.attribute, device.metric) == ("device", "Conversion")
    assert [table.value for table in device.tables] == ["mobile", "desktop"]
    mobile = device.tables[0]
    assert mobile.units == "12,000"
    control, better = mobile.rows
    assert (control.name, control.is_control, control.units) == ("No offer", True, "6,000")
    assert (control.value, control.uplift, control.significance) == ("10.0%", "—", None)
    assert better.value == "11.8%"
    assert better.uplift == "+18.0% [+8.1%, +27.9%] 99.4% CI"
    assert better.p_value == "p < 0.001"
    assert better.significance is Significance.BETTER
    assert hostile.attribute == '<b onmouseover="x">plan</b>'
    assert hostile.tables[0].value == "<img src=x onerror=alert(2)>"


def test_segment_views_follow_the_primary_metric(warranty: ExperimentReport) -> None:
    experiment = dataclasses.replace(warranty.experiment, objective="offer_revenue")

    device = segment_views(dataclasses.replace(warranty, experiment=experiment))[0]

    assert device.metric == "Offer value per visitor"
    assert [row.value for row in device.tables[0].rows] == ["3.90", "4.60"]
    assert device.tables[0].rows[1].significance is Significance.NOT_ENOUGH_DATA


def test_no_segments_no_views(bundle: ExperimentReport) -> None:
    assert segment_views(bundle) == ()
