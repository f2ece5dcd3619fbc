"""Pure CSV export of an experiment's variant table, with raw (unformatted) numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from offerlab.domain.reports import Comparison, ExperimentReport, Interval, VariantResult
from offerlab_dashboards.significance import METRIC_LABELS, find_comparison, ordered_variants

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
    "revenue",
    "average_order_value",
    "revenue_per_visitor",
)
_COMPARISON_FIELDS = (
    "relative_uplift",
    "relative_ci_low",
    "relative_ci_high",
    "p_value",
    "significant",
)
# Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


def csv_header() -> list[str]:
    """Column names: variant figures, then five columns per compared metric."""
    comparison_columns = [
        f"{metric}_{field}" for metric in METRIC_LABELS for field in _COMPARISON_FIELDS
    ]
    return [*_VARIANT_COLUMNS, *comparison_columns]


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_PREFIXES) else value


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
        totals.revenue_sum,
        result.average_order_value,
        result.revenue_per_visitor,
    ]


def _comparison_cells(comparison: Comparison | None) -> list[Cell]:
    if comparison is None:
        return [None] * len(_COMPARISON_FIELDS)
    low, high = _bounds(comparison.relative_ci)
    return [comparison.relative_uplift, low, high, comparison.p_value, comparison.significant]


def variant_rows(report: ExperimentReport) -> list[list[Cell]]:
    """One row per variant (control first); comparison cells stay empty for the control."""
    rows: list[list[Cell]] = []
    for result in ordered_variants(report):
        cells = _variant_cells(result)
        for metric in METRIC_LABELS:
            comparison = None if result.is_control else find_comparison(result, metric)
            cells.extend(_comparison_cells(comparison))
        rows.append(cells)
    return rows


def variant_table_csv(report: ExperimentReport) -> str:
    """The variant table as CSV text (comma separated, header row, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows: Sequence[Sequence[Cell]] = [csv_header(), *variant_rows(report)]
    writer.writerows(rows)
    return buffer.getvalue()
