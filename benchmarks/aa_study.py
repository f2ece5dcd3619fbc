"""Simulation study of the experiment statistics: false positives, peeking, power and coverage.

Run from the repository root: ``python benchmarks/aa_study.py [--experiments 10000] [--seed 1]``.
Each simulated experiment has two arms with a fixed number of units per arm per day; results are
read once at the horizon (fixed-horizon z-test) or after every day (peeking). Data are generated
as sufficient statistics: daily binomial conversion counts, and for order value per-unit sums
built from Poisson order counts and lognormal order values.

The project's functions do the inference: ``compare_proportions`` (fixed horizon and the
conversion interval), ``compare_ratios`` (average order value) and ``tuned_tau_sq`` with
``always_valid_p_value`` (sequential mode). Only the 30 daily looks of the naive peeking test
use a numpy copy of the pooled z-test (one scalar call costs ~0.2 ms); that copy is checked
against ``compare_proportions`` at the horizon of every experiment.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from offerlab.domain.reports import Interval
from offerlab.domain.stats.frequentist import compare_proportions
from offerlab.domain.stats.ratio import RatioStats, compare_ratios
from offerlab.domain.stats.sequential import always_valid_p_value, tuned_tau_sq

BAND_LEVEL = 0.999
_BATCH = 500


@dataclass(frozen=True)
class Design:
    """The simulated experiment: two equal arms, daily traffic, baseline and true effects."""

    units_per_arm_per_day: int = 1_000
    days: int = 30
    baseline_conversion: float = 0.05
    alpha: float = 0.05
    power_lift: float = 0.15
    coverage_conversion_lift: float = 0.10
    coverage_aov_lift: float = 0.05
    extra_orders_mean: float = 0.3
    order_value_log_mean: float = math.log(40.0)
    order_value_log_sigma: float = 0.8

    @property
    def units_per_arm(self) -> int:
        return self.units_per_arm_per_day * self.days

    @property
    def planned_units(self) -> int:
        """Total units of both arms at the horizon: the size the sequential τ² is tuned to."""
        return 2 * self.units_per_arm

    def describe(self) -> str:
        """A few lines stating the design, printed above the results."""
        return (
            f"design: 2 arms x {self.units_per_arm_per_day:,} units/day x {self.days} days "
            f"({self.units_per_arm:,} units per arm), baseline conversion "
            f"{self.baseline_conversion:.0%}, alpha {self.alpha} two-sided\n"
            f"sequential mode: mixture SPRT, always-valid p-value, "
            f"tau^2 = tuned_tau_sq(planned_units={self.planned_units:,})\n"
            f"power at +{self.power_lift:.0%} conversion; coverage on A/B data with "
            f"+{self.coverage_conversion_lift:.0%} conversion and +{self.coverage_aov_lift:.0%} "
            f"average order value\n(orders per converted unit 1 + "
            f"Poisson({self.extra_orders_mean}), order values lognormal, "
            f"sigma {self.order_value_log_sigma})"
        )


@dataclass(frozen=True)
class Figure:
    """One measured figure with its target and verdict."""

    key: str
    name: str
    value: float
    target: str
    passed: bool | None  # None: reported for reference, no target


@dataclass(frozen=True)
class SequentialOutcome:
    """Per-experiment verdicts of peeking every day: rejected or not, and the stopping day."""

    rejected: np.ndarray
    stop_day: np.ndarray  # 1-based day of the first significant look; 0 when never significant


def binomial_band(n: int, p: float, level: float = BAND_LEVEL) -> tuple[float, float]:
    """Central `level` range of a binomial(n, p) proportion: where a rate estimated at p falls."""
    tail = (1.0 - level) / 2.0
    return float(sps.binom.ppf(tail, n, p)) / n, float(sps.binom.isf(tail, n, p)) / n


def simulate_daily_conversions(
    rng: np.random.Generator, n_experiments: int, design: Design, rate: float
) -> np.ndarray:
    """Cumulative converted units after each day, shape (experiments, days)."""
    daily = rng.binomial(design.units_per_arm_per_day, rate, size=(n_experiments, design.days))
    return np.cumsum(daily, axis=1)


def cumulative_units(design: Design) -> np.ndarray:
    """Units per arm after each day (equal, deterministic daily traffic)."""
    return design.units_per_arm_per_day * np.arange(1, design.days + 1)


def pooled_z_p_values(control: np.ndarray, variant: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Vectorised pooled two-proportion z-test p-values (the formula of compare_proportions)."""
    p_c, p_v = control / units, variant / units
    pooled = (control + variant) / (2.0 * units)
    se = np.sqrt(pooled * (1.0 - pooled) * 2.0 / units)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0.0, np.abs(p_v - p_c) / se, 0.0)
    return 2.0 * sps.norm.sf(z)


def fixed_horizon_p_values(
    control: np.ndarray, variant: np.ndarray, units: int, alpha: float
) -> np.ndarray:
    """p-values of compare_proportions at the horizon, one per experiment."""
    return np.array(
        [
            compare_proportions(int(c), units, int(v), units, alpha=alpha).p_value
            for c, v in zip(control, variant, strict=True)
        ]
    )


def naive_peeking(
    control: np.ndarray, variant: np.ndarray, design: Design, horizon_p: np.ndarray
) -> SequentialOutcome:
    """Peek every day with the fixed-horizon z-test; stop at the first p < alpha."""
    p_values = pooled_z_p_values(control, variant, cumulative_units(design))
    if not np.allclose(p_values[:, -1], horizon_p, rtol=1e-9, atol=1e-12):
        raise AssertionError("vectorised z-test disagrees with compare_proportions")
    return _first_rejection(p_values < design.alpha)


def sequential_peeking(
    control: np.ndarray,
    variant: np.ndarray,
    design: Design,
    planned_units: int | None = None,
) -> SequentialOutcome:
    """Peek every day with the always-valid p-value; stop at the first p < alpha."""
    planned = design.planned_units if planned_units is None else planned_units
    units = cumulative_units(design)
    significant = np.zeros(control.shape, dtype=bool)
    for row in range(control.shape[0]):
        for look in range(design.days):
            p = _always_valid_look(
                int(control[row, look]), int(variant[row, look]), int(units[look]), design, planned
            )
            if p < design.alpha:
                significant[row, look] = True
                break
    return _first_rejection(significant)


def _always_valid_look(
    control: int, variant: int, units: int, design: Design, planned_units: int
) -> float:
    p_c, p_v = control / units, variant / units
    variance = (p_c * (1.0 - p_c) + p_v * (1.0 - p_v)) / units
    if variance <= 0.0:
        return 1.0
    tau_sq = tuned_tau_sq(variance, 2 * units, alpha=design.alpha, planned_units=planned_units)
    return always_valid_p_value(p_v - p_c, variance, tau_sq=tau_sq)


def _first_rejection(significant: np.ndarray) -> SequentialOutcome:
    rejected = significant.any(axis=1)
    stop_day = np.where(rejected, significant.argmax(axis=1) + 1, 0)
    return SequentialOutcome(rejected=rejected, stop_day=stop_day)


def simulate_arm_sums(
    rng: np.random.Generator, n_experiments: int, design: Design, rate: float, aov_factor: float
) -> tuple[np.ndarray, list[RatioStats]]:
    """Converted units and per-unit order sums of one arm at the horizon, per experiment.

    A converted unit places 1 + Poisson(extra_orders_mean) orders, each of lognormal value
    (scaled by `aov_factor`); other units have no orders. Only converted units are drawn; the
    rest contribute zeros to every sum.
    """
    n = design.units_per_arm
    converted = rng.binomial(n, rate, size=n_experiments)
    unit_experiment = np.repeat(np.arange(n_experiments), converted)
    orders = 1 + rng.poisson(design.extra_orders_mean, size=unit_experiment.size)
    order_unit = np.repeat(np.arange(orders.size), orders)
    values = aov_factor * rng.lognormal(
        design.order_value_log_mean, design.order_value_log_sigma, size=order_unit.size
    )
    revenue = np.bincount(order_unit, weights=values, minlength=orders.size)
    orders_f = orders.astype(float)

    def per_experiment(weights: np.ndarray) -> np.ndarray:
        return np.bincount(unit_experiment, weights=weights, minlength=n_experiments)

    sums = zip(
        per_experiment(revenue),
        per_experiment(revenue**2),
        per_experiment(orders_f),
        per_experiment(orders_f**2),
        per_experiment(revenue * orders_f),
        strict=True,
    )
    return converted, [RatioStats(n, *map(float, row)) for row in sums]


def coverage(rng: np.random.Generator, n_experiments: int, design: Design) -> tuple[float, float]:
    """Shares of 95%-style (1 - alpha) relative-uplift intervals covering the true effect.

    Returns (conversion coverage from compare_proportions, AOV coverage from compare_ratios).
    """
    conversion_lift, aov_lift = design.coverage_conversion_lift, design.coverage_aov_lift
    variant_rate = design.baseline_conversion * (1.0 + conversion_lift)
    covered_conversion = covered_aov = 0
    for start in range(0, n_experiments, _BATCH):
        size = min(_BATCH, n_experiments - start)
        control_conv, control_sums = simulate_arm_sums(
            rng, size, design, design.baseline_conversion, 1.0
        )
        variant_conv, variant_sums = simulate_arm_sums(
            rng, size, design, variant_rate, 1.0 + aov_lift
        )
        n = design.units_per_arm
        for i in range(size):
            conv = compare_proportions(
                int(control_conv[i]), n, int(variant_conv[i]), n, alpha=design.alpha
            )
            aov = compare_ratios(control_sums[i], variant_sums[i], alpha=design.alpha)
            covered_conversion += _covers(conv.relative_ci, conversion_lift)
            covered_aov += _covers(aov.relative_ci, aov_lift)
    return covered_conversion / n_experiments, covered_aov / n_experiments


def _covers(interval: Interval | None, truth: float) -> bool:
    return interval is not None and interval.low <= truth <= interval.high


def run_study(n_experiments: int, seed: int, design: Design | None = None) -> list[Figure]:
    """Simulate everything and return the figures in table order."""
    design = design or Design()
    aa_rng, ab_rng, coverage_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    base, lifted = design.baseline_conversion, design.baseline_conversion * (1 + design.power_lift)
    n, alpha = design.units_per_arm, design.alpha

    aa_control = simulate_daily_conversions(aa_rng, n_experiments, design, base)
    aa_variant = simulate_daily_conversions(aa_rng, n_experiments, design, base)
    aa_horizon_p = fixed_horizon_p_values(aa_control[:, -1], aa_variant[:, -1], n, alpha)
    fixed_fpr = float(np.mean(aa_horizon_p < alpha))
    naive_fpr = float(naive_peeking(aa_control, aa_variant, design, aa_horizon_p).rejected.mean())
    sequential_fpr = float(sequential_peeking(aa_control, aa_variant, design).rejected.mean())

    ab_control = simulate_daily_conversions(ab_rng, n_experiments, design, base)
    ab_variant = simulate_daily_conversions(ab_rng, n_experiments, design, lifted)
    ab_horizon_p = fixed_horizon_p_values(ab_control[:, -1], ab_variant[:, -1], n, alpha)
    fixed_power = float(np.mean(ab_horizon_p < alpha))
    sequential = sequential_peeking(ab_control, ab_variant, design)
    sequential_power = float(sequential.rejected.mean())
    mean_stop_day = float(sequential.stop_day[sequential.rejected].mean())

    conversion_coverage, aov_coverage = coverage(coverage_rng, n_experiments, design)
    return _figures(
        n_experiments,
        alpha,
        fixed_fpr=fixed_fpr,
        naive_fpr=naive_fpr,
        sequential_fpr=sequential_fpr,
        fixed_power=fixed_power,
        sequential_power=sequential_power,
        mean_stop_day=mean_stop_day,
        conversion_coverage=conversion_coverage,
        aov_coverage=aov_coverage,
    )


def _figures(n_experiments: int, alpha: float, **measured: float) -> list[Figure]:
    low, high = binomial_band(n_experiments, alpha)
    band = f"in [{low:.2%}, {high:.2%}] (99.9% band at {alpha:.0%})"
    # key, label, target, check (None: reported without a target)
    rows: list[tuple[str, str, str, Callable[[float], bool] | None]] = [
        ("fixed_fpr", "A/A FPR, fixed horizon (day 30)", band, lambda v: low <= v <= high),
        ("naive_fpr", "A/A FPR, daily peeking, z-test", "20%-35% (inflated)",
         lambda v: 0.20 <= v <= 0.35),
        ("sequential_fpr", "A/A FPR, daily peeking, sequential", f"<= {alpha:.0%}",
         lambda v: v <= alpha),
        ("fixed_power", "power +15%, fixed horizon (day 30)", ">= 80%", lambda v: v >= 0.80),
        ("sequential_power", "power +15%, daily peeking, sequential", ">= 80%",
         lambda v: v >= 0.80),
        ("mean_stop_day", "  mean stopping day when significant", "reported", None),
        ("conversion_coverage", "coverage, relative uplift conversion", ">= 94%",
         lambda v: v >= 0.94),
        ("aov_coverage", "coverage, relative uplift AOV (ratio)", ">= 94%", lambda v: v >= 0.94),
    ]  # fmt: skip
    return [
        Figure(key, label, measured[key], target, None if check is None else check(measured[key]))
        for key, label, target, check in rows
    ]


def format_table(figures: Sequence[Figure]) -> str:
    """Markdown table: figure, value, target, verdict."""
    rows = ["| figure | value | target | verdict |", "|---|---|---|---|"]
    for figure in figures:
        value = f"{figure.value:.1f}" if figure.passed is None else f"{figure.value:.2%}"
        verdict = "-" if figure.passed is None else ("PASS" if figure.passed else "FAIL")
        rows.append(f"| {figure.name} | {value} | {figure.target} | {verdict} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None, clock: Callable[[], float] = time.perf_counter) -> int:
    """Run the study, print the design, the table and the wall time; exit 1 on any FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    design = Design()
    started = clock()
    figures = run_study(args.experiments, args.seed, design)
    elapsed = clock() - started
    print(design.describe())
    print(f"experiments: {args.experiments:,} per figure, seed {args.seed}\n")
    print(format_table(figures))
    print(f"\nwall time: {elapsed:.1f} s")
    return 0 if all(figure.passed is not False for figure in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
