"""`offerlab analyze FILE.csv` on CSV files: JSON and table output, and every input error."""

import json

import pytest
from click.testing import CliRunner

from offerlab.cli.analyze import analyze_command

HEADER = (
    "variant,units,conversions,revenue_sum,revenue_sum_sq,"
    "orders_sum,orders_sum_sq,revenue_orders_sum_prod"
)
CONTROL = "control,4000,190,10600.5,1250000.0,210,240,125000.0"
VARIANT = "warranty_29,4000,260,15500.0,1700000.0,285,330,172000.0"


def run(tmp_path, text, *args):
    path = tmp_path / "sums.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(analyze_command, [str(path), *args])
    return path, result


def test_json_output_is_the_report_without_nan(tmp_path):
    _path, result = run(
        tmp_path,
        f"{HEADER}\n{CONTROL}\n{VARIANT}\n",
        "--format",
        "json",
        "--correction",
        "bh",
        "--alpha",
        "0.1",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["control"] == "control" and data["correction"] == "bh" and data["alpha"] == 0.1
    assert [c["metric"] for c in data["comparisons"]] == [
        "conversion",
        "revenue_per_unit",
        "average_order_value",
        "orders_per_unit",
    ]
    conversion = data["comparisons"][0]
    assert conversion["variant_value"] == pytest.approx(260 / 4000)
    assert conversion["significant"] is True
    json.dumps(data, allow_nan=False)


def test_sequential_flag_reaches_the_engine(tmp_path):
    _path, result = run(
        tmp_path,
        f"{HEADER}\n{CONTROL}\n{VARIANT}\n",
        "--format",
        "json",
        "--sequential",
        "--planned-units",
        "20000",
    )
    data = json.loads(result.output)
    assert data["sequential"] is True and data["planned_units"] == 20000


def test_table_output_reads_as_a_verdict(tmp_path):
    _path, result = run(tmp_path, f"{HEADER},weight\n{CONTROL},1\n{VARIANT},1\n")
    assert result.exit_code == 0, result.output
    assert "Traffic split: as planned" in result.output
    assert "Average order value" in result.output
    conversion_line = next(
        line
        for line in result.output.splitlines()
        if line.startswith("warranty_29") and "Conversion" in line
    )
    assert conversion_line.endswith("better")
    assert "+1.75 pp" in conversion_line


def test_table_warns_about_a_broken_traffic_split(tmp_path):
    skewed = VARIANT.replace("warranty_29,4000,", "warranty_29,4600,")
    _path, result = run(tmp_path, f"{HEADER}\n{CONTROL}\n{skewed}\n")
    assert "WARNING: traffic split does not match the plan" in result.output


def test_degenerate_metrics_show_as_not_computable(tmp_path):
    empty = "b,3000,0,0,0,0,0,0"
    _path, result = run(tmp_path, f"{HEADER}\n{CONTROL}\n{empty}\n")
    assert result.exit_code == 0, result.output
    assert "not computable (no orders)" in result.output


ERRORS = [
    ("variant,units\ncontrol,1\n", 1, "conversions: missing column"),
    (f"{HEADER}\n{CONTROL}\nb,abc,1,1,1,1,1,1\n", 3, "units: not a number: 'abc'"),
    (f"{HEADER}\n{CONTROL}\nb,10,1,1,1,1,1,inf\n", 3, "revenue_orders_sum_prod: not a finite"),
    (f"{HEADER}\n{CONTROL}\nb,10.5,1,1,1,1,1,1\n", 3, "units: not a whole number"),
    (f"{HEADER}\nb,-10,1,1,1,1,1,1\n{CONTROL}\n", 2, "units: must not be negative"),
    (f"{HEADER}\n{CONTROL}\nb,10,1,1,1,-1,1,1\n", 3, "orders_sum: must not be negative"),
    (f"{HEADER}\n{CONTROL}\nb,10,11,1,1,1,1,1\n", 3, "conversions: must not exceed units"),
    (f"{HEADER}\n{CONTROL}\nb,10,1,,1,1,1,1\n", 3, "revenue_sum: missing value"),
    (f"{HEADER}\n{CONTROL}\nb,10,1\n", 3, "revenue_sum: missing value"),
    (f"{HEADER}\n{CONTROL}\n{CONTROL}\n", 3, "variant: duplicate variant 'control'"),
    (f"{HEADER}\n{CONTROL}\n", 3, "variant: at least two rows are needed"),
    (f"{HEADER},weight\n{CONTROL},1\n{VARIANT},0\n", 3, "weight: must be a positive number"),
    (f"{HEADER}\n{CONTROL}\nb,10,1,100,1,1,1,1\n", 3, "revenue_sum_sq: is too small"),
    ("", 1, "variant: missing column"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_input_errors_name_file_line_and_column(tmp_path, text, line, message):
    path, result = run(tmp_path, text)
    assert result.exit_code != 0
    assert f"{path}:{line}: {message}" in result.output


def test_options_are_validated_by_click(tmp_path):
    _path, result = run(tmp_path, f"{HEADER}\n{CONTROL}\n{VARIANT}\n", "--correction", "sidak")
    assert result.exit_code == 2
    _path, result = run(tmp_path, f"{HEADER}\n{CONTROL}\n{VARIANT}\n", "--alpha", "1.5")
    assert result.exit_code == 2


EXTRA = "covariate_sum,covariate_sum_sq,revenue_covariate_sum_prod,refunded_units"
CONTROL_EXTRA = f"{CONTROL},200000,13600000,1578000,80"
VARIANT_EXTRA = f"{VARIANT},200000,13600000,1987000,130"


def test_optional_columns_bring_cuped_and_the_refund_guardrail(tmp_path):
    text = f"{HEADER},{EXTRA}\n{CONTROL_EXTRA}\n{VARIANT_EXTRA}\n"
    _path, result = run(tmp_path, text, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    reduction = data["variance_reduction"]
    assert reduction["covariate_used"] is True and reduction["metric"] == "revenue_per_unit"
    assert 0.0 < reduction["interval_narrowing"] < 1.0
    assert [g["metric"] for g in data["guardrails"]] == ["refund_rate"]
    assert data["guardrail_violated"] is True
    assert data["variants"][1]["refund_rate"] == pytest.approx(130 / 4000)
    _path, table = run(tmp_path, text)
    assert "adjusted for the pre-period covariate (CUPED)" in table.output
    assert "Refund rate" in table.output and "VIOLATED" in table.output


def test_acceptance_value_columns_add_the_metric_and_empty_cells_mean_not_given(tmp_path):
    header = f"{HEADER},acceptance_value_sum,acceptance_value_sum_sq"
    text = f"{header}\n{CONTROL},9000,400000\n{VARIANT},12000,520000\n"
    _path, result = run(tmp_path, text, "--format", "json")
    metrics = [c["metric"] for c in json.loads(result.output)["comparisons"]]
    assert metrics[-1] == "acceptance_value_per_unit"
    _path, result = run(
        tmp_path, f"{header}\n{CONTROL},9000,400000\n{VARIANT},,\n", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "acceptance_value_per_unit" not in [c["metric"] for c in data["comparisons"]]
    assert data["variants"][1]["acceptance_value_per_unit"] is None


def test_metric_and_guardrail_options(tmp_path):
    text = f"{HEADER},{EXTRA}\n{CONTROL_EXTRA}\n{VARIANT_EXTRA}\n"
    _path, result = run(
        tmp_path,
        text,
        "--format",
        "json",
        "--metric",
        "conversion",
        "--metric",
        "refund_rate",
        "--guardrail",
        "average_order_value",
        "--guardrail",
        "conversion:higher",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["metrics"] == ["conversion", "refund_rate"]
    assert [(g["metric"], g["worse_when"]) for g in data["guardrails"]] == [
        ("average_order_value", "lower"),
        ("conversion", "higher"),
    ]
    _path, table = run(tmp_path, text, "--metric", "refund_rate")
    refund_line = next(
        line for line in table.output.splitlines() if line.startswith("warranty_29  Refund rate")
    )
    assert refund_line.endswith("worse")  # higher refund rate, significant
    _path, bad = run(tmp_path, text, "--guardrail", "bounce_rate")
    assert bad.exit_code == 2 and "unknown guardrail metric" in bad.output


OPTIONAL_ERRORS = [
    (f"{HEADER},covariate_sum\n{CONTROL},1\n", 1, "covariate_sum_sq: missing column"),
    (
        f"{HEADER},acceptance_value_sum,acceptance_value_sum_sq\n{CONTROL},5,\n{VARIANT},1,1\n",
        2,
        "acceptance_value_sum_sq: give all of",
    ),
    (f"{HEADER},refunded_units\n{CONTROL},1.5\n{VARIANT},1\n", 2, "refunded_units: not a whole"),
    (f"{HEADER},refunded_units\n{CONTROL},5000\n{VARIANT},1\n", 2, "refunded_units: must not"),
]


@pytest.mark.parametrize(("text", "line", "message"), OPTIONAL_ERRORS)
def test_optional_column_errors_name_file_line_and_column(tmp_path, text, line, message):
    path, result = run(tmp_path, text)
    assert result.exit_code != 0
    assert f"{path}:{line}: {message}" in result.output
