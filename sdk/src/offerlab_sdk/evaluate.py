"""Local, pure evaluation of a snapshot: which variant a visitor gets, and why.

Order of checks (SPEC.md, "Evaluation"): unknown experiment -> fallback; not running ->
control; outside the experiment's placement slice -> control; outside traffic -> control;
otherwise the visitor's variant.
"""

from __future__ import annotations

from offerlab_sdk.assignment import FALLBACK, NO_EXPERIMENT, Assignment, Reason
from offerlab_sdk.bucketing import (
    experiment_input,
    hash_in_range,
    hash_uint32,
    index_for_hash,
    placement_input,
)
from offerlab_sdk.snapshot import FULL_RANGE_BP, ExperimentConfig, Snapshot

__all__ = ["Assignment", "Reason", "evaluate", "offer_for", "experiment_at_placement"]


def evaluate(experiment: ExperimentConfig | None, visitor_id: str) -> Assignment:
    """Return the assignment of ``visitor_id`` in ``experiment`` (None means unknown: fallback)."""
    if experiment is None:
        return FALLBACK
    outcomes = experiment.outcomes
    if not experiment.is_running:
        return outcomes.not_running
    if not _in_slice(experiment, visitor_id):
        return outcomes.other_experiment
    index = index_for_hash(hash_uint32(experiment_input(experiment.salt, visitor_id)),
                           experiment.bounds)
    if index is None:
        return outcomes.outside_traffic
    return outcomes.by_index[index]


def experiment_at_placement(
    snapshot: Snapshot, placement: str, visitor_id: str
) -> ExperimentConfig | None:
    """Return the running experiment at ``placement`` whose slice holds the visitor, if any."""
    running = snapshot.running_by_placement.get(placement, ())
    if not running:
        return None
    placement_hash = hash_uint32(placement_input(placement, visitor_id))
    for experiment in running:
        if hash_in_range(placement_hash, experiment.placement_range_bp):
            return experiment
    return None


def offer_for(snapshot: Snapshot | None, placement: str, visitor_id: str) -> Assignment:
    """Return the visitor's assignment at ``placement`` (``no_experiment`` when nothing runs)."""
    if snapshot is None:
        return FALLBACK
    experiment = experiment_at_placement(snapshot, placement, visitor_id)
    if experiment is None:
        return NO_EXPERIMENT
    return evaluate(experiment, visitor_id)


def _in_slice(experiment: ExperimentConfig, visitor_id: str) -> bool:
    range_bp = experiment.placement_range_bp
    if range_bp == FULL_RANGE_BP:
        return True
    placement_hash = hash_uint32(placement_input(experiment.placement, visitor_id))
    return hash_in_range(placement_hash, range_bp)
