"""Pure views of a bandit experiment: its corrected estimates, the measurement-slice gain, the
winner recommendation from the audit log and the per-segment weights of contextual epochs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offerlab.domain.model import Experiment
from offerlab.domain.reports import (
    AllocationEpoch,
    AuditEntry,
    BanditResults,
    Comparison,
    EstimateInterval,
    ExperimentReport,
    MeasurementGain,
)
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards.significance import variant_names

ROLLOUT = "rollout"
WINNER_RECOMMENDED = "winner_recommended"
ESTIMATOR_LABELS = {
    "ipw": "inverse-propensity weighted (Hájek)",
    "epoch_weighted": "epoch-weighted",
}
_REWARD_LABELS = {
    "conversion": "offer conversion",
    "offer_revenue": "offer revenue per visitor",
    "order_value": "order value per visitor",
    "margin": "offer margin per visitor",
}

Formatter = Callable[[float | None], str]


@dataclass(frozen=True)
class BanditArmRow:
    name: str
    is_control: bool
    is_best: bool
    units: str
    epoch_weighted: str
    ipw: str
    pooled: str


@dataclass(frozen=True)
class BanditResultsView:
    """The arm table and the headline uplift by both estimators, with the pooled reference."""

    reward: str
    headline_estimator: str
    level: str
    rows: tuple[BanditArmRow, ...]
    uplift_variant: str | None
    uplift_ipw: str
    uplift_epoch_weighted: str
    uplift_pooled: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class MeasurementView:
    """What the bandit earned against its own uniform split, and the best arm in that split."""

    learning: str
    measurement: str
    gain: str
    gain_p_value: str
    best_name: str | None
    best_vs_control: str
    best_p_value: str
    units: str


@dataclass(frozen=True)
class RecommendationView:
    """The winner panel: `pending` is a recommendation not rolled out yet."""

    pending: bool
    variant: str
    variant_name: str
    when: str
    actor: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class SegmentWeightsView:
    """One segment value's weights in every epoch that served it its own weights."""

    segment: str
    variants: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]


def reward_formatters(reward: str) -> tuple[Formatter, Formatter]:
    """(value, difference) formatters: percent and points for conversion, money otherwise."""
    if reward == "conversion":
        return fmt.format_percent, fmt.format_signed_points
    return fmt.format_money, fmt.format_signed_money


def format_estimate(estimate: EstimateInterval | None, formatter: Formatter) -> str:
    """ "12.3% [10.1%, 14.5%]"; a dash when the estimate does not exist."""
    if estimate is None:
        return fmt.NO_VALUE
    interval = fmt.format_interval(estimate.ci, formatter)
    value = formatter(estimate.estimate)
    return value if interval == fmt.NO_VALUE else f"{value} {interval}"


def reward_label(reward: str) -> str:
    """Managers' name of a bandit reward: "offer_revenue" -> "offer revenue per visitor"."""
    return _REWARD_LABELS.get(reward, reward.replace("_", " "))


def bandit_results_view(report: ExperimentReport) -> BanditResultsView | None:
    """The bandit block of the page; None for fixed splits (and reports without one)."""
    bandit = report.bandit
    if bandit is None:
        return None
    names = variant_names(report)
    value, difference = reward_formatters(bandit.reward)
    uplift = bandit.uplift
    return BanditResultsView(
        reward=reward_label(bandit.reward),
        headline_estimator=ESTIMATOR_LABELS.get(bandit.headline, bandit.headline),
        level=fmt.format_level(bandit.interval_level),
        rows=tuple(
            BanditArmRow(
                name=names.get(arm.variant, arm.variant),
                is_control=arm.variant == report.experiment.control,
                is_best=arm.variant == bandit.best_variant,
                units=fmt.format_count(arm.units),
                epoch_weighted=format_estimate(arm.epoch_weighted, value),
                ipw=format_estimate(arm.ipw, value),
                pooled=value(arm.pooled),
            )
            for arm in bandit.arms
        ),
        uplift_variant=names.get(uplift.variant, uplift.variant) if uplift else None,
        uplift_ipw=format_estimate(uplift and uplift.ipw, difference),
        uplift_epoch_weighted=format_estimate(uplift and uplift.epoch_weighted, difference),
        uplift_pooled=difference(uplift and uplift.pooled),
        notes=_bandit_notes(bandit),
    )


def _bandit_notes(bandit: BanditResults) -> tuple[str, ...]:
    notes = []
    if bandit.units_with_served_weight:
        notes.append(
            f"{fmt.format_count(bandit.units_with_served_weight)} visitors were shown an offer "
            "without a recorded probability; their epoch's served weight stands in for it."
        )
    if bandit.units_left_out:
        notes.append(
            f"{fmt.format_count(bandit.units_left_out)} visitors have neither a probability nor "
            "an allocation epoch and are left out of both corrected estimates."
        )
    if bandit.arms and not bandit.epochs_used:
        notes.append("No epoch has two visitors on every variant yet: no epoch-weighted figures.")
    return tuple(notes)


def measurement_view(report: ExperimentReport) -> MeasurementView | None:
    """The measurement-slice panel; None without a bandit or without measured visitors."""
    gain = report.bandit.measurement if report.bandit else None
    if report.bandit is None or gain is None:
        return None
    value, difference = reward_formatters(report.bandit.reward)
    names = variant_names(report)
    best = gain.best_vs_control
    return MeasurementView(
        learning=value(gain.gain.variant_value),
        measurement=value(gain.gain.control_value),
        gain=_difference_text(gain.gain, difference),
        gain_p_value=fmt.format_p_value(gain.gain.p_value),
        best_name=names.get(gain.best_variant, gain.best_variant) if gain.best_variant else None,
        best_vs_control=_difference_text(best, difference),
        best_p_value=fmt.format_p_value(best.p_value if best else None),
        units=_slice_units(gain),
    )


def _difference_text(comparison: Comparison | None, difference: Formatter) -> str:
    if comparison is None:
        return fmt.NO_VALUE
    estimate = difference(comparison.absolute_uplift)
    interval = fmt.format_interval(comparison.absolute_ci, difference)
    if estimate == fmt.NO_VALUE or interval == fmt.NO_VALUE:
        return estimate
    return f"{estimate} {interval}"


def _slice_units(gain: MeasurementGain) -> str:
    return (
        f"{fmt.format_count(gain.learning_units)} visitors allocated by the bandit, "
        f"{fmt.format_count(gain.measurement_units)} in the uniform measurement slice"
    )


def recommendation_view(report: ExperimentReport) -> RecommendationView | None:
    """The latest roll-out, else the latest recommendation, from the audit log; else None."""
    entries = sorted(report.audit_log, key=lambda entry: entry.at, reverse=True)
    rollout = next((e for e in entries if e.action == ROLLOUT), None)
    recommended = next((e for e in entries if e.action == WINNER_RECOMMENDED), None)
    entry = rollout or recommended
    if entry is None or not isinstance(entry.details, Mapping):
        return None
    winner = str(entry.details.get("winner") or "")
    if not winner:
        return None
    return RecommendationView(
        pending=rollout is None,
        variant=winner,
        variant_name=variant_names(report).get(winner, winner),
        when=fmt.format_timestamp(entry.at),
        actor=str(entry.actor),
        evidence=evidence_lines(entry, report.experiment),
    )


def evidence_lines(entry: AuditEntry, experiment: Experiment) -> tuple[str, ...]:
    """Chance to be best and expected loss against the thresholds, and the visitors counted."""
    details, winner = entry.details, str(entry.details.get("winner"))
    bandit = experiment.bandit
    lines = []
    chance = _number(_of(details.get("chance_to_be_best"), winner))
    if chance is not None:
        needed = fmt.format_percent(bandit.chance_to_be_best_threshold)
        lines.append(f"Chance to be best: {fmt.format_percent(chance)} (needs at least {needed})")
    loss = _number(_of(details.get("expected_loss"), winner))
    if loss is not None:
        lines.append(
            f"Expected loss: {loss:.4g} (needs at most {bandit.expected_loss_threshold:g})"
        )
    units = details.get("units")
    if isinstance(units, Mapping):
        counts = [int(v) for v in units.values() if _number(v) is not None]
        winner_units = _number(units.get(winner))
        text = f"Visitors: {fmt.format_count(sum(counts))}"
        if winner_units is not None:
            text += f" ({fmt.format_count(int(winner_units))} on the winner)"
        lines.append(text)
    return tuple(lines)


def _of(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def segment_weights_views(report: ExperimentReport) -> tuple[SegmentWeightsView, ...]:
    """Per segment value, its weights in each epoch that had per-segment weights."""
    epochs = sorted(
        (e for e in report.allocation_history if e.segment_weights),
        key=lambda epoch: epoch.started_at,
    )
    if not epochs:
        return ()
    keys = [variant.key for variant in report.experiment.variants]
    names = variant_names(report)
    segments = sorted({segment for e in epochs for segment in e.segment_weights or {}})
    return tuple(
        SegmentWeightsView(
            segment=segment,
            variants=tuple(names.get(key, key) for key in keys),
            rows=_segment_rows(epochs, segment, keys),
        )
        for segment in segments
    )


def _segment_rows(
    epochs: Sequence[AllocationEpoch], segment: str, keys: Sequence[str]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    rows = []
    for epoch in epochs:
        weights = (epoch.segment_weights or {}).get(segment)
        if weights is None:
            continue
        label = f"Epoch {epoch.version} from {fmt.format_timestamp(epoch.started_at)}"
        rows.append((label, tuple(fmt.format_percent(weights.get(key)) for key in keys)))
    return tuple(rows)
