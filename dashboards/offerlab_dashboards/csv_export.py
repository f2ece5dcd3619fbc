"""Pure CSV export of an experiment's variant table, with raw (unformatted) numbers."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from offerlab.domain.reports import (
    Comparison,
    ComparisonDetail,
    ExperimentReport,
    Interval,
    VariantResult,
)
from offerlab_dashboards.significance import (
    METRIC_LABELS,
    find_comparison,
    find_detail,
    ordered_variants,
)

_VARIANT_COLUMNS = (
    "variant",
    "name",
    "is_control",
    "impressions",
    "units",
    "acceptances",
    "converted_units",
    "conversion_rate",
    "conversion_ci_low",
    "conversion_ci_high",
    "orders",
    "orders_per_unit",
    "revenue",
    "average_order_value",
    "revenue_per_unit",
    "acceptance_value",
    "acceptance_value_per_unit",
    "refunds",
    "refund_value",
    "refund_rate",
    "chance_to_be_best",
)
_COMPARISON_FIELDS = (
    "absolute_uplift",
    "relative_uplift",
    "relative_ci_low",
    "relative_ci_high",
    "interval_level",
    "p_value",
    "adjusted_p_value",
    "significant",
    "chance_to_beat_control",
    "expected_loss",
)
# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


def csv_header() -> list[str]:
    """Column names: variant figures, then one group of columns per compared metric."""
    comparison_columns = [
        f"{metric}_{field}" for metric in METRIC_LABELS for field in _COMPARISON_FIELDS
    ]
    return [*_VARIANT_COLUMNS, *comparison_columns]


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_PREFIXES) else value


def _finite(cell: Cell) -> Cell:
    # A spreadsheet reads "nan" or "inf" as text; an empty cell is the honest "not computable".
    if isinstance(cell, float) and not math.isfinite(cell):
        return None
    return cell


def _bounds(interval: Interval | None) -> tuple[float | None, float | None]:
    return (None, None) if interval is None else (interval.low, interval.high)


def _variant_cells(result: VariantResult) -> list[Cell]:
    totals = result.totals
    return [
        _text(result.variant),
        _text(result.name),
        result.is_control,
        totals.impressions,
        totals.units,
        totals.acceptances,
        totals.converted_units,
        result.conversion_rate,
        *_bounds(result.conversion_ci),
        totals.orders,
        result.orders_per_unit,
        totals.revenue_sum,
        result.average_order_value,
        result.revenue_per_unit,
        totals.acceptance_value_sum,
        result.acceptance_value_per_unit,
        totals.refunds,
        totals.refund_value,
        result.refund_rate,
        result.chance_to_be_best,
    ]


def _comparison_cells(comparison: Comparison | None, detail: ComparisonDetail | None) -> list[Cell]:
    if comparison is None:
        return [None] * len(_COMPARISON_FIELDS)
    low, high = _bounds(comparison.relative_ci)
    return [
        comparison.absolute_uplift,
        comparison.relative_uplift,
        low,
        high,
        None if detail is None else detail.interval_level,
        comparison.p_value,
        None if detail is None else detail.adjusted_p_value,
        comparison.significant,
        None if detail is None else detail.chance_to_beat_control,
        None if detail is None else detail.expected_loss,
    ]


def variant_rows(report: ExperimentReport) -> list[list[Cell]]:
    """One row per variant (control first); comparison cells stay empty for the control."""
    rows: list[list[Cell]] = []
    for result in ordered_variants(report):
        cells = _variant_cells(result)
        for metric in METRIC_LABELS:
            comparison = None if result.is_control else find_comparison(result, metric)
            cells.extend(_comparison_cells(comparison, find_detail(result, metric)))
        rows.append([_finite(cell) for cell in cells])
    return rows


def variant_table_csv(report: ExperimentReport) -> str:
    """The variant table as CSV text (comma separated, header row, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows: Sequence[Sequence[Cell]] = [csv_header(), *variant_rows(report)]
    writer.writerows(rows)
    return buffer.getvalue()
