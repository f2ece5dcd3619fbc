"""Who chooses the arm for each visitor: an offerlab policy (through the SDK hashing) or the oracle.

A learner is asked for the arms of one batch of visitors, then told their outcomes. The runner
knows nothing else about it, so other libraries' bandits can be plugged in the same way.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from offerlab.domain.bandits import (
    POOLED_SEGMENT,
    WINNER,
    AllocationDecision,
    AllocationSettings,
    ArmStats,
    RewardObjective,
    next_allocation,
    segment_allocations,
)
from offerlab.simulation.world import Visitors
from offerlab_sdk.bucketing import (
    BASIS_POINTS,
    in_measurement_slice,
    index_for_hash,
    variant_bounds,
    weighted_bounds,
    weights_to_bp,
)


class Learner(Protocol):
    """Chooses arms for a batch of visitors and learns from their outcomes."""

    name: str
    winner: str | None
    winner_step: int | None

    def choose(self, visitors: Visitors, rows: slice) -> np.ndarray:
        """Arm index of every visitor in ``rows``."""
        ...

    def learn(
        self,
        visitors: Visitors,
        rows: slice,
        arms: np.ndarray,
        accepted: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """Take in the outcomes of the visitors in ``rows`` (who got ``arms``)."""
        ...


class OracleLearner:
    """Knows the truth: every visitor gets the arm with the best expected reward for them."""

    winner: str | None = None
    winner_step: int | None = None

    def __init__(self, objective: RewardObjective, name: str = "oracle") -> None:
        self.name = name
        self._objective = objective

    def choose(self, visitors: Visitors, rows: slice) -> np.ndarray:
        """The arm with the largest expected reward of each visitor."""
        chosen: np.ndarray = visitors.expected_reward(self._objective)[rows].argmax(axis=1)
        return chosen

    def learn(
        self,
        visitors: Visitors,
        rows: slice,
        arms: np.ndarray,
        accepted: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """Nothing to learn."""


class PolicyLearner:
    """An offerlab allocation policy, assigned through ``offerlab_sdk.bucketing`` from its weights.

    Visitors in the SDK's measurement slice (``in_measurement_slice`` of their measurement hash)
    get the SDK's exactly uniform split and are never used for learning. With a
    ``segment_attribute`` the weights are per segment (``contextual``); otherwise one set of
    weights for everyone.
    """

    def __init__(
        self,
        name: str,
        arms: tuple[str, ...],
        segments: tuple[str, ...],
        settings: AllocationSettings,
        control_index: int,
        rng: np.random.Generator,
    ) -> None:
        self.name = name
        self.winner: str | None = None
        self.winner_step: int | None = None
        self._arms, self._segments, self._settings = arms, segments, settings
        self._control, self._rng = control_index, rng
        self._contextual = settings.segment_attribute is not None
        k, s = len(arms), len(segments)
        self._units, self._successes = np.zeros((s, k)), np.zeros((s, k))
        self._value_sum, self._value_sum_sq = np.zeros((s, k)), np.zeros((s, k))
        self._previous: dict[str, tuple[float, ...]] = {}
        self._frozen = False
        self._seen = 0
        self._uniform_bounds = weighted_bounds((1,) * k, BASIS_POINTS)
        self._bounds = [variant_bounds(weights_to_bp([1.0 / k] * k), BASIS_POINTS)] * s
        self._measurement_bp = round(settings.measurement_share * BASIS_POINTS)
        self.decisions: list[AllocationDecision] = []
        self._update()

    def choose(self, visitors: Visitors, rows: slice) -> np.ndarray:
        """Each visitor's variant from the SDK hash of ``salt.visitor_id`` and the weights."""
        segments = visitors.segments[rows]
        chosen = np.empty(rows.stop - rows.start, dtype=np.int64)
        measured = self._measured(visitors, rows)
        for i, hash_value in enumerate(visitors.hashes[rows]):
            bounds = self._uniform_bounds if measured[i] else self._bounds[segments[i]]
            chosen[i] = index_for_hash(hash_value, bounds)
        return chosen

    def learn(
        self,
        visitors: Visitors,
        rows: slice,
        arms: np.ndarray,
        accepted: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """Add the learning visitors' outcomes, then compute the next allocation epoch."""
        self._seen += rows.stop - rows.start
        if self._frozen:
            return
        keep = ~self._measured(visitors, rows)
        cells = (visitors.segments[rows][keep], arms[keep])
        np.add.at(self._units, cells, 1.0)
        np.add.at(self._successes, cells, accepted[keep])
        np.add.at(self._value_sum, cells, values[keep])
        np.add.at(self._value_sum_sq, cells, values[keep] ** 2)
        self._update()

    def _measured(self, visitors: Visitors, rows: slice) -> np.ndarray:
        if self._measurement_bp == 0:
            return np.zeros(rows.stop - rows.start, dtype=bool)
        return np.array(
            [
                in_measurement_slice(h, self._measurement_bp)
                for h in visitors.measurement_hashes[rows]
            ]
        )

    def _update(self) -> None:
        if self._contextual:
            decisions = segment_allocations(
                {name: self._stats(i) for i, name in enumerate(self._segments)},
                self._previous,
                self._settings,
                self._control,
                self._rng,
            )
            pooled = decisions[POOLED_SEGMENT]
            per_segment = [decisions[name] for name in self._segments]
        else:
            pooled = next_allocation(
                self._stats(None),
                self._previous.get(POOLED_SEGMENT, ()),
                self._settings,
                self._control,
                self._rng,
            )
            decisions = {POOLED_SEGMENT: pooled}
            per_segment = [pooled] * len(self._segments)
        self._previous = {name: d.learning_weights for name, d in decisions.items()}
        self._bounds = [variant_bounds(weights_to_bp(d.weights), BASIS_POINTS) for d in per_segment]
        self.decisions.append(pooled)
        self._note_winner(pooled)

    def _note_winner(self, decision: AllocationDecision) -> None:
        if decision.phase != WINNER or self.winner_step is not None:
            return
        self.winner, self.winner_step = decision.winner, self._seen
        if self._settings.auto_rollout:
            self._frozen = True

    def _stats(self, segment: int | None) -> list[ArmStats]:
        rows = slice(None) if segment is None else slice(segment, segment + 1)
        columns = [
            a[rows].sum(axis=0)
            for a in (self._units, self._successes, self._value_sum, self._value_sum_sq)
        ]
        return [
            ArmStats(
                arm,
                int(columns[0][i]),
                int(columns[1][i]),
                float(columns[2][i]),
                float(columns[3][i]),
            )
            for i, arm in enumerate(self._arms)
        ]
