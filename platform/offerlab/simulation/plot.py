"""PNG of a simulation: cumulative regret per policy and each policy's allocation over time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from offerlab.simulation.runner import RunResult  # noqa: E402


def plot_runs(
    results: Sequence[RunResult], arms: Sequence[str], path: Path, *, revenue: bool, title: str
) -> None:
    """Top: mean cumulative regret over seeds; below: mean share of each arm per batch."""
    policies = list(dict.fromkeys(r.policy for r in results))
    columns = 2
    rows = 1 + math.ceil(len(policies) / columns)
    figure = plt.figure(figsize=(12, 3.2 * rows))
    regret_axes = figure.add_subplot(rows, 1, 1)
    for policy in policies:
        runs = [r for r in results if r.policy == policy]
        curves = [
            r.cumulative_revenue_regret if revenue else r.cumulative_conversion_regret for r in runs
        ]
        regret_axes.plot(runs[0].steps, np.mean(curves, axis=0), label=policy)
    regret_axes.set_title(f"{title}: cumulative {'revenue' if revenue else 'conversion'} regret")
    regret_axes.set_xlabel("impressions")
    regret_axes.legend(fontsize="small")
    for index, policy in enumerate(policies):
        runs = [r for r in results if r.policy == policy]
        axes = figure.add_subplot(rows, columns, columns + index + 1)
        shares = np.mean([r.allocation for r in runs], axis=0)
        axes.stackplot(runs[0].steps, shares.T, labels=list(arms))
        axes.set_ylim(0, 1)
        axes.set_title(f"{policy}: allocation", fontsize="small")
        if index == 0:
            axes.legend(fontsize="x-small", loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
