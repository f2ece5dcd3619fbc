"""Pure segment breakdowns: which attributes a page may ask for, and one table per value."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from offerlab.domain.reports import ExperimentReport, SegmentResult, VariantResult
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards.significance import (
    Significance,
    classify_significance,
    find_comparison,
    find_detail,
    format_comparison_p,
    format_comparison_uplift,
    format_metric_value,
    metric_label,
    metric_value,
    nominal_level,
    primary_metric,
)

MAX_ATTRIBUTE_LENGTH = 64
_ATTRIBUTE = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{MAX_ATTRIBUTE_LENGTH}}}")
_SHOWN_REJECTED_LENGTH = 40


@dataclass(frozen=True)
class SegmentRequest:
    """The attributes a page asked to break down by; None means the experiment's own."""

    attributes: tuple[str, ...] | None
    rejected: tuple[str, ...]


@dataclass(frozen=True)
class SegmentRowView:
    name: str
    is_control: bool
    units: str
    value: str
    uplift: str
    p_value: str
    significance: Significance | None


@dataclass(frozen=True)
class SegmentTableView:
    value: str
    units: str
    rows: tuple[SegmentRowView, ...]


@dataclass(frozen=True)
class SegmentAttributeView:
    attribute: str
    metric: str
    tables: tuple[SegmentTableView, ...]


def is_valid_attribute(attribute: str) -> bool:
    """Letters, digits and `_ . : -`, 1 to 64 characters."""
    return _ATTRIBUTE.fullmatch(attribute) is not None


def parse_segment_request(values: Iterable[str]) -> SegmentRequest:
    """Valid, distinct attributes from `?segment=` values; blanks are ignored, invalid ones
    rejected (shown shortened); no valid one leaves the choice to the experiment."""
    wanted: dict[str, None] = {}
    rejected: list[str] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if is_valid_attribute(value):
            wanted[value] = None
        else:
            rejected.append(_shortened(value))
    return SegmentRequest(tuple(wanted) or None, tuple(rejected))


def _shortened(value: str) -> str:
    if len(value) <= _SHOWN_REJECTED_LENGTH:
        return value
    return value[: _SHOWN_REJECTED_LENGTH - 1] + "…"


def segment_views(report: ExperimentReport) -> tuple[SegmentAttributeView, ...]:
    """One block per attribute (in report order), one table per attribute value."""
    metric = primary_metric(report)
    nominal = nominal_level(report)
    by_attribute: dict[str, list[SegmentTableView]] = {}
    for segment in report.segments:
        table = _segment_table(segment, metric, nominal)
        by_attribute.setdefault(segment.attribute, []).append(table)
    return tuple(
        SegmentAttributeView(attribute, metric_label(metric), tuple(tables))
        for attribute, tables in by_attribute.items()
    )


def _segment_table(segment: SegmentResult, metric: str, nominal: float) -> SegmentTableView:
    controls = [v for v in segment.variants if v.is_control]
    ordered = controls + [v for v in segment.variants if not v.is_control]
    return SegmentTableView(
        value=segment.value,
        units=fmt.format_count(segment.units),
        rows=tuple(_segment_row(result, metric, nominal) for result in ordered),
    )


def _segment_row(result: VariantResult, metric: str, nominal: float) -> SegmentRowView:
    comparison = None if result.is_control else find_comparison(result, metric)
    detail = find_detail(result, metric)
    return SegmentRowView(
        name=result.name or result.variant,
        is_control=result.is_control,
        units=fmt.format_count(result.totals.units),
        value=format_metric_value(metric_value(result, metric), metric),
        uplift=fmt.NO_VALUE
        if result.is_control
        else format_comparison_uplift(comparison, metric, detail, nominal=nominal),
        p_value=fmt.NO_VALUE if result.is_control else format_comparison_p(comparison, detail),
        significance=None if result.is_control else classify_significance(comparison),
    )
