"""Experiments, variants and allocation epochs: functions over a Session, domain objects out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from offerlab.domain.model import (
    AllocationKind,
    AnalysisSettings,
    BanditSettings,
    Correction,
    Experiment,
    ExperimentStatus,
    GuardrailSetting,
    Objective,
    OfferKind,
    PowerPlan,
    Variant,
)
from offerlab.domain.reports import AllocationEpoch
from offerlab.storage.tables import AllocationRow, ExperimentRow, VariantRow


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored moment is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_domain(row: ExperimentRow) -> Experiment:
    return Experiment(
        key=row.key,
        name=row.name,
        description=row.description,
        placement=row.placement,
        offer_kind=OfferKind(row.offer_kind),
        status=ExperimentStatus(row.status),
        unit=row.unit,
        traffic=row.traffic,
        variants=tuple(
            Variant(key=v.key, name=v.name, weight=v.weight, payload=v.payload or {})
            for v in row.variants
        ),
        control=row.control_key,
        allocation=AllocationKind(row.allocation),
        objective=Objective(row.objective),
        attribution_window_hours=row.attribution_window_hours,
        alpha=row.alpha,
        salt=row.salt,
        bandit=bandit_from_row(row),
        analysis=analysis_from_json(row.analysis),
    )


# Bandit settings beyond the two original columns live in the experiments.bandit_options JSON.
_BANDIT_COLUMNS = frozenset({"update_interval_seconds", "min_share"})


def bandit_options_to_json(settings: BanditSettings) -> dict[str, Any]:
    """The bandit settings kept in the experiments.bandit_options JSON column."""
    data = dataclasses.asdict(settings)
    return {name: value for name, value in data.items() if name not in _BANDIT_COLUMNS}


def bandit_from_row(row: ExperimentRow) -> BanditSettings:
    """The bandit settings from their two columns and the JSON (defaults for absent options)."""
    known = {f.name for f in dataclasses.fields(BanditSettings)} - _BANDIT_COLUMNS
    options = {k: v for k, v in (row.bandit_options or {}).items() if k in known}
    return BanditSettings(
        update_interval_seconds=row.bandit_update_interval_seconds,
        min_share=row.bandit_min_share,
        **options,
    )


def analysis_to_json(settings: AnalysisSettings) -> dict[str, Any]:
    """The analysis settings as stored in the experiments.analysis JSON column."""
    data = dataclasses.asdict(settings)
    data["correction"] = settings.correction.value
    data["segments"] = list(settings.segments)
    data["guardrails"] = [dataclasses.asdict(g) for g in settings.guardrails]
    return data


def analysis_from_json(data: Mapping[str, Any] | None) -> AnalysisSettings:
    if not data:
        return AnalysisSettings()
    power = data.get("power")
    return AnalysisSettings(
        correction=Correction(data.get("correction", Correction.HOLM.value)),
        sequential=bool(data.get("sequential", False)),
        planned_units=data.get("planned_units"),
        winsorize_percentile=data.get("winsorize_percentile"),
        order_value_cap=data.get("order_value_cap"),
        covariate=data.get("covariate"),
        segments=tuple(data.get("segments", ())),
        guardrails=tuple(GuardrailSetting(**g) for g in data.get("guardrails", ())),
        auto_pause_on_guardrail=bool(data.get("auto_pause_on_guardrail", False)),
        power=PowerPlan(**power) if power else None,
    )


def find_experiment_row(session: Session, key: str) -> ExperimentRow | None:
    return session.scalar(
        select(ExperimentRow)
        .where(ExperimentRow.key == key)
        .options(selectinload(ExperimentRow.variants))
    )


def find_experiment_id(session: Session, key: str) -> int | None:
    return session.scalar(select(ExperimentRow.id).where(ExperimentRow.key == key))


def experiment_ids(session: Session) -> dict[str, int]:
    """The id of every experiment, keyed by experiment key."""
    return {key: id_ for key, id_ in session.execute(select(ExperimentRow.key, ExperimentRow.id))}


def list_experiment_rows(session: Session) -> list[ExperimentRow]:
    return list(
        session.scalars(
            select(ExperimentRow)
            .options(selectinload(ExperimentRow.variants))
            .order_by(ExperimentRow.placement, ExperimentRow.created_at, ExperimentRow.key)
        )
    )


def list_experiments(session: Session) -> list[Experiment]:
    return [to_domain(row) for row in list_experiment_rows(session)]


def save_experiment(session: Session, experiment: Experiment, *, now: datetime) -> ExperimentRow:
    """Create or update the experiment; the salt of an existing experiment never changes."""
    row = find_experiment_row(session, experiment.key)
    if row is None:
        row = ExperimentRow(key=experiment.key, salt=experiment.effective_salt, created_at=now)
        session.add(row)
    elif experiment.salt:
        row.salt = experiment.salt
    _copy_fields(row, experiment, now)
    _replace_variants(row, experiment.variants)
    session.flush()
    return row


def _copy_fields(row: ExperimentRow, experiment: Experiment, now: datetime) -> None:
    row.name = experiment.name
    row.description = experiment.description
    row.placement = experiment.placement
    row.offer_kind = experiment.offer_kind.value
    row.status = experiment.status.value
    row.unit = experiment.unit
    row.traffic = experiment.traffic
    row.allocation = experiment.allocation.value
    row.objective = experiment.objective.value
    row.attribution_window_hours = experiment.attribution_window_hours
    row.alpha = experiment.alpha
    row.control_key = experiment.control
    row.bandit_update_interval_seconds = experiment.bandit.update_interval_seconds
    row.bandit_min_share = experiment.bandit.min_share
    row.bandit_options = bandit_options_to_json(experiment.bandit)
    row.analysis = analysis_to_json(experiment.analysis)
    row.updated_at = now


def _replace_variants(row: ExperimentRow, variants: Sequence[Variant]) -> None:
    existing = {variant.key: variant for variant in row.variants}
    updated = []
    for position, variant in enumerate(variants):
        variant_row = existing.get(variant.key) or VariantRow(key=variant.key)
        variant_row.position = position
        variant_row.name = variant.name
        variant_row.weight = variant.weight
        variant_row.payload = dict(variant.payload)
        updated.append(variant_row)
    row.variants = updated


def current_allocation(session: Session, experiment_id: int) -> AllocationRow | None:
    return session.scalar(
        select(AllocationRow)
        .where(AllocationRow.experiment_id == experiment_id)
        .order_by(AllocationRow.version.desc())
        .limit(1)
    )


def current_allocations(session: Session) -> dict[int, AllocationRow]:
    """The newest allocation epoch of every experiment, keyed by experiment id."""
    newest = (
        select(AllocationRow.experiment_id, func.max(AllocationRow.version).label("version"))
        .group_by(AllocationRow.experiment_id)
        .subquery()
    )
    rows = session.scalars(
        select(AllocationRow).join(
            newest,
            (AllocationRow.experiment_id == newest.c.experiment_id)
            & (AllocationRow.version == newest.c.version),
        )
    )
    return {row.experiment_id: row for row in rows}


def add_allocation(
    session: Session,
    experiment_id: int,
    weights: Mapping[str, float],
    *,
    now: datetime,
    reason: str,
    segment_weights: Mapping[str, Mapping[str, float]] | None = None,
) -> AllocationRow:
    """Start a new allocation epoch with `weights` (variant key -> share).

    ``segment_weights`` ({segment value: {variant key: share}}) serve the visitors of those
    segments of a contextual bandit; `weights` serve everyone else.
    """
    previous = current_allocation(session, experiment_id)
    row = AllocationRow(
        experiment_id=experiment_id,
        version=1 if previous is None else previous.version + 1,
        started_at=now,
        weights=dict(weights),
        reason=reason,
        segment_weights=(
            None
            if segment_weights is None
            else {segment: dict(shares) for segment, shares in segment_weights.items()}
        ),
    )
    session.add(row)
    session.flush()
    return row


def has_allocation_reason(session: Session, experiment_id: int, reason: str) -> bool:
    """True when some allocation epoch of the experiment was started for ``reason``."""
    found = session.scalar(
        select(AllocationRow.id)
        .where(AllocationRow.experiment_id == experiment_id, AllocationRow.reason == reason)
        .limit(1)
    )
    return found is not None


def allocation_history(session: Session, experiment_id: int) -> tuple[AllocationEpoch, ...]:
    """Every allocation epoch in version order, with the per-segment weights of contextual ones.

    An epoch without segment weights (or with an empty mapping) has ``segment_weights`` None.
    """
    rows = session.scalars(
        select(AllocationRow)
        .where(AllocationRow.experiment_id == experiment_id)
        .order_by(AllocationRow.version)
    )
    return tuple(
        AllocationEpoch(
            version=r.version,
            started_at=as_utc(r.started_at),
            weights=r.weights,
            segment_weights=r.segment_weights or None,
        )
        for r in rows
    )
