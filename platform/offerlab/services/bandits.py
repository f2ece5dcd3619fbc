"""Periodic bandit updates: aggregates -> Thompson weights -> a new allocation epoch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from offerlab.domain.bandits import ThompsonSpec, allocate
from offerlab.domain.model import AllocationKind, ExperimentStatus
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.storage import experiments as store
from offerlab.storage.aggregates import variant_totals
from offerlab.storage.experiments import as_utc
from offerlab.storage.tables import ExperimentRow


@dataclass(frozen=True)
class AllocationUpdate:
    experiment: str
    version: int
    weights: dict[str, float]


def update_allocations(
    session: Session, *, now: datetime, rng: np.random.Generator, force: bool = False
) -> list[AllocationUpdate]:
    """Start a new epoch for every running bandit whose update interval has passed."""
    updates = []
    for row in store.list_experiment_rows(session):
        if row.allocation != AllocationKind.THOMPSON or row.status != ExperimentStatus.RUNNING:
            continue
        current = store.current_allocation(session, row.id)
        interval = timedelta(seconds=row.bandit_update_interval_seconds)
        if not force and current is not None and now - as_utc(current.started_at) < interval:
            continue
        weights = _thompson_weights(session, row, rng)
        epoch = store.add_allocation(session, row.id, weights, now=now, reason="thompson")
        updates.append(AllocationUpdate(row.key, epoch.version, weights))
    return updates


def _thompson_weights(
    session: Session, row: ExperimentRow, rng: np.random.Generator
) -> dict[str, float]:
    by_variant = variant_totals(
        session, row.id, attribution_window_hours=row.attribution_window_hours
    )
    keys = [variant.key for variant in row.variants]
    totals = [by_variant.get(key) or VariantTotals.empty(key) for key in keys]
    spec = ThompsonSpec(min_share=row.bandit_min_share)
    weights = allocate(row.objective, totals, spec=spec, rng=rng)
    return dict(zip(keys, (float(w) for w in weights), strict=True))
