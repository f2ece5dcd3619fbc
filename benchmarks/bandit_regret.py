"""Cumulative pseudo-regret of offerlab's bandits beside MABWiser, the uniform split and the oracle.

Run from the repository root: ``python benchmarks/bandit_regret.py [--seeds 20] [--workers 2]``.
Both instances come from ``experiments/scenarios/``: the Bernoulli instance (5 arms, acceptance
0.020-0.045, conversion reward) and the revenue instance (the most accepted offer is not the most
valuable; reward = accepted offer value, lognormal). Every learner sees the same visitors with the
same outcome draws per seed (common random numbers) and learns after every batch of impressions.
offerlab's policies assign through the SDK hashing from their weights; MABWiser's learners
choose with ``predict`` over the batch and learn with ``partial_fit`` on the batch's rewards.
Pseudo-regret is the expected reward of the best arm minus that of the chosen arm, summed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from offerlab.domain.bandits import AllocationSettings, RewardObjective
from offerlab.simulation.learners import Learner, OracleLearner
from offerlab.simulation.runner import policy_learner, run_learner
from offerlab.simulation.scenario import PolicyDefinition, ScenarioDefinition, load_scenario
from offerlab.simulation.world import Visitors, make_visitors

SCENARIOS = Path(__file__).resolve().parents[1] / "experiments" / "scenarios"
# The service's default number of posterior draws per update (AllocationSettings.draws).
DRAWS = AllocationSettings().draws


@dataclass(frozen=True)
class Entry:
    """One learner of the study: who, at what batch size."""

    label: str
    batch: int
    kind: str  # "offerlab", "mabwiser", "oracle"
    policy: str = "thompson"
    objective: str = "conversion"
    epsilon: float = 0.1


BERNOULLI = (
    Entry("uniform split", 100, "offerlab", "fixed"),
    Entry("oracle", 100, "oracle"),
    Entry("offerlab TS", 100, "offerlab"),
    Entry("offerlab TS", 1000, "offerlab"),
    Entry("offerlab epsilon-greedy 0.1", 100, "offerlab", "epsilon_greedy"),
    Entry("offerlab UCB1", 100, "offerlab", "ucb1"),
    Entry("MABWiser TS", 100, "mabwiser"),
    Entry("MABWiser TS", 1000, "mabwiser"),
    Entry("MABWiser epsilon-greedy 0.1", 100, "mabwiser", "epsilon_greedy"),
    Entry("MABWiser UCB1", 100, "mabwiser", "ucb1"),
)
REVENUE = (
    Entry("uniform split", 100, "offerlab", "fixed"),
    Entry("oracle", 100, "oracle", objective="offer_revenue"),
    Entry("offerlab revenue TS", 100, "offerlab", objective="offer_revenue"),
    Entry("offerlab revenue TS", 1000, "offerlab", objective="offer_revenue"),
    Entry("offerlab conversion TS", 100, "offerlab"),
    Entry("offerlab conversion UCB1", 100, "offerlab", "ucb1"),
    Entry("offerlab conversion epsilon-greedy 0.1", 100, "offerlab", "epsilon_greedy"),
    Entry(
        "offerlab epsilon-greedy 0.1 on revenue",
        100,
        "offerlab",
        "epsilon_greedy",
        "offer_revenue",
    ),
    Entry("offerlab UCB1 on revenue", 100, "offerlab", "ucb1", "offer_revenue"),
    Entry("MABWiser TS (acceptance)", 100, "mabwiser"),
    Entry(
        "MABWiser epsilon-greedy 0.1 on revenue", 100, "mabwiser", "epsilon_greedy", "offer_revenue"
    ),
    Entry("MABWiser UCB1 on revenue", 100, "mabwiser", "ucb1", "offer_revenue"),
)
CONVERSION_ONLY = (
    "offerlab conversion TS",
    "offerlab conversion UCB1",
    "offerlab conversion epsilon-greedy 0.1",
    "MABWiser TS (acceptance)",
)


class MabwiserLearner:
    """A MABWiser bandit behind the simulator's learner interface."""

    winner: str | None = None
    winner_step: int | None = None

    def __init__(self, entry: Entry, arms: int, seed: int) -> None:
        from mabwiser.mab import MAB, LearningPolicy

        policies = {
            "thompson": LearningPolicy.ThompsonSampling(),
            "ucb1": LearningPolicy.UCB1(alpha=1.0),
            "epsilon_greedy": LearningPolicy.EpsilonGreedy(epsilon=entry.epsilon),
        }
        self.name = entry.label
        self._mab = MAB(arms=list(range(arms)), learning_policy=policies[entry.policy], seed=seed)
        self._rng = np.random.default_rng([seed, 99])
        self._arms, self._fitted = arms, False
        self._uses_value = RewardObjective(entry.objective).uses_value

    def choose(self, visitors: Visitors, rows: slice) -> np.ndarray:
        """MABWiser's predictions for the batch (a uniform draw before the first fit)."""
        size = rows.stop - rows.start
        if not self._fitted:
            return self._rng.integers(0, self._arms, size)
        return np.asarray(self._mab.predict(np.zeros((size, 1))), dtype=np.int64).reshape(size)

    def learn(self, visitors, rows, arms, accepted, values) -> None:  # noqa: ANN001
        """``fit`` on the first batch, ``partial_fit`` afterwards."""
        rewards = values if self._uses_value else accepted
        if self._fitted:
            self._mab.partial_fit(arms.tolist(), rewards.tolist())
        else:
            self._mab.fit(arms.tolist(), rewards.tolist())
            self._fitted = True


def make_learner(entry: Entry, scenario: ScenarioDefinition, seed: int, stream: int) -> Learner:
    """The learner of ``entry`` for one seed."""
    if entry.kind == "oracle":
        return OracleLearner(scenario.objective, entry.label)
    if entry.kind == "mabwiser":
        return MabwiserLearner(entry, len(scenario.arms), seed)
    definition = PolicyDefinition(
        name="p",
        policy=entry.policy,  # type: ignore[arg-type]
        objective=entry.objective,  # type: ignore[arg-type]
        min_share=0.0,
        epsilon=entry.epsilon,
        draws=DRAWS,
    )
    learner = policy_learner(scenario, definition, seed, stream=stream)
    learner.name = entry.label
    return learner


def run_seed(
    task: tuple[str, tuple[Entry, ...], int],
) -> list[tuple[str, int, float, float, float]]:
    """Every entry on one seed: (label, batch, conversion regret, revenue regret, revenue)."""
    warnings.simplefilter("ignore")
    name, entries, seed = task
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    visitors = make_visitors(scenario, seed)
    rows = []
    for stream, entry in enumerate(entries):
        learner = make_learner(entry, scenario, seed, stream)
        result = run_learner(
            learner, visitors, batch_size=entry.batch, objective=scenario.objective
        )
        rows.append(
            (
                entry.label,
                entry.batch,
                result.conversion_regret,
                result.revenue_regret,
                result.revenue,
            )
        )
    return rows


def summarise(
    rows: list[tuple[str, int, float, float, float]],
) -> dict[tuple[str, int], dict[str, float]]:
    """Mean and sd over seeds per (label, batch)."""
    keys = list(dict.fromkeys((r[0], r[1]) for r in rows))
    table = {}
    for key in keys:
        mine = [r for r in rows if (r[0], r[1]) == key]
        figures = {}
        for index, name in ((2, "conversion_regret"), (3, "revenue_regret"), (4, "revenue")):
            values = [r[index] for r in mine]
            figures[name] = statistics.fmean(values)
            figures[f"{name}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        table[key] = figures
    return table


def print_table(title: str, table: dict[tuple[str, int], dict[str, float]], seeds: int) -> None:
    """Markdown table of the study's figures."""
    print(f"\n### {title} ({seeds} seeds, horizon 100,000)\n")
    print(
        "| learner | batch | conversion regret (mean ± sd) | revenue regret (mean ± sd) | revenue |"
    )
    print("|---|---|---|---|---|")
    for (label, batch), f in table.items():
        print(
            f"| {label} | {batch:,} "
            f"| {f['conversion_regret']:,.1f} ± {f['conversion_regret_sd']:,.1f} "
            f"| {f['revenue_regret']:,.0f} ± {f['revenue_regret_sd']:,.0f} | {f['revenue']:,.0f} |"
        )


def paired_difference(
    rows: list[tuple[str, int, float, float, float]], ours: tuple[str, int], theirs: tuple[str, int]
) -> tuple[float, float]:
    """Mean and standard error of ours minus theirs in conversion regret, paired by seed.

    Both learners of a seed face the same visitors and outcome draws, so the paired difference
    is far less noisy than the difference of the two means' own spreads suggests.
    """
    by_key: dict[tuple[str, int], list[float]] = {ours: [], theirs: []}
    for label, batch, conversion_regret, _, _ in rows:
        if (label, batch) in by_key:
            by_key[label, batch].append(conversion_regret)
    differences = [a - b for a, b in zip(by_key[ours], by_key[theirs], strict=True)]
    spread = statistics.stdev(differences) if len(differences) > 1 else math.inf
    return statistics.fmean(differences), spread / math.sqrt(len(differences))


def no_worse(difference: float, standard_error: float) -> tuple[bool, str]:
    """ "No worse" within simulation noise: the paired excess is under two standard errors."""
    if difference <= 0:
        return True, "PASS"
    if difference <= 2 * standard_error:
        return True, "PASS (within noise)"
    return False, "MISS"


def check_targets(
    bernoulli: dict, revenue: dict, bernoulli_rows: list
) -> list[tuple[str, bool, str, str]]:
    """The issue's targets, each with its verdict and the figures behind it."""
    ours_100 = bernoulli["offerlab TS", 100]["conversion_regret"]
    ours_1000 = bernoulli["offerlab TS", 1000]["conversion_regret"]
    theirs = bernoulli["MABWiser TS", 100]["conversion_regret"]
    theirs_1000 = bernoulli["MABWiser TS", 1000]["conversion_regret"]
    revenue_ts = revenue["offerlab revenue TS", 100]["revenue_regret"]
    best_label = min(CONVERSION_ONLY, key=lambda label: revenue[label, 100]["revenue_regret"])
    best_conv = revenue[best_label, 100]["revenue_regret"]
    eps_ours = revenue["offerlab epsilon-greedy 0.1 on revenue", 100]["revenue_regret"]
    eps_theirs = revenue["MABWiser epsilon-greedy 0.1 on revenue", 100]["revenue_regret"]
    difference, error = paired_difference(
        bernoulli_rows, ("offerlab TS", 100), ("MABWiser TS", 100)
    )
    batch_ok, batch_verdict = no_worse(difference, error)
    verdict = {True: "PASS", False: "MISS"}
    return [
        (
            "TS batch 100 no worse than MABWiser TS batch 100",
            batch_ok,
            batch_verdict,
            f"{ours_100:.1f} vs {theirs:.1f} ({ours_100 / theirs:.2f}x); paired difference "
            f"{difference:+.1f} ± {error:.1f} (standard error)",
        ),
        (
            "TS batch 1,000 <= 1.5 x MABWiser TS batch 100",
            ours_1000 <= 1.5 * theirs,
            verdict[ours_1000 <= 1.5 * theirs],
            f"{ours_1000:.1f} vs {1.5 * theirs:.1f} ({ours_1000 / theirs:.2f}x; "
            f"MABWiser at batch 1,000: {theirs_1000:.1f})",
        ),
        (
            "revenue TS <= 15% of best conversion-only",
            revenue_ts <= 0.15 * best_conv,
            verdict[revenue_ts <= 0.15 * best_conv],
            f"{revenue_ts:,.0f} vs {best_conv:,.0f} ({best_label}): {revenue_ts / best_conv:.1%}",
        ),
        (
            "revenue TS < epsilon-greedy on revenue",
            revenue_ts < min(eps_ours, eps_theirs),
            verdict[revenue_ts < min(eps_ours, eps_theirs)],
            f"{revenue_ts:,.0f} vs offerlab {eps_ours:,.0f}, MABWiser {eps_theirs:,.0f}",
        ),
    ]


def main() -> int:
    """Run the study and print its tables and verdicts; exit code 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="seeds per instance (default 40)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tasks = [("bernoulli-5-arms", BERNOULLI, s) for s in seeds]
    tasks += [("revenue-accessories", REVENUE, s) for s in seeds]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_seed, tasks))
    half = len(seeds)
    bernoulli_rows = [row for rows in results[:half] for row in rows]
    bernoulli = summarise(bernoulli_rows)
    revenue = summarise([row for rows in results[half:] for row in rows])
    print_table("Bernoulli instance: bernoulli-5-arms", bernoulli, args.seeds)
    print_table("Revenue instance: revenue-accessories", revenue, args.seeds)
    print("\n| target | verdict | figures |\n|---|---|---|")
    verdicts = check_targets(bernoulli, revenue, bernoulli_rows)
    for name, _, verdict, figures in verdicts:
        print(f"| {name} | {verdict} | {figures} |")
    print(f"\nwall time {time.perf_counter() - started:.0f} s, {args.workers} worker(s)")
    return 0 if all(ok for _, ok, _, _ in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
