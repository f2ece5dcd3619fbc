"""The CSV export holds raw numbers per variant and cannot smuggle spreadsheet formulas."""

from __future__ import annotations

import csv
import dataclasses
import io
import math

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
    assert float(better["revenue_per_unit"]) == 6.76
    assert float(better["revenue_per_unit_relative_ci_high"]) == 0.22
    assert float(better["revenue_per_unit_adjusted_p_value"]) == 0.0217
    assert float(better["revenue_per_unit_interval_level"]) == 0.99286
    assert float(better["conversion_chance_to_beat_control"]) == 0.9999
    assert float(better["orders_per_unit"]) == 0.13
    assert float(better["acceptance_value_per_unit"]) == 4.602
    assert float(better["refund_rate"]) == 0.021
    assert float(better["chance_to_be_best"]) == 0.998
    assert control["conversion_relative_uplift"] == ""
    assert control["conversion_adjusted_p_value"] == ""
    assert hostile["average_order_value"] == ""
    assert hostile["refund_rate"] == ""
    assert hostile["revenue_per_unit_p_value"] == ""


def test_text_cells_cannot_start_a_formula(warranty: ExperimentReport) -> None:
    hostile = dataclasses.replace(warranty.variants[2], name='=HYPERLINK("http://x")')
    report = dataclasses.replace(warranty, variants=(*warranty.variants[:2], hostile))

    rows = _rows(variant_table_csv(report))

    assert rows[2]["name"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["name"] == "No offer"


def test_non_finite_numbers_become_empty_cells(warranty: ExperimentReport) -> None:
    broken = dataclasses.replace(
        warranty.variants[0], conversion_rate=math.nan, revenue_per_unit=math.inf
    )
    report = dataclasses.replace(warranty, variants=(broken, *warranty.variants[1:]))

    better = next(row for row in _rows(variant_table_csv(report)) if row["variant"] == "w39")

    assert (better["conversion_rate"], better["revenue_per_unit"]) == ("", "")


def test_lines_end_with_crlf_and_quotes_are_doubled(warranty: ExperimentReport) -> None:
    quoted = dataclasses.replace(warranty.variants[0], name='Say "yes", please')
    report = dataclasses.replace(warranty, variants=(quoted, *warranty.variants[1:]))

    text = variant_table_csv(report)

    assert text.count("\r\n") == 4 and "\n" not in text.replace("\r\n", "")
    assert '"Say ""yes"", please"' in text
