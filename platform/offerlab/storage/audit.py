"""The audit log: decisions taken on an experiment, with the evidence they were taken on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offerlab.domain.reports import AuditEntry
from offerlab.storage.experiments import as_utc
from offerlab.storage.tables import AuditRow


def record(
    session: Session,
    *,
    experiment_id: int | None,
    at: datetime,
    actor: str,
    action: str,
    details: Mapping[str, Any],
) -> None:
    """Append one entry; it is committed with the change it records."""
    session.add(
        AuditRow(
            experiment_id=experiment_id, at=at, actor=actor, action=action, details=dict(details)
        )
    )


def entries(session: Session, experiment_id: int, *, limit: int = 50) -> tuple[AuditEntry, ...]:
    """The experiment's newest entries first."""
    rows = session.scalars(
        select(AuditRow)
        .where(AuditRow.experiment_id == experiment_id)
        .order_by(AuditRow.at.desc(), AuditRow.id.desc())
        .limit(limit)
    )
    return tuple(
        AuditEntry(at=as_utc(row.at), action=row.action, actor=row.actor, details=row.details)
        for row in rows
    )
