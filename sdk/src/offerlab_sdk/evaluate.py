"""Local, pure evaluation of a snapshot: which variant a visitor gets, and why.

Order of checks (SPEC.md, "Evaluation"): unknown experiment -> fallback; not running ->
control; outside the experiment's placement slice -> control; no eligible variant with a
positive weight -> control; outside traffic -> control; otherwise the visitor's variant.
Requests without attributes or ineligible variants take a precomputed fast path; the others go
through ``offerlab_sdk.context``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mmh3 import hash as murmur3_32

from offerlab_sdk.assignment import FALLBACK, NO_EXPERIMENT, Assignment, Reason
from offerlab_sdk.bucketing import hash_in_range, hash_uint32, placement_input
from offerlab_sdk.context import ContextualEvaluator
from offerlab_sdk.snapshot import FULL_RANGE_BP, ExperimentConfig, Snapshot

__all__ = [
    "Assignment",
    "CompiledExperiment",
    "Reason",
    "compile_experiment",
    "evaluate",
    "experiment_at_placement",
    "offer_for",
]


@dataclass(frozen=True, slots=True)
class CompiledExperiment:
    """An experiment turned into a one-argument evaluator, built once per snapshot."""

    key: str
    evaluate: Callable[[str], Assignment]
    """The evaluator of requests without attributes or ineligible variants."""
    sticky: Mapping[str, Assignment]
    """Assignments served to remembered visitors of such requests, by variant key; empty unless
    running. Only valid when ``context_free``."""
    context_free: bool
    """True when a request without context never depends on the visitor beyond the variant
    hash (no measurement slice), so ``sticky`` can be used as it is."""
    in_context: ContextualEvaluator
    """The evaluator of requests with attributes or ineligible variants, and sticky resumes."""


def evaluate(
    experiment: ExperimentConfig | None,
    visitor_id: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    ineligible: Collection[str] = (),
) -> Assignment:
    """Return the assignment of ``visitor_id`` in ``experiment`` (None means unknown: fallback).

    ``attributes`` select the visitor's segment weights; ``ineligible`` names variants that
    must not be served for this request (keys that name no variant are ignored).

    >>> evaluate(None, "visitor-1").reason
    <Reason.FALLBACK: 'fallback'>
    """
    if experiment is None:
        return FALLBACK
    compiled = experiment.compiled
    if attributes is None and not ineligible:
        return compiled.evaluate(visitor_id)
    return compiled.in_context.evaluate(visitor_id, attributes, ineligible)


def compile_experiment(experiment: ExperimentConfig) -> CompiledExperiment:
    """Build the evaluator of ``experiment``; every outcome is precomputed, none depends on IO."""
    outcomes = experiment.outcomes
    in_context = ContextualEvaluator(experiment)
    context_free = experiment.measurement_bp == 0
    if not experiment.is_running:
        not_running = outcomes.not_running
        return CompiledExperiment(
            experiment.key, lambda visitor_id: not_running, {}, context_free, in_context
        )
    if context_free:
        evaluator = _running_evaluator(experiment)
    else:
        evaluator = in_context.evaluate
    return CompiledExperiment(experiment.key, evaluator, outcomes.sticky, context_free, in_context)


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


def offer_for(
    snapshot: Snapshot | None,
    placement: str,
    visitor_id: str,
    *,
    attributes: Mapping[str, Any] | None = None,
    ineligible: Collection[str] = (),
) -> Assignment:
    """Return the visitor's assignment at ``placement`` (``no_experiment`` when nothing runs)."""
    if snapshot is None:
        return FALLBACK
    experiment = experiment_at_placement(snapshot, placement, visitor_id)
    if experiment is None:
        return NO_EXPERIMENT
    return evaluate(experiment, visitor_id, attributes=attributes, ineligible=ineligible)


def _running_evaluator(experiment: ExperimentConfig) -> Callable[[str], Assignment]:
    outcomes = experiment.outcomes
    by_index, outside, other = (
        outcomes.by_index,
        outcomes.outside_traffic,
        outcomes.other_experiment,
    )
    lows, highs = experiment.bounds
    range_bp = experiment.placement_range_bp
    # bucketing.experiment_input / placement_input, with the constant prefix built once.
    salt_prefix = experiment.salt + "."
    placement_prefix = placement_input(experiment.placement, "")

    def evaluate_in_slice(visitor_id: str) -> Assignment:
        # bucketing.hash_uint32 and index_for_hash, inlined: this runs on every storefront
        # request; the contract vectors pin both forms to the same results. str.encode() is
        # always UTF-8; naming the codec only adds a lookup (about 30 ns a call).
        hash_value = murmur3_32((salt_prefix + visitor_id).encode(), 0, False)
        index = bisect_right(lows, hash_value) - 1
        if hash_value < highs[index]:
            return by_index[index]
        return outside

    def evaluate_visitor(visitor_id: str) -> Assignment:
        if hash_in_range(hash_uint32(placement_prefix + visitor_id), range_bp):
            return evaluate_in_slice(visitor_id)
        return other

    return evaluate_in_slice if range_bp == FULL_RANGE_BP else evaluate_visitor
