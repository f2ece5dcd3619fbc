"""Applying experiment definitions and changing an experiment's status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from offerlab.definitions.plan import Plan, plan_changes
from offerlab.domain.model import Experiment, ExperimentStatus
from offerlab.errors import Conflict, NotFound
from offerlab.storage import audit
from offerlab.storage import experiments as store


def apply_definitions(
    session: Session, desired: Sequence[Experiment], *, now: datetime, dry_run: bool = False
) -> Plan:
    """Write `desired` experiments idempotently; all or nothing when any change is refused."""
    current = {experiment.key: experiment for experiment in store.list_experiments(session)}
    plan = plan_changes(desired, current)
    if plan.refusals or dry_run:
        return plan
    by_key = {experiment.key: experiment for experiment in desired}
    for entry in plan.pending:
        experiment = entry.desired or by_key[entry.key]
        _write(session, experiment, now=now, created=entry.action == "create")
    return plan


def _write(session: Session, experiment: Experiment, *, now: datetime, created: bool) -> None:
    row = store.save_experiment(session, experiment, now=now)
    weights = {variant.key: variant.weight for variant in experiment.variants}
    allocation = store.current_allocation(session, row.id)
    if created or allocation is None or _restarts_allocation(experiment, allocation.weights):
        store.add_allocation(session, row.id, weights, now=now, reason="definition")


def _restarts_allocation(experiment: Experiment, current: dict[str, float]) -> bool:
    desired = {variant.key: variant.weight for variant in experiment.variants}
    if experiment.allocation.is_bandit:
        # A bandit's own epochs differ from the YAML weights on purpose; only a new variant
        # set (allowed by the plan only while the experiment is not running) restarts it.
        return set(current) != set(desired)
    return current != desired


def set_status(
    session: Session,
    key: str,
    status: ExperimentStatus,
    *,
    now: datetime,
    actor: str = "operator",
    evidence: Mapping[str, Any] | None = None,
) -> Experiment:
    """Move an experiment to `status` (draft, running, paused, stopped), audit-logged."""
    row = store.find_experiment_row(session, key)
    if row is None:
        raise NotFound(f"experiment {key!r} does not exist")
    if row.status == ExperimentStatus.STOPPED and status == ExperimentStatus.RUNNING:
        raise Conflict(f"experiment {key!r} is stopped; a stopped experiment cannot run again")
    if row.status != status.value:
        details = {"from": row.status, "to": status.value, **(evidence or {})}
        audit.record(
            session, experiment_id=row.id, at=now, actor=actor, action="status", details=details
        )
    row.status = status.value
    row.updated_at = now
    return store.to_domain(row)
