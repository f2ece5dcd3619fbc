"""The allocation life cycle of a bandit experiment: from per-arm statistics to the next weights.

``next_allocation`` applies these rules, in this order, at every update:

1. **Posterior summaries.** Probability of being best and expected loss of every arm come from
   joint posterior draws of the objective's reward (``posteriors.sample_rewards``), whatever the
   policy, so stopping means the same for every policy.
2. **Burn-in.** Until every arm has ``burn_in_units`` units, the target is the fixed split.
3. **Winner.** After burn-in, ``winner_decision``: the best arm's chance to be best is at least
   ``chance_to_be_best_threshold`` and its expected loss at most ``expected_loss_threshold``.
   With ``auto_rollout`` all traffic then goes to the winner (one-hot weights; no floor, cap,
   holdout or measurement slice) and the phase is ``"winner"``; without it the phase is
   ``"winner"`` as a recommendation and allocation goes on.
4. **Policy weights** over the learning arms: every arm, or every arm but the control when a
   holdout is set. Thompson uses the probability of being best among the learning arms.
5. **Floor**: every arm gets at least ``min_share`` of all traffic (``floors.apply_floor``).
6. **Holdout**: with ``holdout_share`` h > 0 the control gets exactly h and the learning arms
   share 1 - h, so the control's share never moves.
7. **Cap**: the result may move no weight by more than ``max_weight_change`` from the previous
   learning weights (L-infinity). The move is shrunk as a whole, ``prev + lam * (target -
   prev)``, a convex combination, so the sum, the floors and the holdout all still hold. The
   previous weights are first given the same floor and holdout.
8. **Measurement slice**: a share m of traffic is split uniformly by the caller, with a separate
   hash, and never used for learning. ``learning_weights`` are the weights for the rest and
   ``weights = (1 - m) * learning_weights + m / k`` is the overall chance of each arm, the
   propensity to record on every exposure. The control's overall share under a holdout is then
   ``(1 - m) h + m / k``, constant over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from offerlab.domain.bandits.arms import ArmArrays, ArmStats, RewardObjective
from offerlab.domain.bandits.floors import apply_floor
from offerlab.domain.bandits.policies import (
    PolicyName,
    epsilon_greedy_weights,
    fixed_split,
    ucb1_weights,
)
from offerlab.domain.bandits.posteriors import expected_loss, probability_best, sample_rewards
from offerlab.domain.bandits.settings import AllocationSettings

BURN_IN = "burn_in"
LEARNING = "learning"
WINNER = "winner"


@dataclass(frozen=True)
class AllocationDecision:
    """The next weights of an experiment and the evidence behind them (arms in input order)."""

    weights: tuple[float, ...]
    learning_weights: tuple[float, ...]
    probability_best: tuple[float, ...]
    expected_loss: tuple[float, ...]
    phase: str
    winner: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class WinnerDecision:
    """Whether an arm may be declared the winner, and why (or why not)."""

    winner: str | None
    reasons: tuple[str, ...]


def next_allocation(
    stats: Sequence[ArmStats] | ArmArrays,
    previous_weights: Sequence[float],
    settings: AllocationSettings,
    control_index: int,
    rng: np.random.Generator,
    *,
    arms: Sequence[str] | None = None,
) -> AllocationDecision:
    """Next allocation following the rules in the module docstring.

    ``previous_weights`` are the previous decision's ``learning_weights`` (empty for the first
    allocation: no cap then). ``arms`` names the arms when ``stats`` is columnar.
    """
    arrays = stats if isinstance(stats, ArmArrays) else ArmArrays.of(stats)
    names = tuple(arms) if arms is not None else tuple(s.arm for s in stats)  # type: ignore[union-attr]
    _check_call(arrays, previous_weights, settings, control_index)
    samples = sample_rewards(
        arrays,
        objective=RewardObjective(settings.objective),
        prior_alpha=settings.prior_alpha,
        prior_beta=settings.prior_beta,
        draws=settings.draws,
        rng=rng,
    )
    chances = probability_best(samples)
    losses = expected_loss(samples, relative=settings.expected_loss_relative)
    in_burn_in = bool(np.any(arrays.units < settings.burn_in_units))
    evidence = (tuple(float(p) for p in chances), tuple(float(x) for x in losses))
    if in_burn_in:
        reasons = (f"burn-in: every arm needs {settings.burn_in_units} units",)
        target = _shape(np.ones(arrays.size), settings, control_index)
        return _decision(
            target, previous_weights, settings, control_index, evidence, BURN_IN, None, reasons
        )
    verdict = winner_decision(chances, losses, names, settings=settings)
    if verdict.winner is not None and settings.auto_rollout:
        rollout = tuple(1.0 if name == verdict.winner else 0.0 for name in names)
        return AllocationDecision(
            rollout, rollout, *evidence, WINNER, verdict.winner, verdict.reasons
        )
    raw = _policy_weights(arrays, samples, settings, control_index)
    target = _shape(raw, settings, control_index)
    phase = WINNER if verdict.winner is not None else LEARNING
    return _decision(
        target,
        previous_weights,
        settings,
        control_index,
        evidence,
        phase,
        verdict.winner,
        verdict.reasons,
    )


def winner_decision(
    chances: Sequence[float] | np.ndarray,
    losses: Sequence[float] | np.ndarray,
    arms: Sequence[str],
    *,
    settings: AllocationSettings,
) -> WinnerDecision:
    """Declare the arm most likely best when its chance and expected loss pass the thresholds."""
    best = int(np.argmax(chances))
    chance, loss = float(chances[best]), float(losses[best])
    kind = "relative" if settings.expected_loss_relative else "absolute"
    chance_ok = chance >= settings.chance_to_be_best_threshold
    loss_ok = loss <= settings.expected_loss_threshold
    reasons = (
        f"{arms[best]}: chance to be best {chance:.4f} "
        f"({'>=' if chance_ok else '<'} {settings.chance_to_be_best_threshold})",
        f"{arms[best]}: {kind} expected loss {loss:.6g} "
        f"({'<=' if loss_ok else '>'} {settings.expected_loss_threshold})",
    )
    return WinnerDecision(arms[best] if chance_ok and loss_ok else None, reasons)


def learning_arms(size: int, settings: AllocationSettings, control_index: int) -> np.ndarray:
    """Mask of the arms whose weight the policy sets (all but a held-out control)."""
    mask = np.ones(size, dtype=bool)
    if settings.holdout_share > 0:
        mask[control_index] = False
    return mask


def cap_change(previous: np.ndarray, target: np.ndarray, *, max_change: float | None) -> np.ndarray:
    """Move from ``previous`` towards ``target`` by at most ``max_change`` on any weight."""
    if max_change is None:
        return target
    largest = float(np.abs(target - previous).max())
    if largest <= max_change:
        return target
    result: np.ndarray = previous + (max_change / largest) * (target - previous)
    return result


def _policy_weights(
    arrays: ArmArrays, samples: np.ndarray, settings: AllocationSettings, control_index: int
) -> np.ndarray:
    mask = learning_arms(arrays.size, settings, control_index)
    subset = ArmArrays(
        arrays.units[mask],
        arrays.successes[mask],
        arrays.value_sum[mask],
        arrays.value_sum_sq[mask],
    )
    policy = PolicyName(settings.policy)
    if policy is PolicyName.THOMPSON:
        chosen = probability_best(samples[:, mask])
    elif policy is PolicyName.EPSILON_GREEDY:
        chosen = np.array(
            epsilon_greedy_weights(
                subset,
                objective=settings.objective,
                epsilon=settings.epsilon,
                decay=settings.epsilon_decay,
            )
        )
    elif policy is PolicyName.UCB1:
        chosen = np.array(ucb1_weights(subset, objective=settings.objective))
    else:
        chosen = np.array(fixed_split(subset))
    raw = np.zeros(arrays.size)
    raw[mask] = chosen
    return raw


def _shape(raw: np.ndarray, settings: AllocationSettings, control_index: int) -> np.ndarray:
    """Floor and holdout applied to raw non-negative weights (only learning arms are read)."""
    mask = learning_arms(raw.size, settings, control_index)
    share = 1.0 - settings.holdout_share if settings.holdout_share > 0 else 1.0
    learning = raw[mask]
    if learning.sum() <= 0:
        learning = np.ones(learning.size)
    floored = np.array(
        apply_floor(learning, min_share=min(settings.min_share / share, 1.0 / learning.size))
    )
    shaped = np.zeros(raw.size)
    shaped[mask] = share * floored
    if settings.holdout_share > 0:
        shaped[control_index] = settings.holdout_share
    return shaped


def _decision(
    target: np.ndarray,
    previous_weights: Sequence[float],
    settings: AllocationSettings,
    control_index: int,
    evidence: tuple[tuple[float, ...], tuple[float, ...]],
    phase: str,
    winner: str | None,
    reasons: tuple[str, ...],
) -> AllocationDecision:
    learning = target
    if len(previous_weights) > 0:
        previous = _shape(np.asarray(previous_weights, dtype=float), settings, control_index)
        learning = cap_change(previous, target, max_change=settings.max_weight_change)
    learning = learning / learning.sum()
    m = settings.measurement_share
    overall = (1.0 - m) * learning + m / learning.size
    return AllocationDecision(
        tuple(float(w) for w in overall),
        tuple(float(w) for w in learning),
        *evidence,
        phase,
        winner,
        reasons,
    )


def _check_call(
    arrays: ArmArrays,
    previous_weights: Sequence[float],
    settings: AllocationSettings,
    control_index: int,
) -> None:
    if not 0 <= control_index < arrays.size:
        raise ValueError("control_index must index one of the arms")
    if len(previous_weights) not in (0, arrays.size):
        raise ValueError("previous_weights must be empty or have one weight per arm")
    if settings.min_share * arrays.size > 1.0 + 1e-12:
        raise ValueError("min_share * number of variants must be <= 1")
    others = arrays.size - 1 if settings.holdout_share > 0 else arrays.size
    if settings.holdout_share > 0 and (
        others == 0 or settings.min_share * others > 1.0 - settings.holdout_share + 1e-12
    ):
        raise ValueError("the holdout leaves too little traffic for min_share on the other arms")
