"""`offerlab simulate SCENARIO.yaml`: side-by-side table or JSON, a PNG, reproducible by seed."""

import json
from pathlib import Path

from click.testing import CliRunner

from offerlab.cli import main

SCENARIO = """\
name: tiny
horizon: 3000
batch_size: 500
objective: offer_revenue
arms:
  - {name: cheap, acceptance: 0.10, value: {distribution: constant, mean: 10}}
  - {name: premium, acceptance: 0.05, value: {distribution: lognormal, mean: 40, sigma: 0.5}}
policies:
  - {name: revenue-ts, policy: thompson, draws: 300}
  - {name: greedy, policy: epsilon_greedy, epsilon: 0.2, draws: 300}
"""


def _simulate(tmp_path: Path, *args: str, text: str = SCENARIO):
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["simulate", str(path), *args])


def test_table_lists_every_policy_beside_the_fixed_split_and_the_oracle(tmp_path):
    result = _simulate(tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Scenario tiny: 3,000 impressions, 1 seed(s)")
    policies = [line.split()[0] for line in lines[3:]]
    assert policies == ["fixed_split", "oracle", "revenue-ts", "greedy"]


def test_json_is_reproducible_for_a_seed_and_covers_every_seed(tmp_path):
    first = _simulate(tmp_path, "--format", "json", "--seed", "3", "--seeds", "2")
    again = _simulate(tmp_path, "--format", "json", "--seed", "3", "--seeds", "2")
    other = _simulate(tmp_path, "--format", "json", "--seed", "4", "--seeds", "2")
    assert first.exit_code == 0, first.output
    assert first.output == again.output and first.output != other.output
    document = json.loads(first.output)
    assert document["seeds"] == [3, 4] and document["objective"] == "offer_revenue"
    by_policy = {p["policy"]: p for p in document["policies"]}
    assert by_policy["oracle"]["revenue_regret_mean"] == 0.0
    assert all(p["seeds"] == 2 for p in document["policies"])
    assert (
        by_policy["fixed_split"]["revenue_regret_mean"] > by_policy["oracle"]["revenue_regret_mean"]
    )


def test_plot_writes_a_png(tmp_path):
    target = tmp_path / "regret.png"
    result = _simulate(tmp_path, "--plot", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_invalid_scenario_is_reported_as_file_line_field(tmp_path):
    result = _simulate(tmp_path, text=SCENARIO.replace("batch_size: 500", "batch_size: -5"))
    assert result.exit_code == 1
    assert "tiny.yaml:3: batch_size: must be >= 1" in result.output


def test_missing_file_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["simulate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: cannot read file" in result.output
