"""Run learners over one seed's visitors and record regret, earnings and allocation over time.

Pseudo-regret of a visitor is the expected reward of the best arm for that visitor (given their
segment and the time) minus the expected reward of the arm they got; conversion regret uses
expected acceptance, revenue regret expected value taken per impression (acceptance x mean value).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from offerlab.domain.bandits import PolicyName, RewardObjective
from offerlab.simulation.learners import Learner, OracleLearner, PolicyLearner
from offerlab.simulation.scenario import PolicyDefinition, ScenarioDefinition
from offerlab.simulation.world import Visitors, make_visitors, segment_names

FIXED_SPLIT = "fixed_split"
ORACLE = "oracle"


@dataclass(frozen=True)
class RunResult:
    """One learner on one seed: totals and per-batch traces (cumulative at each batch end)."""

    policy: str
    seed: int
    conversions: int
    revenue: float
    conversion_regret: float
    revenue_regret: float
    best_arm_share: float
    winner: str | None
    winner_step: int | None
    steps: np.ndarray
    cumulative_conversion_regret: np.ndarray
    cumulative_revenue_regret: np.ndarray
    allocation: np.ndarray


def default_learners(scenario: ScenarioDefinition, seed: int) -> list[Learner]:
    """The fixed split and the oracle, then the scenario's policies."""
    fixed = PolicyDefinition(name=FIXED_SPLIT, policy=PolicyName.FIXED)
    learners: list[Learner] = [policy_learner(scenario, fixed, seed, stream=0)]
    learners.append(OracleLearner(scenario.objective, ORACLE))
    for stream, policy in enumerate(scenario.policies, start=1):
        learners.append(policy_learner(scenario, policy, seed, stream=stream))
    return learners


def policy_learner(
    scenario: ScenarioDefinition, policy: PolicyDefinition, seed: int, *, stream: int
) -> PolicyLearner:
    """A ``PolicyLearner`` for one policy definition; ``stream`` separates the policies' rngs."""
    settings = policy.settings(scenario.objective)
    declared = scenario.segments.attribute if scenario.segments else None
    if settings.segment_attribute not in (None, declared):
        raise ValueError(
            f"policy {policy.name!r}: segment_attribute {settings.segment_attribute!r} "
            f"is not the scenario's segment attribute ({declared!r})"
        )
    return PolicyLearner(
        policy.name,
        tuple(arm.name for arm in scenario.arms),
        segment_names(scenario),
        settings,
        scenario.control_index,
        np.random.default_rng([seed, 7, stream]),
    )


def run_learner(
    learner: Learner, visitors: Visitors, *, batch_size: int, objective: RewardObjective
) -> RunResult:
    """Drive ``learner`` through all visitors, ``batch_size`` at a time; updates between batches."""
    best_conversion = visitors.expected_conversion.max(axis=1)
    best_revenue = visitors.expected_revenue.max(axis=1)
    best_arm = visitors.expected_reward(objective).argmax(axis=1)
    starts = range(0, visitors.size, batch_size)
    k = visitors.expected_conversion.shape[1]
    conv_regret, rev_regret = np.zeros(len(starts)), np.zeros(len(starts))
    allocation = np.zeros((len(starts), k))
    chosen_all = np.empty(visitors.size, dtype=np.int64)
    conversions, revenue = 0, 0.0
    for b, start in enumerate(starts):
        rows = slice(start, min(start + batch_size, visitors.size))
        arms = learner.choose(visitors, rows)
        accepted, values = visitors.outcomes(rows, arms)
        learner.learn(visitors, rows, arms, accepted, values)
        index = np.arange(rows.start, rows.stop)
        conv_regret[b] = (best_conversion[rows] - visitors.expected_conversion[index, arms]).sum()
        rev_regret[b] = (best_revenue[rows] - visitors.expected_revenue[index, arms]).sum()
        allocation[b] = np.bincount(arms, minlength=k) / arms.size
        chosen_all[rows] = arms
        conversions += int(accepted.sum())
        revenue += float(values.sum())
    return RunResult(
        policy=learner.name,
        seed=-1,
        conversions=conversions,
        revenue=revenue,
        conversion_regret=float(conv_regret.sum()),
        revenue_regret=float(rev_regret.sum()),
        best_arm_share=float(np.mean(chosen_all == best_arm)),
        winner=learner.winner,
        winner_step=learner.winner_step,
        steps=np.array([min(s + batch_size, visitors.size) for s in starts]),
        cumulative_conversion_regret=np.cumsum(conv_regret),
        cumulative_revenue_regret=np.cumsum(rev_regret),
        allocation=allocation,
    )


def simulate(scenario: ScenarioDefinition, seeds: Iterable[int]) -> list[RunResult]:
    """Every learner (fixed split, oracle, the scenario's policies) on every seed."""
    results = []
    for seed in seeds:
        visitors = make_visitors(scenario, seed)
        for learner in default_learners(scenario, seed):
            result = run_learner(
                learner, visitors, batch_size=scenario.batch_size, objective=scenario.objective
            )
            results.append(replace(result, seed=seed))
    return results
