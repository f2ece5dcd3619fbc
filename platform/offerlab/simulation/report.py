"""Side-by-side summary of simulated policies over seeds, as a table or JSON-ready data."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from offerlab.simulation.runner import RunResult


@dataclass(frozen=True)
class PolicySummary:
    """Means and standard deviations over seeds of one policy's figures."""

    policy: str
    seeds: int
    conversion_regret_mean: float
    conversion_regret_sd: float
    revenue_regret_mean: float
    revenue_regret_sd: float
    conversions_mean: float
    revenue_mean: float
    best_arm_share_mean: float
    winner_declared: int
    winner_step_median: float | None
    winners: dict[str, int]


def summarise(results: Sequence[RunResult]) -> list[PolicySummary]:
    """One summary per policy, in the order the policies first appear."""
    order = list(dict.fromkeys(r.policy for r in results))
    return [_summary(policy, [r for r in results if r.policy == policy]) for policy in order]


def summaries_as_dicts(summaries: Sequence[PolicySummary]) -> list[dict[str, object]]:
    """Plain dictionaries (for ``--format json``)."""
    return [asdict(summary) for summary in summaries]


def render_table(summaries: Sequence[PolicySummary], *, scenario: str, horizon: int) -> str:
    """A plain-text table: regret (mean +- sd over seeds), earnings, best-arm share, winner."""
    seeds = summaries[0].seeds if summaries else 0
    header = [
        "Policy",
        "Regret (conv.)",
        "Regret (revenue)",
        "Conversions",
        "Revenue",
        "Best-arm share",
        "Winner at (median)",
    ]
    rows = [header]
    for s in summaries:
        rows.append(
            [
                s.policy,
                f"{s.conversion_regret_mean:,.1f} ± {s.conversion_regret_sd:,.1f}",
                f"{s.revenue_regret_mean:,.1f} ± {s.revenue_regret_sd:,.1f}",
                f"{s.conversions_mean:,.1f}",
                f"{s.revenue_mean:,.2f}",
                f"{s.best_arm_share_mean:.1%}",
                _winner_text(s),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    title = f"Scenario {scenario}: {horizon:,} impressions, {seeds} seed(s); regret vs the oracle."
    return "\n".join([title, "", *lines])


def _summary(policy: str, runs: list[RunResult]) -> PolicySummary:
    steps = [r.winner_step for r in runs if r.winner_step is not None]
    winners: dict[str, int] = {}
    for run in runs:
        if run.winner is not None:
            winners[run.winner] = winners.get(run.winner, 0) + 1
    return PolicySummary(
        policy=policy,
        seeds=len(runs),
        conversion_regret_mean=statistics.fmean(r.conversion_regret for r in runs),
        conversion_regret_sd=_sd([r.conversion_regret for r in runs]),
        revenue_regret_mean=statistics.fmean(r.revenue_regret for r in runs),
        revenue_regret_sd=_sd([r.revenue_regret for r in runs]),
        conversions_mean=statistics.fmean(r.conversions for r in runs),
        revenue_mean=statistics.fmean(r.revenue for r in runs),
        best_arm_share_mean=statistics.fmean(r.best_arm_share for r in runs),
        winner_declared=len(steps),
        winner_step_median=float(statistics.median(steps)) if steps else None,
        winners=winners,
    )


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _winner_text(summary: PolicySummary) -> str:
    if summary.winner_step_median is None:
        return "-"
    names = ", ".join(sorted(summary.winners))
    return f"{summary.winner_step_median:,.0f} ({names}; {summary.winner_declared}/{summary.seeds})"
