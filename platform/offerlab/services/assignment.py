"""Assignment over HTTP, for storefronts that do not evaluate locally; records the exposure."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from offerlab.domain.assignment import Assignment, Reason, evaluate
from offerlab.errors import NotFound
from offerlab.services.ingest import event_row, store_event_rows
from offerlab.services.snapshots import Snapshot
from offerlab.storage import experiments as store
from offerlab.storage.events import find_exposure


def assign_visitor(
    session: Session,
    snapshot: Snapshot,
    experiment_key: str,
    visitor_id: str,
    *,
    now: datetime,
    track_impression: bool = True,
    attributes: Mapping[str, Any] | None = None,
) -> Assignment:
    """The visitor's variant; a visitor already exposed keeps the variant of the first exposure."""
    config = snapshot.parsed.experiment_by_key.get(experiment_key)
    experiment_id = None if config is None else store.find_experiment_id(session, experiment_key)
    if config is None or experiment_id is None:
        raise NotFound(f"experiment {experiment_key!r} does not exist")
    assignment = evaluate(config, visitor_id)
    if config.is_running:
        exposure = find_exposure(session, experiment_id, visitor_id)
        if exposure is not None and exposure.variant_key in config.variant_by_key:
            variant = config.variant_by_key[exposure.variant_key]
            return replace(
                assignment,
                variant=variant.key,
                payload=variant.payload,
                in_experiment=True,
                reason=Reason.STICKY,
                allocation_version=exposure.allocation_version,
                probability=exposure.probability,
            )
    if assignment.in_experiment and track_impression:
        _record_impression(session, experiment_id, assignment, visitor_id, now, attributes)
    return assignment


def _record_impression(
    session: Session,
    experiment_id: int,
    assignment: Assignment,
    visitor_id: str,
    now: datetime,
    attributes: Mapping[str, Any] | None,
) -> None:
    row = event_row(
        event_id=f"assign-{uuid.uuid4().hex}",
        kind="impression",
        visitor_id=visitor_id,
        timestamp=now,
        received_at=now,
        attributes=attributes,
        experiment_id=experiment_id,
        variant_key=assignment.variant,
        allocation_version=assignment.allocation_version,
        probability=assignment.probability,
    )
    store_event_rows(session, [row])
