"""Cost of one bandit decision: offerlab's weights update and assignment beside MABWiser.

Run from the repository root: ``python benchmarks/bandit_decision_cost.py [--repeat 5]``.
Five arms with the data of a Bernoulli experiment after 20,000 impressions. offerlab splits a
decision in two: a weights update (``next_allocation``, once per allocation epoch, Monte Carlo
probability of being best over ``draws`` joint posterior draws) and an assignment (the SDK's
hash and integer-threshold lookup, ``offerlab_sdk.bucketing.variant_index``, once per visitor).
MABWiser decides per visitor with ``predict`` (one posterior draw per arm) and learns with
``partial_fit``. Figures are the best of ``--repeat`` timings of many calls.
"""

from __future__ import annotations

import argparse
import timeit
import warnings

import numpy as np

from offerlab.domain.bandits import AllocationSettings, ArmStats, next_allocation
from offerlab_sdk.bucketing import (
    experiment_input,
    hash_uint32,
    index_for_hash,
    variant_bounds,
    variant_index,
    weights_to_bp,
)

ACCEPTANCE = (0.020, 0.025, 0.030, 0.035, 0.045)
UNITS = 4000


def _stats() -> list[ArmStats]:
    rng = np.random.default_rng(1)
    stats = []
    for i, p in enumerate(ACCEPTANCE):
        successes = int(rng.binomial(UNITS, p))
        values = rng.lognormal(3.0, 0.5, successes)
        stats.append(
            ArmStats(f"arm{i}", UNITS, successes, float(values.sum()), float((values**2).sum()))
        )
    return stats


def _best_microseconds(call, number: int, repeat: int) -> float:  # noqa: ANN001
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def offerlab_figures(repeat: int) -> list[tuple[str, float]]:
    """Microseconds per weights update (several settings) and per assignment."""
    stats = _stats()
    rng = np.random.default_rng(2)
    rows = []
    for objective in ("conversion", "offer_revenue"):
        for draws in (2000, 10_000):
            settings = AllocationSettings(objective=objective, draws=draws)
            call = lambda s=settings: next_allocation(stats, [], s, 0, rng)  # noqa: E731
            rows.append(
                (
                    f"offerlab weights update, {objective}, {draws:,} draws",
                    _best_microseconds(call, 50, repeat),
                )
            )
    decision = next_allocation(stats, [], AllocationSettings(), 0, rng)
    weights_bp = weights_to_bp(decision.weights)
    ids = [f"visitor-{i}" for i in range(100_000)]

    def assign_all() -> None:
        for visitor in ids:
            variant_index("bench", visitor, weights_bp, 10_000)

    bounds = variant_bounds(weights_bp, 10_000)  # once per allocation epoch, as the SDK does

    def assign_with_bounds() -> None:
        for visitor in ids:
            index_for_hash(hash_uint32(experiment_input("bench", visitor)), bounds)

    per_call = _best_microseconds(assign_all, 1, repeat) / len(ids)
    rows.append(("offerlab assignment, variant_index (bounds rebuilt per call)", per_call))
    per_hash = _best_microseconds(assign_with_bounds, 1, repeat) / len(ids)
    rows.append(("offerlab assignment, hash + lookup (bounds built per epoch)", per_hash))
    return rows


def mabwiser_figures(repeat: int) -> list[tuple[str, float]]:
    """Microseconds per MABWiser predict (single and batched) and per partial_fit of 100 events."""
    from mabwiser.mab import MAB, LearningPolicy

    rng = np.random.default_rng(3)
    decisions = rng.integers(0, 5, UNITS * 5)
    rewards = (rng.random(decisions.size) < np.take(ACCEPTANCE, decisions)).astype(int)
    contexts = np.zeros((10_000, 1))
    small_d, small_r = decisions[:100].tolist(), rewards[:100].tolist()
    rows = []
    for label, policy in (
        ("TS", LearningPolicy.ThompsonSampling()),
        ("UCB1", LearningPolicy.UCB1(alpha=1.0)),
        ("epsilon-greedy", LearningPolicy.EpsilonGreedy(epsilon=0.1)),
    ):
        mab = MAB(arms=list(range(5)), learning_policy=policy, seed=1)
        mab.fit(decisions.tolist(), rewards.tolist())
        rows.append(
            (
                f"MABWiser {label} predict, one visitor",
                _best_microseconds(mab.predict, 2000, repeat),
            )
        )
        batch = _best_microseconds(lambda m=mab, c=contexts: m.predict(c), 1, repeat) / len(
            contexts
        )
        rows.append((f"MABWiser {label} predict, batch of 10,000 (per visitor)", batch))
        fit = _best_microseconds(
            lambda m=mab, d=small_d, r=small_r: m.partial_fit(d, r), 20, repeat
        )
        rows.append((f"MABWiser {label} partial_fit, 100 events", fit))
    return rows


def main() -> int:
    """Print a Markdown table of microseconds per operation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("| operation | µs |\n|---|---|")
    for label, micros in offerlab_figures(args.repeat) + mabwiser_figures(args.repeat):
        print(f"| {label} | {micros:,.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
