"""The simulator: scenario validation with lines, the SDK path, regret and reproducibility."""

import math
from pathlib import Path

import numpy as np
import pytest

from offerlab.simulation import ScenarioError, load_scenario, simulate
from offerlab.simulation.runner import policy_learner, run_learner
from offerlab.simulation.world import make_visitors
from offerlab_sdk.bucketing import variant_index, weights_to_bp

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "experiments" / "scenarios"

SMALL = """\
name: small
horizon: 6000
batch_size: 500
objective: offer_revenue
arms:
  - {name: cheap, acceptance: 0.10, value: {distribution: constant, mean: 10}}
  - {name: premium, acceptance: 0.05, value: {distribution: lognormal, mean: 40, sigma: 0.5}}
policies:
  - {name: ts, policy: thompson, draws: 500}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_shipped_scenarios_are_valid(name):
    scenario = load_scenario(SCENARIOS / name)
    assert scenario.horizon >= 100_000 and scenario.policies


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("horizon: 6000", "horizon: 0"), "scenario.yaml:2: horizon: must be >= 1"),
        (("batch_size: 500", "batch_size: 500\ncolour: red"), "scenario.yaml:4: colour: unknown"),
        (
            ("acceptance: 0.05", "acceptance: 1.5"),
            "scenario.yaml:7: arms[1].acceptance: must be <= 1",
        ),
        (
            ("policy: thompson", "policy: softmax"),
            "scenario.yaml:9: policies[0].policy: must be 'fixed'",
        ),
        (
            ("draws: 500", "draws: 500, holdout_share: 0.005"),
            "scenario.yaml:9: policies[0]: holdout_share must be 0 or >= min_share",
        ),
        (
            ("draws: 500", "draws: 500, min_share: 0.6"),
            "scenario.yaml:1: policies[0]: min_share * number of arms must be <= 1",
        ),
        (("name: premium", "name: cheap"), "scenario.yaml:1: arm names must be unique"),
    ],
)
def test_scenario_problems_are_reported_with_file_line_and_field(tmp_path, edit, expected):
    path = _write(tmp_path, SMALL.replace(*edit))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert any(expected in line for line in str(caught.value).splitlines()), str(caught.value)


def test_visitors_are_assigned_exactly_as_the_sdk_assigns_them(tmp_path):
    scenario = load_scenario(_write(tmp_path, SMALL))
    visitors = make_visitors(scenario, seed=3)
    learner = policy_learner(scenario, scenario.policies[0], 3, stream=1)
    rows = slice(0, 2000)
    chosen = learner.choose(visitors, rows)
    weights_bp = weights_to_bp(learner.decisions[-1].weights)
    expected = [
        variant_index(visitors.salt, f"visitor-{t}", weights_bp, 10_000) for t in range(2000)
    ]
    assert chosen.tolist() == expected


def test_same_seed_same_results_and_other_seed_other_results(tmp_path):
    scenario = load_scenario(_write(tmp_path, SMALL))
    first, again, other = (simulate(scenario, [s]) for s in (4, 4, 5))
    summary = [(r.policy, r.conversions, r.revenue, r.revenue_regret) for r in first]
    assert summary == [(r.policy, r.conversions, r.revenue, r.revenue_regret) for r in again]
    assert summary != [(r.policy, r.conversions, r.revenue, r.revenue_regret) for r in other]


def test_fixed_split_regret_matches_its_expectation_and_the_oracle_has_none(tmp_path):
    scenario = load_scenario(_write(tmp_path, SMALL.replace("horizon: 6000", "horizon: 40000")))
    results = {r.policy: r for r in simulate(scenario, [6])}
    # Per visitor the fixed split loses (2.0 - 1.0) / 2 in expected revenue, with variance
    # 0.25 per visitor from the hash split: 3.29 sd of the sum is the tolerance.
    expected, sd = 40_000 * 0.5, math.sqrt(40_000 * 0.25)
    assert results["fixed_split"].revenue_regret == pytest.approx(expected, abs=3.29 * sd)
    assert results["oracle"].revenue_regret == 0.0 and results["oracle"].best_arm_share == 1.0
    assert results["ts"].revenue_regret < 0.5 * results["fixed_split"].revenue_regret
    assert results["ts"].cumulative_revenue_regret[-1] == pytest.approx(
        results["ts"].revenue_regret
    )


def test_measurement_slice_is_kept_out_of_learning(tmp_path):
    text = SMALL.replace("draws: 500}", "draws: 500, measurement_share: 0.2}")
    scenario = load_scenario(_write(tmp_path, text))
    visitors = make_visitors(scenario, seed=1)
    learner = policy_learner(scenario, scenario.policies[0], 1, stream=1)
    run_learner(learner, visitors, batch_size=500, objective=scenario.objective)
    learned = sum(learner._stats(None)[i].units for i in range(2))
    assert 0.76 * 6000 < learned < 0.84 * 6000  # about 80% of visitors, by the placement hash


def test_contextual_policy_needs_the_scenario_segment_attribute(tmp_path):
    text = SMALL.replace("draws: 500}", "draws: 500, segment_attribute: device}")
    scenario = load_scenario(_write(tmp_path, text))
    with pytest.raises(ValueError, match="segment_attribute 'device' is not the scenario's"):
        simulate(scenario, [1])


def test_segments_change_and_seasonality_shape_the_truth():
    scenario = load_scenario(SCENARIOS / "segments-and-change.yaml")
    visitors = make_visitors(scenario, seed=2)
    mobile = visitors.segments == 0
    assert mobile.mean() == pytest.approx(0.6, abs=3.29 * math.sqrt(0.24 / visitors.size))
    peak = 5000  # a quarter of the 20,000-impression period: sin = 1
    assert visitors.expected_conversion[peak, 2] / (
        0.08 if mobile[peak] else 0.05
    ) == pytest.approx(1.3)
    before, after = visitors.expected_revenue[59_999], visitors.expected_revenue[60_000]
    ratio_before = before[1] / visitors.expected_conversion[59_999, 1]
    ratio_after = after[1] / visitors.expected_conversion[60_000, 1]
    assert (ratio_before, ratio_after) == pytest.approx((30.0, 20.0))
    assert np.all(visitors.expected_revenue[:, 0] == 0.0)
