"""The simulation study in benchmarks/aa_study.py: its building blocks and its figures.

Bands are 99.9% binomial ranges for the number of simulated experiments: a correct method lands
outside one with probability 0.001 (0.0005 for a one-sided bound).
"""

from __future__ import annotations

import importlib.util
import math
import pathlib
import sys
import time

import numpy as np
import pytest
from scipy import stats as sps

from offerlab.domain.stats.frequentist import compare_proportions

ROOT = pathlib.Path(__file__).resolve().parents[2]
STUDY_EXPERIMENTS = 2_000
STUDY_SEED = 20_261_125
TAIL = 0.0005  # each side of a 99.9% band


def _load_study():
    path = ROOT / "benchmarks" / "aa_study.py"
    spec = importlib.util.spec_from_file_location("aa_study", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the defining module up in sys.modules while the module executes.
    sys.modules["aa_study"] = module
    spec.loader.exec_module(module)
    return module


aa_study = _load_study()


def _lower(n: int, p: float) -> float:
    return float(sps.binom.ppf(TAIL, n, p)) / n


def _upper(n: int, p: float) -> float:
    return float(sps.binom.isf(TAIL, n, p)) / n


def _fixed_horizon_power(design) -> float:
    """Normal approximation of the pooled z-test's power (independent of the simulation)."""
    p_c = design.baseline_conversion
    p_v = p_c * (1.0 + design.power_lift)
    n = design.units_per_arm
    pooled = (p_c + p_v) / 2.0
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * 2.0 / n)
    se_true = math.sqrt((p_c * (1.0 - p_c) + p_v * (1.0 - p_v)) / n)
    z = float(sps.norm.isf(design.alpha / 2.0))
    diff = p_v - p_c
    return float(
        sps.norm.cdf((diff - z * se_pooled) / se_true)
        + sps.norm.cdf((-diff - z * se_pooled) / se_true)
    )


def test_binomial_band_is_the_central_binomial_range():
    low, high = aa_study.binomial_band(10_000, 0.05)
    assert (low, high) == (0.043, 0.0573)
    assert sps.binom.cdf(430 - 1, 10_000, 0.05) <= TAIL <= sps.binom.cdf(430, 10_000, 0.05)


def test_vectorised_z_test_matches_compare_proportions_at_every_look():
    design = aa_study.Design()
    rng = np.random.default_rng(7)
    control = aa_study.simulate_daily_conversions(rng, 20, design, 0.05)
    variant = aa_study.simulate_daily_conversions(rng, 20, design, 0.06)
    units = aa_study.cumulative_units(design)
    vectorised = aa_study.pooled_z_p_values(control, variant, units)
    for row in range(control.shape[0]):
        for look in range(design.days):
            n = int(units[look])
            reference = compare_proportions(
                int(control[row, look]), n, int(variant[row, look]), n, alpha=0.05
            ).p_value
            assert vectorised[row, look] == pytest.approx(reference, rel=1e-9, abs=1e-12)


def test_naive_peeking_refuses_horizon_p_values_it_does_not_reproduce():
    design = aa_study.Design()
    rng = np.random.default_rng(3)
    control = aa_study.simulate_daily_conversions(rng, 5, design, 0.05)
    variant = aa_study.simulate_daily_conversions(rng, 5, design, 0.05)
    with pytest.raises(AssertionError):
        aa_study.naive_peeking(control, variant, design, np.full(5, 0.5))


def test_arm_sums_have_the_simulated_moments():
    design = aa_study.Design()
    rng = np.random.default_rng(11)
    converted, sums = aa_study.simulate_arm_sums(rng, 200, design, 0.05, 1.05)
    n = design.units_per_arm
    assert all(s.n == n for s in sums)
    orders = np.array([s.den_sum for s in sums])
    revenue = np.array([s.num_sum for s in sums])
    # Every converted unit has at least one order, so Σy ≥ converted and Σy² ≥ Σy.
    assert np.all(orders >= converted)
    assert all(s.den_sum_sq >= s.den_sum for s in sums)
    # Orders per converted unit: 1 + Poisson(0.3); mean order value: 1.05 · exp(μ + σ²/2).
    # Over 200 experiments (~300,000 orders) both are within 1% of the truth.
    assert orders.sum() / converted.sum() == pytest.approx(1.0 + design.extra_orders_mean, rel=0.01)
    expected_value = 1.05 * math.exp(
        design.order_value_log_mean + design.order_value_log_sigma**2 / 2.0
    )
    assert revenue.sum() / orders.sum() == pytest.approx(expected_value, rel=0.01)
    assert converted.mean() == pytest.approx(0.05 * n, rel=0.01)


@pytest.mark.slow
def test_study_figures_at_2000_experiments():
    n = STUDY_EXPERIMENTS
    started = time.perf_counter()
    figures = {f.key: f.value for f in aa_study.run_study(n, STUDY_SEED)}
    elapsed = time.perf_counter() - started
    design = aa_study.Design()
    alpha = design.alpha

    # Fixed horizon: within the 99.9% band around 5% for n = 2,000 (about [3.4%, 6.7%]).
    assert _lower(n, alpha) <= figures["fixed_fpr"] <= _upper(n, alpha)
    # Daily peeking without correction inflates the error far beyond that band.
    assert figures["naive_fpr"] > _upper(n, alpha)
    assert 0.20 <= figures["naive_fpr"] <= 0.35
    # Sequential mode stays at or below 5% (one-sided 99.95% bound, about 6.7%).
    assert figures["sequential_fpr"] <= _upper(n, alpha)
    # Fixed-horizon power agrees with the closed form (≈ 98.3%) within its 99.9% band.
    reference_power = _fixed_horizon_power(design)
    assert _lower(n, reference_power) <= figures["fixed_power"] <= _upper(n, reference_power)
    # Sequential power is paid for with some loss against the fixed horizon, but stays >= 80%.
    assert _lower(n, 0.80) <= figures["sequential_power"] < figures["fixed_power"]
    assert 1.0 <= figures["mean_stop_day"] < design.days
    # Coverage of the 95% relative-uplift intervals: >= 94% (lower bound about 92.3%).
    assert figures["conversion_coverage"] >= _lower(n, 0.94)
    assert figures["aov_coverage"] >= _lower(n, 0.94)
    assert elapsed < 30.0
