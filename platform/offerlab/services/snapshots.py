"""The config snapshot SDKs evaluate locally (format: sdk/SPEC.md).

A bandit's serving context (``measurement_bp``, ``segment_attribute``, ``segment_weights_bp``)
comes from its stored options and its current allocation epoch, with one exception: once the
current epoch is a roll-out (reason ``rollout``, written by ``auto_rollout`` or by applying the
recommendation by hand), the experiment is sent without any serving context. The winner's
weights (and the control's holdout) then serve every visitor whatever its segment: a uniform
slice would keep serving the losing variants, and there is nothing left to learn from or to
measure the bandit against. New units stop entering the slice (bar SDKs still holding an older
snapshot), so its results keep the units of the bandit's learning phase; HTTP assign still
keeps a visitor with a recorded exposure on that exposure's variant (sticky).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from offerlab.domain.model import BASIS_POINTS, AllocationKind, ExperimentStatus
from offerlab.services.bandits import ROLLOUT
from offerlab.storage import experiments as store
from offerlab.storage.tables import AllocationRow, ExperimentRow
from offerlab_sdk.bucketing import weights_to_bp
from offerlab_sdk.snapshot import Snapshot as ParsedSnapshot
from offerlab_sdk.snapshot import parse_snapshot

SPEC_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    """The snapshot document as served, its (unquoted) ETag, and the content parsed by the SDK."""

    body: dict[str, Any]
    etag: str
    parsed: ParsedSnapshot

    def json_payload(self, experiment_key: str, variant_key: str) -> dict[str, Any] | None:
        """A variant's payload as served in the body (the parsed payloads are read-only views,
        which JSON encoders do not take); None for an unknown variant."""
        return self._payloads.get((experiment_key, variant_key))

    @cached_property
    def _payloads(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (experiment["key"], variant["key"]): variant["payload"]
            for experiment in self.body["experiments"]
            for variant in experiment["variants"]
        }


def build_snapshot(session: Session, *, now: datetime) -> Snapshot:
    """Every experiment with its current allocation; the ETag changes only with the content."""
    rows = store.list_experiment_rows(session)
    allocations = store.current_allocations(session)
    ranges = placement_ranges(rows)
    experiments = [_experiment_config(row, allocations.get(row.id), ranges) for row in rows]
    version = hashlib.sha256(
        json.dumps(experiments, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:20]
    body = {
        "spec_version": SPEC_VERSION,
        "snapshot_version": version,
        "generated_at": now.isoformat(),
        "experiments": experiments,
    }
    return Snapshot(body=body, etag=version, parsed=parse_snapshot(body))


def placement_ranges(rows: list[ExperimentRow]) -> dict[str, tuple[int, int]]:
    """Running experiments that share a placement split it into equal, disjoint slices.

    Slices follow creation order, so a visitor is in at most one experiment per placement.
    """
    running: dict[str, list[ExperimentRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.created_at, r.key)):
        if row.status == ExperimentStatus.RUNNING:
            running[row.placement].append(row)
    ranges: dict[str, tuple[int, int]] = {}
    for members in running.values():
        count = len(members)
        for index, row in enumerate(members):
            ranges[row.key] = (index * BASIS_POINTS // count, (index + 1) * BASIS_POINTS // count)
    return ranges


def _experiment_config(
    row: ExperimentRow, allocation: AllocationRow | None, ranges: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    weights = allocation.weights if allocation else {v.key: v.weight for v in row.variants}
    weights_bp = _weights_bp(row, weights)
    return {
        "key": row.key,
        "salt": row.salt,
        "status": row.status,
        "placement": row.placement,
        "offer_kind": row.offer_kind,
        "traffic_bp": round(row.traffic * BASIS_POINTS),
        "placement_range_bp": list(ranges.get(row.key, (0, 0))),
        "allocation_version": allocation.version if allocation else 0,
        "control": row.control_key,
        "variants": [
            {"key": v.key, "name": v.name, "weight_bp": bp, "payload": v.payload or {}}
            for v, bp in zip(row.variants, weights_bp, strict=True)
        ],
        **_serving_context(row, allocation),
    }


def _serving_context(row: ExperimentRow, allocation: AllocationRow | None) -> dict[str, Any]:
    """The optional snapshot fields of a bandit: measurement slice and per-segment weights.

    Absent for fixed splits, for bandits that use neither, so their snapshots (and ETags) stay
    as they were, and for a rolled-out bandit (see the module doc).
    """
    if not AllocationKind(row.allocation).is_bandit or _is_rolled_out(allocation):
        return {}
    options = row.bandit_options or {}
    fields: dict[str, Any] = {}
    measurement_bp = round(float(options.get("measurement_share", 0.0)) * BASIS_POINTS)
    if measurement_bp:
        fields["measurement_bp"] = measurement_bp
    segment_attribute = options.get("segment_attribute")
    if segment_attribute is not None:
        fields["segment_attribute"] = segment_attribute
        by_segment = (allocation.segment_weights if allocation else None) or {}
        fields["segment_weights_bp"] = {
            str(value): list(_weights_bp(row, weights)) for value, weights in by_segment.items()
        }
    return fields


def _is_rolled_out(allocation: AllocationRow | None) -> bool:
    return allocation is not None and allocation.reason == ROLLOUT


def _weights_bp(row: ExperimentRow, weights: dict[str, float]) -> tuple[int, ...]:
    """Weights by variant key -> bp in variant order (a variant not listed gets 0)."""
    return weights_to_bp([weights.get(v.key, 0.0) for v in row.variants])


class SnapshotCache:
    """Rebuilds the snapshot at most every `ttl_seconds` per process; safe across threads."""

    def __init__(self, build: Callable[[], Snapshot], *, ttl_seconds: float) -> None:
        self._build = build
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._built_at = 0.0

    def get(self) -> Snapshot:
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._built_at >= self._ttl:
                self._snapshot = self._build()
                self._built_at = time.monotonic()
            return self._snapshot

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None
