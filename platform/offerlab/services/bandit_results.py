"""Bandit results that survive changing allocation, from an experiment's SQL totals.

Pure functions (no session): totals per allocation epoch, per propensity cell and per slice in,
`BanditResults` out. The reward of a unit follows the bandit's own objective
(`services.bandits.arm_stats`): conversion (0/1), accepted offer value, order value net of
refunds, or accepted offer value times the variant's margin.

* Epoch-weighted means come from the totals per allocation epoch; units whose first exposure has
  no allocation version are left out of them.
* Inverse-propensity-weighted (Hajek) means come from cells in which the propensity is constant:
  each (allocation version, recorded probability) cell becomes one `EpochArmSums` with a
  synthetic epoch id. Exposures without a recorded probability take their epoch's served weight
  for their variant (right for every visitor a plain or measurement-free epoch served; a
  per-segment epoch served some of them other weights); exposures with neither are left out and
  counted.
* The headline uplift is the IPW difference of the best variant over the control; it falls back
  to the epoch-weighted difference when no exposure has a usable propensity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sps

from offerlab.domain.bandits.estimates import (
    ArmEstimate,
    EpochArmSums,
    epoch_weighted_difference,
    epoch_weighted_means,
    ipw_difference,
    ipw_means,
)
from offerlab.domain.model import Experiment, Objective
from offerlab.domain.reports import (
    AllocationEpoch,
    BanditArm,
    BanditResults,
    BanditUplift,
    Comparison,
    EstimateInterval,
    Interval,
    MeasurementGain,
)
from offerlab.domain.stats.frequentist import MeanStats, compare_means
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.services.bandits import arm_stats

IPW = "ipw"
EPOCH_WEIGHTED = "epoch_weighted"

Estimator = Callable[..., dict[str, ArmEstimate]]


@dataclass(frozen=True)
class BanditTotals:
    """What the bandit results are computed from (all keyed as `grouped_totals` returns them)."""

    by_variant: Mapping[str, VariantTotals]
    by_epoch: Mapping[tuple[str, Any], VariantTotals]
    by_propensity: Mapping[tuple[str, Any], VariantTotals]
    learning_by_variant: Mapping[str, VariantTotals]
    history: Sequence[AllocationEpoch]


@dataclass(frozen=True)
class PropensityCells:
    """IPW cells, and the units that used a served weight or had no propensity at all."""

    cells: tuple[EpochArmSums, ...]
    units_with_served_weight: int
    units_left_out: int


def reward_sums(experiment: Experiment, totals: VariantTotals) -> MeanStats:
    """Units, sum and sum of squares of the per-unit reward the bandit maximises."""
    stats = arm_stats(experiment, {totals.variant: totals}, {})
    arm = next(s for s in stats if s.arm == totals.variant)
    if Objective(experiment.objective.reward) is Objective.CONVERSION:
        return MeanStats(arm.units, float(arm.successes), float(arm.successes))
    return MeanStats(arm.units, arm.value_sum, arm.value_sum_sq)


def bandit_results(experiment: Experiment, totals: BanditTotals) -> BanditResults:
    """Every variant's reward per unit (three estimators), the headline uplift, the slice gain."""
    alpha = experiment.alpha
    epoch_cells = epoch_arm_sums(experiment, totals.by_epoch)
    propensity = propensity_arm_sums(experiment, totals.by_propensity, totals.history)
    weighted = _estimates(epoch_weighted_means, epoch_cells, alpha)
    ipw = _estimates(ipw_means, propensity.cells, alpha)
    pooled = _pooled_means(experiment, totals.by_variant)
    headline = IPW if experiment.control in ipw else EPOCH_WEIGHTED
    best = _best(ipw if headline == IPW else weighted)
    challenger = _best(ipw if headline == IPW else weighted, leave_out=experiment.control)
    uplift = None
    if challenger is not None:
        uplift = _uplift(challenger, experiment, epoch_cells, propensity.cells, pooled, headline)
    return BanditResults(
        reward=experiment.objective.reward,
        headline=headline,
        interval_level=1.0 - alpha,
        arms=tuple(
            BanditArm(
                variant=key,
                units=_units(totals.by_variant, key),
                epoch_weighted=_interval(weighted.get(key)),
                ipw=_interval(ipw.get(key)),
                pooled=pooled.get(key),
            )
            for key in _variant_keys(experiment)
        ),
        best_variant=best,
        uplift=uplift,
        epochs_used=usable_epochs(epoch_cells),
        units_with_served_weight=propensity.units_with_served_weight,
        units_left_out=propensity.units_left_out,
        measurement=measurement_gain(
            experiment, totals.by_variant, totals.learning_by_variant, best_variant=best
        ),
    )


def epoch_arm_sums(
    experiment: Experiment, by_epoch: Mapping[tuple[str, Any], VariantTotals]
) -> list[EpochArmSums]:
    """One cell per (allocation version, variant); units without a version are left out."""
    keys = set(_variant_keys(experiment))
    cells = []
    for (variant, version), totals in sorted(by_epoch.items(), key=_cell_order):
        if version is None or variant not in keys or totals.units == 0:
            continue
        reward = reward_sums(experiment, totals)
        # Epoch weighting never reads the propensity; 1.0 only satisfies the cell's check.
        cells.append(EpochArmSums(int(version), variant, reward.n, reward.sum, reward.sum_sq, 1.0))
    return cells


def propensity_arm_sums(
    experiment: Experiment,
    by_propensity: Mapping[tuple[str, Any], VariantTotals],
    history: Sequence[AllocationEpoch],
) -> PropensityCells:
    """One IPW cell per (allocation version, probability, variant), see the module doc."""
    served = {epoch.version: epoch.weights for epoch in history}
    keys = set(_variant_keys(experiment))
    synthetic: dict[tuple[Any, float], int] = {}
    cells: list[EpochArmSums] = []
    with_served_weight = left_out = 0
    for (variant, (version, probability)), totals in sorted(by_propensity.items(), key=_cell_order):
        if totals.units == 0:
            continue
        if variant in keys and probability is None:
            probability = _served_weight(served, version, variant)
            with_served_weight += totals.units if probability is not None else 0
        if variant not in keys or probability is None or not 0.0 < probability <= 1.0:
            left_out += totals.units
            continue
        epoch = synthetic.setdefault((version, probability), len(synthetic))
        reward = reward_sums(experiment, totals)
        cells.append(EpochArmSums(epoch, variant, reward.n, reward.sum, reward.sum_sq, probability))
    return PropensityCells(tuple(cells), with_served_weight, left_out)


def usable_epochs(cells: Iterable[EpochArmSums]) -> tuple[int, ...]:
    """The epochs epoch weighting uses: every arm present there with at least 2 units."""
    units: dict[int, dict[str, int]] = defaultdict(dict)
    for cell in cells:
        units[cell.epoch][cell.arm] = cell.units
    arms = {arm for by_arm in units.values() for arm in by_arm}
    return tuple(
        sorted(
            epoch
            for epoch, by_arm in units.items()
            if set(by_arm) == arms and min(by_arm.values()) >= 2
        )
    )


def measurement_gain(
    experiment: Experiment,
    by_variant: Mapping[str, VariantTotals],
    learning_by_variant: Mapping[str, VariantTotals],
    *,
    best_variant: str | None,
) -> MeasurementGain | None:
    """Learning slice against the measurement slice (all units minus the learning ones)."""
    learning = {key: _reward_or_none(experiment, learning_by_variant, key) for key in by_variant}
    measured = {
        key: _minus(reward_sums(experiment, totals), learning[key])
        for key, totals in by_variant.items()
    }
    measurement_units = sum(stats.n for stats in measured.values())
    if measurement_units == 0:
        return None
    learning_pooled = _pooled(stats for stats in learning.values() if stats is not None)
    measured_pooled = _pooled(measured.values())
    metric = f"{experiment.objective.reward}_per_unit"
    gain = _welch(measured_pooled, learning_pooled, experiment.alpha, metric)
    control = measured.get(experiment.control)
    best_vs_control = None
    if best_variant and best_variant != experiment.control and control is not None:
        best = measured.get(best_variant, MeanStats(0, 0.0, 0.0))
        best_vs_control = _welch(control, best, experiment.alpha, metric)
    return MeasurementGain(
        learning_units=learning_pooled.n,
        measurement_units=measurement_units,
        gain=gain,
        best_variant=best_variant,
        best_vs_control=best_vs_control,
    )


def _uplift(
    variant: str,
    experiment: Experiment,
    epoch_cells: Sequence[EpochArmSums],
    ipw_cells: Sequence[EpochArmSums],
    pooled: Mapping[str, float],
    headline: str,
) -> BanditUplift:
    control, alpha = experiment.control, experiment.alpha
    weighted = _difference(epoch_weighted_difference, epoch_cells, variant, control, alpha)
    ipw = _difference(ipw_difference, ipw_cells, variant, control, alpha)
    lead = ipw if headline == IPW else weighted
    p_value = _p_value(lead)
    naive = None
    if variant in pooled and control in pooled:
        naive = pooled[variant] - pooled[control]
    return BanditUplift(
        variant=variant,
        control=control,
        epoch_weighted=weighted,
        ipw=ipw,
        pooled=naive,
        p_value=p_value,
        significant=p_value is not None and p_value < alpha,
    )


def _estimates(
    estimator: Estimator, cells: Sequence[EpochArmSums], alpha: float
) -> dict[str, ArmEstimate]:
    if not cells:
        return {}
    try:
        return estimator(cells, alpha=alpha)
    except ValueError:  # no epoch with every arm twice: the estimate does not exist yet
        return {}


def _difference(
    difference: Callable[..., ArmEstimate],
    cells: Sequence[EpochArmSums],
    variant: str,
    control: str,
    alpha: float,
) -> EstimateInterval | None:
    arms = {cell.arm for cell in cells}
    if variant not in arms or control not in arms:
        return None
    try:
        return _interval(difference(cells, variant, control, alpha=alpha))
    except (ValueError, KeyError):  # an arm missing from every usable epoch
        return None


def _interval(estimate: ArmEstimate | None) -> EstimateInterval | None:
    if estimate is None:
        return None
    return EstimateInterval(
        estimate.estimate, estimate.standard_error, Interval(estimate.lower, estimate.upper)
    )


def _p_value(estimate: EstimateInterval | None) -> float | None:
    if estimate is None or estimate.standard_error <= 0.0:
        return None
    return 2.0 * float(sps.norm.sf(abs(estimate.estimate) / estimate.standard_error))


def _best(estimates: Mapping[str, ArmEstimate], *, leave_out: str | None = None) -> str | None:
    candidates = {arm: e.estimate for arm, e in estimates.items() if arm != leave_out}
    return max(sorted(candidates), key=candidates.__getitem__, default=None)


def _pooled_means(
    experiment: Experiment, by_variant: Mapping[str, VariantTotals]
) -> dict[str, float]:
    means = {}
    for key, totals in by_variant.items():
        reward = reward_sums(experiment, totals) if key in _variant_keys(experiment) else None
        if reward is not None and reward.n > 0:
            means[key] = reward.sum / reward.n
    return means


def _variant_keys(experiment: Experiment) -> list[str]:
    others = [v.key for v in experiment.variants if v.key != experiment.control]
    return [experiment.control, *others]


def _units(by_variant: Mapping[str, VariantTotals], key: str) -> int:
    totals = by_variant.get(key)
    return totals.units if totals else 0


def _served_weight(
    served: Mapping[int, Mapping[str, float]], version: Any, variant: str
) -> float | None:
    weight = served.get(version, {}).get(variant) if version is not None else None
    return float(weight) if weight is not None and weight > 0.0 else None


def _reward_or_none(
    experiment: Experiment, by_variant: Mapping[str, VariantTotals], key: str
) -> MeanStats | None:
    totals = by_variant.get(key)
    return reward_sums(experiment, totals) if totals is not None else None


def _minus(whole: MeanStats, part: MeanStats | None) -> MeanStats:
    if part is None:
        return whole
    # Subtracting sums of squares can leave rounding noise below 0.
    return MeanStats(whole.n - part.n, whole.sum - part.sum, max(whole.sum_sq - part.sum_sq, 0.0))


def _pooled(samples: Iterable[MeanStats]) -> MeanStats:
    n, total, squares = 0, 0.0, 0.0
    for sample in samples:
        n, total, squares = n + sample.n, total + sample.sum, squares + sample.sum_sq
    return MeanStats(n, total, squares)


def _welch(control: MeanStats, variant: MeanStats, alpha: float, metric: str) -> Comparison:
    try:
        return compare_means(control, variant, alpha=alpha, metric=metric)
    except ValueError:  # sums inconsistent after subtraction: report the means only
        return Comparison(metric, _mean(control), _mean(variant))


def _mean(sample: MeanStats) -> float | None:
    return sample.sum / sample.n if sample.n else None


def _cell_order(item: tuple[tuple[str, Any], VariantTotals]) -> tuple[str, str]:
    return item[0][0], repr(item[0][1])
