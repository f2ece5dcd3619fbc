"""Applying a bandit's winner recommendation by hand: the roll-out `auto_rollout` would have done.

The recommended winner gets the weights `services.bandits.rollout_weights` gives an automatic
roll-out (all traffic but the control's holdout share, none when the control itself won); the
new epoch's reason is `rollout`, so later bandit updates leave it in force and the snapshot
stops serving its measurement slice and segment weights (`services.snapshots`). The audit log
records it as a manual roll-out with the evidence of the recommendation it applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from offerlab.domain.model import Experiment
from offerlab.domain.reports import AuditEntry
from offerlab.errors import Conflict, NotFound
from offerlab.services.bandits import ROLLOUT, WINNER_RECOMMENDED, rollout_weights
from offerlab.storage import audit
from offerlab.storage import experiments as store

# Enough to reach a recommendation behind a long run of guardrail or status entries.
_AUDIT_ENTRIES_READ = 10_000


def apply_recommendation(
    session: Session, key: str, *, now: datetime, actor: str
) -> dict[str, float]:
    """Roll the experiment out to its recommended winner; returns the new served weights."""
    row = store.find_experiment_row(session, key)
    if row is None:
        raise NotFound(f"experiment {key!r} does not exist")
    experiment = store.to_domain(row)
    if not experiment.allocation.is_bandit:
        raise Conflict(f"experiment {key!r} is not a bandit: there is nothing to roll out")
    current = store.current_allocation(session, row.id)
    if current is not None and current.reason == ROLLOUT:
        raise Conflict(f"experiment {key!r} is already rolled out")
    recommendation = _latest_recommendation(
        audit.entries(session, row.id, limit=_AUDIT_ENTRIES_READ)
    )
    winner = _winner(recommendation, experiment)
    weights = rollout_weights(experiment, winner)
    epoch = store.add_allocation(session, row.id, weights, now=now, reason=ROLLOUT)
    details: dict[str, Any] = {
        "winner": winner,
        "manual": True,
        "allocation_version": epoch.version,
        "weights": weights,
        "recommended_at": recommendation.at.isoformat() if recommendation else None,
        "recommendation": dict(recommendation.details) if recommendation else {},
    }
    audit.record(
        session, experiment_id=row.id, at=now, actor=actor, action=ROLLOUT, details=details
    )
    return weights


def _latest_recommendation(entries: Sequence[AuditEntry]) -> AuditEntry | None:
    return next((entry for entry in entries if entry.action == WINNER_RECOMMENDED), None)


def _winner(recommendation: AuditEntry | None, experiment: Experiment) -> str:
    if recommendation is None:
        raise Conflict(f"experiment {experiment.key!r} has no recommended winner yet")
    winner = recommendation.details.get("winner")
    if winner not in {variant.key for variant in experiment.variants}:
        raise Conflict(f"the recommended winner {winner!r} is no longer a variant")
    return str(winner)
