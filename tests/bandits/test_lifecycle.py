"""The allocation life cycle: invariants as properties, and each rule's behaviour."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerlab.domain.bandits import (
    BURN_IN,
    LEARNING,
    WINNER,
    AllocationSettings,
    ArmStats,
    cap_change,
    next_allocation,
    winner_decision,
)

TOLERANCE = 1e-9


@st.composite
def situations(draw):
    k = draw(st.integers(2, 6))
    stats = []
    for i in range(k):
        units = draw(st.integers(0, 3000))
        successes = draw(st.integers(0, units))
        mean = draw(st.floats(0.0, 100.0))
        spread = draw(st.floats(0.0, 30.0))
        stats.append(
            ArmStats(
                f"arm{i}", units, successes, successes * mean, successes * (mean**2 + spread**2)
            )
        )
    holdout = draw(st.sampled_from([0.0, 0.1, 0.3]))
    min_share = draw(st.floats(0.0, 1.0)) * (1.0 - holdout) / k
    min_share = min(min_share, holdout) if holdout > 0 else min_share
    chosen = AllocationSettings(
        policy=draw(st.sampled_from(["fixed", "epsilon_greedy", "ucb1", "thompson"])),
        objective=draw(st.sampled_from(["conversion", "offer_revenue", "order_value", "margin"])),
        burn_in_units=draw(st.sampled_from([0, 100])),
        min_share=min_share,
        holdout_share=holdout,
        max_weight_change=draw(st.one_of(st.none(), st.floats(0.01, 0.5))),
        measurement_share=draw(st.sampled_from([0.0, 0.1])),
        epsilon_decay=draw(st.one_of(st.none(), st.just(5.0))),
        draws=200,
    )
    raw_previous = draw(st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k))
    control = draw(st.integers(0, k - 1))
    return stats, raw_previous, chosen, control


def _valid_previous(raw, chosen, control, stats):
    """Previous learning weights that an earlier call could have produced (floors, holdout)."""
    first = next_allocation(stats, [], chosen, control, np.random.default_rng(0))
    other_stats = [
        ArmStats(s.arm, 1000, round(1000 * r / sum(raw))) for s, r in zip(stats, raw, strict=True)
    ]
    other = next_allocation(other_stats, [], chosen, control, np.random.default_rng(1))
    return list(0.5 * np.asarray(first.learning_weights) + 0.5 * np.asarray(other.learning_weights))


@settings(max_examples=150, deadline=None)
@given(situation=situations(), seed=st.integers(0, 2**32 - 1))
def test_weights_sum_to_one_and_respect_floor_holdout_cap_and_measurement(situation, seed):
    stats, raw_previous, chosen, control = situation
    previous = _valid_previous(raw_previous, chosen, control, stats)
    decision = next_allocation(stats, previous, chosen, control, np.random.default_rng(seed))
    learning, overall = np.array(decision.learning_weights), np.array(decision.weights)
    k = len(stats)
    assert learning.sum() == pytest.approx(1.0, abs=TOLERANCE)
    assert overall.sum() == pytest.approx(1.0, abs=TOLERANCE)
    if decision.phase == WINNER and chosen.auto_rollout:
        return
    assert learning.min() >= chosen.min_share - TOLERANCE
    assert overall.min() >= chosen.min_share - TOLERANCE
    if chosen.holdout_share > 0:
        assert learning[control] == pytest.approx(chosen.holdout_share, abs=TOLERANCE)
    if chosen.max_weight_change is not None:
        assert np.abs(learning - previous).max() <= chosen.max_weight_change + TOLERANCE
    m = chosen.measurement_share
    assert overall == pytest.approx((1 - m) * learning + m / k, abs=TOLERANCE)
    assert sum(decision.probability_best) == pytest.approx(1.0, abs=TOLERANCE)


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=2, max_size=8),
    cap=st.floats(0.001, 1.0),
)
def test_cap_moves_no_weight_further_than_the_cap(data, cap):
    previous = np.array([p for p, _ in data]) + 1e-3
    target = np.array([t for _, t in data]) + 1e-3
    previous, target = previous / previous.sum(), target / target.sum()
    capped = cap_change(previous, target, max_change=cap)
    assert capped.sum() == pytest.approx(1.0, abs=TOLERANCE)
    assert np.abs(capped - previous).max() <= cap + TOLERANCE
    if np.abs(target - previous).max() <= cap:
        assert np.array_equal(capped, target)


def _clear_winner_stats():
    return [ArmStats("control", 20_000, 400), ArmStats("b", 20_000, 700)]


def test_burn_in_is_a_fixed_split_until_every_arm_has_enough_units():
    stats = [ArmStats("a", 5000, 500), ArmStats("b", 99, 1), ArmStats("c", 5000, 100)]
    chosen = AllocationSettings(burn_in_units=100)
    decision = next_allocation(stats, [], chosen, 0, np.random.default_rng(1))
    assert decision.phase == BURN_IN and decision.winner is None
    assert decision.weights == pytest.approx((1 / 3,) * 3)
    later = next_allocation(
        [*stats[:1], ArmStats("b", 100, 1), stats[2]], [], chosen, 0, np.random.default_rng(1)
    )
    assert later.phase != BURN_IN and later.weights[0] > 0.9


def test_holdout_keeps_the_control_share_while_the_rest_learns():
    stats = [ArmStats("control", 5000, 400), ArmStats("b", 5000, 100), ArmStats("c", 5000, 300)]
    chosen = AllocationSettings(holdout_share=0.2, min_share=0.05, draws=5000)
    decision = next_allocation(stats, [], chosen, 0, np.random.default_rng(2))
    # The control is best, yet its share stays 0.2; c (best of the rest) gets 0.8 - 0.05.
    assert decision.weights == pytest.approx((0.2, 0.05, 0.75), abs=1e-3)
    assert decision.probability_best[0] > 0.99


def test_measurement_slice_is_a_uniform_mixture():
    chosen = AllocationSettings(measurement_share=0.2, min_share=0.0, draws=5000)
    decision = next_allocation(_clear_winner_stats(), [], chosen, 0, np.random.default_rng(3))
    assert decision.learning_weights == pytest.approx((0.0, 1.0))
    assert decision.weights == pytest.approx((0.1, 0.9))


def test_cap_limits_one_update_from_the_previous_weights():
    chosen = AllocationSettings(max_weight_change=0.1, min_share=0.0, draws=5000)
    decision = next_allocation(
        _clear_winner_stats(), [0.5, 0.5], chosen, 0, np.random.default_rng(4)
    )
    assert decision.learning_weights == pytest.approx((0.4, 0.6))


def test_clear_winner_is_recommended_and_rolled_out_only_when_asked():
    stats = _clear_winner_stats()
    recommend = next_allocation(stats, [], AllocationSettings(), 0, np.random.default_rng(5))
    assert recommend.phase == WINNER and recommend.winner == "b"
    assert recommend.weights[0] == pytest.approx(0.01)  # still floored: a recommendation only
    rollout = AllocationSettings(auto_rollout=True)
    decided = next_allocation(stats, [], rollout, 0, np.random.default_rng(5))
    assert decided.weights == (0.0, 1.0) and decided.winner == "b"
    assert any("chance to be best" in reason for reason in decided.reasons)


def test_no_winner_while_expected_loss_is_above_the_threshold():
    stats = [ArmStats("a", 3000, 100), ArmStats("b", 3000, 112)]
    decision = next_allocation(stats, [], AllocationSettings(), 0, np.random.default_rng(6))
    assert decision.phase == LEARNING and decision.winner is None


@pytest.mark.parametrize(
    ("chances", "losses", "expected"),
    [
        ((0.02, 0.98), (0.3, 0.001), "b"),
        ((0.02, 0.98), (0.3, 0.02), None),  # loss above 0.01
        ((0.1, 0.9), (0.3, 0.001), None),  # chance below 0.95
        ((0.95, 0.05), (0.01, 0.2), "a"),  # both thresholds are inclusive
    ],
)
def test_winner_decision_needs_both_thresholds(chances, losses, expected):
    verdict = winner_decision(chances, losses, ("a", "b"), settings=AllocationSettings())
    assert verdict.winner == expected
    assert len(verdict.reasons) == 2


INVALID_SETTINGS = [
    ({"policy": "softmax"}, "policy must be one of fixed, epsilon_greedy, ucb1, thompson"),
    ({"objective": "clicks"}, "objective must be one of"),
    ({"burn_in_units": -1}, "burn_in_units must be an integer >= 0"),
    ({"draws": 0}, "draws must be an integer >= 1"),
    ({"draws": 1.5}, "draws must be an integer >= 1"),
    ({"min_share": 1.0}, "min_share must be >= 0 and < 1"),
    ({"holdout_share": -0.1}, "holdout_share must be >= 0 and < 1"),
    ({"measurement_share": 1.5}, "measurement_share must be >= 0 and <= 1"),
    ({"epsilon": True}, "epsilon must be >= 0 and <= 1"),
    ({"max_weight_change": 0.0}, "max_weight_change must be a positive finite number"),
    ({"epsilon_decay": math.inf}, "epsilon_decay must be a positive finite number"),
    ({"prior_alpha": 0}, "prior_alpha must be a positive finite number"),
    ({"prior_strength": -1.0}, "prior_strength must be a non-negative finite number"),
    ({"holdout_share": 0.02, "min_share": 0.05}, "holdout_share must be 0 or >= min_share"),
]


@pytest.mark.parametrize(("kwargs", "message"), INVALID_SETTINGS)
def test_invalid_settings_are_rejected_with_exact_messages(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        AllocationSettings(**kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0.5, 0.5], AllocationSettings(), 0), "previous_weights must be empty or have"),
        (([], AllocationSettings(), 3), "control_index must index one of the arms"),
        (([], AllocationSettings(min_share=0.4), 0), "min_share \\* number of variants"),
        (([], AllocationSettings(min_share=0.3, holdout_share=0.5), 0), "the holdout leaves"),
    ],
)
def test_invalid_calls_are_rejected(args, message):
    previous, chosen, control = args
    stats = [*_clear_winner_stats(), ArmStats("c", 100, 1)]
    with pytest.raises(ValueError, match=message):
        next_allocation(stats, previous, chosen, control, np.random.default_rng(0))
