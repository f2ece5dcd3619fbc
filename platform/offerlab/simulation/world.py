"""The simulated shop: true acceptance and values per arm, and the visitors of one seed.

Every policy of a run sees the same visitors with the same random draws (common random
numbers): visitor t accepts arm a when ``uniform[t] < acceptance(t, a)`` and, if so, takes a value
from arm a's distribution driven by the same ``normal[t]``. Differences between policies are then
due to their choices, not to luck in the outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerlab.domain.bandits import RewardObjective
from offerlab.simulation.scenario import ScenarioDefinition
from offerlab_sdk.bucketing import experiment_input, hash_uint32, measurement_input


@dataclass(frozen=True)
class Visitors:
    """One seed's visitors in arrival order, with everything that decides their outcomes."""

    salt: str
    hashes: list[int]
    measurement_hashes: list[int]
    segments: np.ndarray
    uniforms: np.ndarray
    normals: np.ndarray
    expected_conversion: np.ndarray
    expected_revenue: np.ndarray
    value_mu: np.ndarray
    value_sigma: np.ndarray

    @property
    def size(self) -> int:
        """Number of visitors (the horizon)."""
        return len(self.hashes)

    def expected_reward(self, objective: RewardObjective) -> np.ndarray:
        """Expected reward per visitor (rows) and arm (columns) for ``objective``."""
        return self.expected_revenue if objective.uses_value else self.expected_conversion

    def outcomes(self, rows: slice, arms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Acceptance (0/1) and value taken (0 when declined) of the visitors in ``rows``."""
        index = np.arange(rows.start, rows.stop)
        accepted = self.uniforms[rows] < self.expected_conversion[index, arms]
        mu, sigma = self.value_mu[index, arms], self.value_sigma[arms]
        value = np.where(np.isfinite(mu), np.exp(mu + sigma * self.normals[rows]), 0.0)
        return accepted.astype(np.int64), np.where(accepted, value, 0.0)


def make_visitors(scenario: ScenarioDefinition, seed: int) -> Visitors:
    """The visitors of ``seed``: hashes through the SDK, segments, draws and expected rewards."""
    rng = np.random.default_rng([seed, 2024])
    salt = f"{scenario.name}-{seed}"
    ids = [f"visitor-{t}" for t in range(scenario.horizon)]
    segments = _segments(scenario, rng)
    acceptance = _acceptance(scenario, segments)
    mean_value = _mean_values(scenario)
    sigma = np.array(
        [arm.value.sigma if arm.value.distribution == "lognormal" else 0.0 for arm in scenario.arms]
    )
    with np.errstate(divide="ignore"):
        value_mu = np.log(mean_value) - sigma**2 / 2.0
    return Visitors(
        salt=salt,
        hashes=[hash_uint32(experiment_input(salt, visitor)) for visitor in ids],
        measurement_hashes=[hash_uint32(measurement_input(v)) for v in ids],
        segments=segments,
        uniforms=rng.random(scenario.horizon),
        normals=rng.standard_normal(scenario.horizon),
        expected_conversion=acceptance,
        expected_revenue=acceptance * mean_value,
        value_mu=value_mu,
        value_sigma=sigma,
    )


def segment_names(scenario: ScenarioDefinition) -> tuple[str, ...]:
    """Names of the segment levels ("all" when the scenario has no segments)."""
    if scenario.segments is None:
        return ("all",)
    return tuple(level.name for level in scenario.segments.levels)


def _segments(scenario: ScenarioDefinition, rng: np.random.Generator) -> np.ndarray:
    if scenario.segments is None:
        return np.zeros(scenario.horizon, dtype=np.int64)
    shares = np.array([level.share for level in scenario.segments.levels])
    return rng.choice(shares.size, size=scenario.horizon, p=shares / shares.sum())


def _acceptance(scenario: ScenarioDefinition, segments: np.ndarray) -> np.ndarray:
    """True acceptance per visitor and arm: segment overrides, change and seasonality applied."""
    names = [arm.name for arm in scenario.arms]
    levels = scenario.segments.levels if scenario.segments else []
    base = np.array([[arm.acceptance for arm in scenario.arms]] * max(len(levels), 1))
    for row, level in enumerate(levels):
        for arm, rate in level.acceptance.items():
            base[row, names.index(arm)] = rate
    rates = base[segments]
    if scenario.change is not None:
        after = slice(scenario.change.at, None)
        for arm, rate in scenario.change.acceptance.items():
            rates[after, names.index(arm)] = rate
    if scenario.seasonality is not None:
        t = np.arange(scenario.horizon)
        cycle = 1.0 + scenario.seasonality.amplitude * np.sin(
            2 * np.pi * t / scenario.seasonality.period
        )
        rates = rates * cycle[:, None]
    return np.clip(rates, 0.0, 1.0)


def _mean_values(scenario: ScenarioDefinition) -> np.ndarray:
    """Mean value per visitor and arm (the change may move it part way through)."""
    names = [arm.name for arm in scenario.arms]
    means = np.tile(np.array([arm.value.mean for arm in scenario.arms]), (scenario.horizon, 1))
    if scenario.change is not None:
        for arm, mean in scenario.change.value_mean.items():
            means[scenario.change.at :, names.index(arm)] = mean
    return means
