"""Assignment over HTTP, for storefronts that do not evaluate locally; records the impression.

The variant comes from the SDK's evaluation of the cached snapshot (one implementation of the
spec), with the request's attributes (the segment of a contextual bandit) and its ineligible
variants. On top of it:

- **Sticky.** A visitor with a recorded exposure keeps that exposure's variant, allocation
  version, probability and measurement flag (reason ``sticky``) as long as the variant is
  eligible for this request. When it is not, the visitor gets this request's eligible pick
  (reason ``in_experiment``, probability of that pick); its impression is recorded with the
  variant shown, and the first exposure is left as it was, so the unit stays in its first
  variant for the analysis.
- **No sticky read when the hash alone is sticky**: the experiment is in its first allocation
  epoch (version 1, the weights it was created with), has no serving context (no measurement
  slice, no segment weights) and the hash puts the visitor in the experiment. A visitor first
  served a narrowed pick (its hashed variant was ineligible then) gets its hashed variant back
  on such a request once it is eligible again; its unit stays in the first variant.
- **Nothing eligible**: the SDK's ``not_eligible`` answer (the control's payload, uncounted);
  no impression is recorded.
- The experiment id comes from a key -> id map loaded once per snapshot, and the impression
  (with its eligible variants, measurement flag and attributes) is committed by the process's
  ``ImpressionWriter`` before the answer (group commit).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from offerlab.domain.assignment import Assignment, Reason, evaluate
from offerlab.errors import InvalidRequest, NotFound
from offerlab.services.impressions import ImpressionWriter
from offerlab.services.ingest import event_row
from offerlab.services.snapshots import Snapshot
from offerlab.storage import experiments as store
from offerlab.storage.db import session_scope
from offerlab.storage.events import ExposureLookup, FirstExposure
from offerlab_sdk.snapshot import ExperimentConfig

FIRST_ALLOCATION_VERSION = 1


@dataclass(frozen=True)
class AssignmentRequest:
    """One visitor's request for a variant of an experiment."""

    experiment: str
    visitor_id: str
    attributes: Mapping[str, Any] | None = None
    ineligible: Collection[str] = ()
    track_impression: bool = True


class HttpAssignment:
    """Assignment with stickiness and recorded impressions; one per app and process."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._find_exposure = ExposureLookup(engine)
        self._impressions = ImpressionWriter(sessions)
        self._ids = _ExperimentIds()

    def assign(
        self, snapshot: Snapshot, request: AssignmentRequest, *, now: datetime
    ) -> Assignment:
        """The visitor's variant for this request (see the module doc for stickiness)."""
        if not request.track_impression:
            return self._assign(snapshot, request, now)
        with self._impressions.announced():
            return self._assign(snapshot, request, now)

    def _assign(self, snapshot: Snapshot, request: AssignmentRequest, now: datetime) -> Assignment:
        config = snapshot.parsed.experiment_by_key.get(request.experiment)
        experiment_id = None if config is None else self._ids.find(self._sessions, snapshot, config)
        if config is None or experiment_id is None:
            raise NotFound(f"experiment {request.experiment!r} does not exist")
        _check_ineligible(config, request.ineligible)
        assignment = evaluate(
            config,
            request.visitor_id,
            attributes=request.attributes,
            ineligible=tuple(request.ineligible),
        )
        if config.is_running and not _hash_is_sticky(config, assignment):
            sticky = self._sticky(config, experiment_id, request, assignment)
            if sticky is not None:
                return sticky
        if assignment.in_experiment and request.track_impression:
            self._impressions.write(_impression_row(experiment_id, assignment, request, now))
        return assignment

    def _sticky(
        self,
        config: ExperimentConfig,
        experiment_id: int,
        request: AssignmentRequest,
        assignment: Assignment,
    ) -> Assignment | None:
        exposure = self._find_exposure(experiment_id, request.visitor_id)
        if exposure is None or exposure.variant_key not in config.variant_by_key:
            return None
        if exposure.variant_key in request.ineligible:
            return None
        return _sticky_assignment(config, exposure, assignment)


def _hash_is_sticky(config: ExperimentConfig, assignment: Assignment) -> bool:
    return (
        assignment.in_experiment
        and config.allocation_version == FIRST_ALLOCATION_VERSION
        and not config.has_serving_context
    )


def _sticky_assignment(
    config: ExperimentConfig, exposure: FirstExposure, assignment: Assignment
) -> Assignment:
    variant = config.variant_by_key[exposure.variant_key]
    return replace(
        assignment,
        experiment=config.key,
        variant=variant.key,
        payload=variant.payload,
        in_experiment=True,
        reason=Reason.STICKY,
        allocation_version=exposure.allocation_version,
        probability=exposure.probability,
        measurement=bool(exposure.measurement),
    )


def _check_ineligible(config: ExperimentConfig, ineligible: Collection[str]) -> None:
    if not ineligible:
        return
    unknown = sorted(set(ineligible) - set(config.variant_by_key))
    if unknown:
        raise InvalidRequest(f"ineligible: {unknown[0]!r} is not a variant of {config.key!r}")


def _impression_row(
    experiment_id: int, assignment: Assignment, request: AssignmentRequest, now: datetime
) -> dict[str, Any]:
    return event_row(
        event_id=f"assign-{uuid.uuid4().hex}",
        kind="impression",
        visitor_id=request.visitor_id,
        timestamp=now,
        received_at=now,
        attributes=request.attributes,
        experiment_id=experiment_id,
        variant_key=assignment.variant,
        allocation_version=assignment.allocation_version,
        probability=assignment.probability,
        # Sorted, as ingest stores the eligible list of an impression event.
        eligible=None if assignment.eligible is None else sorted(assignment.eligible),
        measurement=assignment.measurement,
    )


class _ExperimentIds:
    """Experiment ids by key, read once per snapshot (keys never change their id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._ids: dict[str, int] = {}

    def find(
        self, sessions: sessionmaker[Session], snapshot: Snapshot, config: ExperimentConfig
    ) -> int | None:
        with self._lock:
            if self._snapshot is snapshot:
                return self._ids.get(config.key)
        with session_scope(sessions) as session:
            ids = store.experiment_ids(session)
        with self._lock:
            self._snapshot, self._ids = snapshot, ids
        return ids.get(config.key)
