import json
from pathlib import Path

from click.testing import CliRunner

from offerlab.cli.definitions import schema_command, validate_command
from offerlab.definitions import experiment_json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_validate_exits_zero_and_counts_valid_experiments() -> None:
    result = CliRunner().invoke(validate_command, [str(ROOT / "experiments")])

    assert result.exit_code == 0, result.output
    assert result.stdout == "3 experiments OK\n"
    assert result.stderr == ""


def test_validate_prints_problems_to_stderr_and_exits_one(in_tests_folder: Path) -> None:
    result = CliRunner().invoke(validate_command, ["fixtures/weights.yaml"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "fixtures/weights.yaml:6: variants: weights must sum to 1, not 0.9",
        "fixtures/weights.yaml:15: variants[2].weight: must be > 0",
        "2 problems in 1 file",
    ]


def test_validate_reports_problems_of_all_files(in_tests_folder: Path) -> None:
    result = CliRunner().invoke(validate_command, ["fixtures"])

    assert result.exit_code == 1
    *problems, summary = result.stderr.splitlines()
    assert summary == f"{len(problems)} problems in 12 files"
    assert (
        "fixtures/malformed.yaml:9: invalid YAML: mapping values are not allowed here" in problems
    )
    assert "fixtures/unknown_field.yaml:5: colour: unknown field" in problems
    assert not any("yaml11_traps" in line for line in problems)


def test_validate_missing_path_fails(in_tests_folder: Path) -> None:
    result = CliRunner().invoke(validate_command, ["fixtures/nowhere"])

    assert result.exit_code == 1
    assert "fixtures/nowhere: no such file or directory" in result.stderr


def test_schema_prints_json_schema() -> None:
    result = CliRunner().invoke(schema_command, [])

    assert result.exit_code == 0
    assert json.loads(result.stdout) == experiment_json_schema()


def test_schema_writes_the_output_file(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"

    result = CliRunner().invoke(schema_command, ["--output", str(target)])

    assert result.exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8")) == experiment_json_schema()
    assert target.read_text(encoding="utf-8") == (ROOT / "experiments/schema.json").read_text(
        encoding="utf-8"
    )


def test_schema_markdown_lists_fields() -> None:
    result = CliRunner().invoke(schema_command, ["--format", "markdown"])

    assert result.exit_code == 0
    assert "| `attribution_window_hours` | integer, >= 1, <= 2160 | `168` |" in result.stdout
