"""The CSV export holds raw numbers per variant and cannot smuggle spreadsheet formulas."""

from __future__ import annotations

import csv
import dataclasses
import io

from offerlab.domain.reports import ExperimentReport
from offerlab_dashboards.csv_export import csv_header, variant_table_csv


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_one_row_per_variant_with_control_first(warranty: ExperimentReport) -> None:
    rows = _rows(variant_table_csv(warranty))

    assert [row["variant"] for row in rows] == ["control", "w39", "hostile"]
    assert list(rows[0]) == csv_header()


def test_raw_numbers_are_exported(warranty: ExperimentReport) -> None:
    control, better, hostile = _rows(variant_table_csv(warranty))

    assert (better["units"], better["converted_units"]) == ("10000", "1180")
    assert better["orders"] == "1300"
    assert float(better["conversion_rate"]) == 0.118
    assert float(better["conversion_ci_low"]) == 0.1118
    assert float(better["revenue"]) == 67_600.0
    assert float(better["conversion_relative_uplift"]) == 0.18
    assert float(better["conversion_p_value"]) == 0.0001
    assert better["conversion_significant"] == "True"
    assert float(better["revenue_per_visitor_relative_ci_high"]) == 0.22
    assert control["conversion_relative_uplift"] == ""
    assert hostile["average_order_value"] == ""
    assert hostile["revenue_per_visitor_p_value"] == ""


def test_text_cells_cannot_start_a_formula(warranty: ExperimentReport) -> None:
    hostile = dataclasses.replace(warranty.variants[2], name='=HYPERLINK("http://x")')
    report = dataclasses.replace(warranty, variants=(*warranty.variants[:2], hostile))

    rows = _rows(variant_table_csv(report))

    assert rows[2]["name"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["name"] == "No offer"
