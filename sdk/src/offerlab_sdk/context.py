"""Evaluation with request context: segment weights, eligibility and the measurement slice.

Rules in SPEC.md, section 4 ("Serving context"). For one request the evaluator picks the
weights (uniform over the eligible variants in the measurement slice, else the visitor's
segment weights, else the experiment's), sets the ineligible variants' weights to 0 and lets the
visitor's usual experiment hash pick among the rest in proportion to their weights. Every
distinct (weights, eligible variants) combination is turned into bounds and assignments once
and cached, so a request costs two hashes and a few dictionary lookups.
"""

from __future__ import annotations

import numbers
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from offerlab_sdk.assignment import Assignment, Reason
from offerlab_sdk.bucketing import (
    Bounds,
    experiment_input,
    hash_in_range,
    hash_uint32,
    in_measurement_slice,
    index_for_hash,
    measurement_input,
    placement_input,
    weighted_bounds,
)
from offerlab_sdk.outcomes import control_assignment
from offerlab_sdk.snapshot import FULL_RANGE_BP, ExperimentConfig

__all__ = ["ContextualEvaluator", "RequestEvaluator", "eligible_mask", "segment_value"]

RequestEvaluator = Callable[[str, Mapping[str, Any] | None, Collection[str]], Assignment]
"""visitor_id, attributes, ineligible variant keys -> assignment."""

_MAX_CACHED_DISTRIBUTIONS = 4096
_DistributionKey = tuple[bool, str | None, tuple[bool, ...]]


def segment_value(value: Any) -> str | None:
    """Return the text an attribute value is matched with against ``segment_weights_bp`` keys.

    Strings as they are, integers in decimal, booleans as ``"true"`` / ``"false"``; anything
    else (floats, null, lists, objects) is no segment, so the experiment's weights apply.

    >>> [segment_value(v) for v in ("mobile", 3, True, 2.5, None)]
    ['mobile', '3', 'true', None, None]
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return None


def eligible_mask(variant_keys: tuple[str, ...], ineligible: Collection[str]) -> tuple[bool, ...]:
    """Return, per variant, whether it is eligible; keys that name no variant are ignored.

    >>> eligible_mask(("no-offer", "case"), ["case", "gone"])
    (True, False)
    """
    if isinstance(ineligible, (str, bytes)):
        raise TypeError("ineligible must be a collection of variant keys, not a single string")
    excluded = frozenset(ineligible)
    return tuple(key not in excluded for key in variant_keys)


@dataclass(frozen=True, slots=True)
class _Distribution:
    """How one kind of request is split: bounds plus every assignment it can produce."""

    bounds: Bounds | None
    """None when no eligible variant has a positive weight."""
    chosen: tuple[Assignment, ...]
    sticky: tuple[Assignment | None, ...]
    """Per variant, what a visitor who remembers it is served; None when it cannot be."""


class ContextualEvaluator:
    """One experiment's evaluator for requests with attributes and ineligible variants."""

    def __init__(self, experiment: ExperimentConfig) -> None:
        self._experiment = experiment
        self._keys = tuple(v.key for v in experiment.variants)
        self._index = types.MappingProxyType({key: i for i, key in enumerate(self._keys)})
        self._all_eligible = (True,) * len(self._keys)
        outcomes = experiment.outcomes
        self._not_running = outcomes.not_running
        self._other_experiment = outcomes.other_experiment
        self._outside_traffic = outcomes.outside_traffic
        self._not_eligible = control_assignment(experiment, Reason.NOT_ELIGIBLE)
        self._cache: dict[_DistributionKey, _Distribution] = {}
        self._masks: dict[frozenset[str], tuple[bool, ...]] = {}

    def evaluate(
        self,
        visitor_id: str,
        attributes: Mapping[str, Any] | None = None,
        ineligible: Collection[str] = (),
    ) -> Assignment:
        """Return the visitor's assignment for this request (SPEC.md, section 4)."""
        experiment = self._experiment
        if not experiment.is_running:
            return _with_attributes(self._not_running, attributes)
        if not self._in_placement_slice(visitor_id):
            return _with_attributes(self._other_experiment, attributes)
        distribution = self._distribution(visitor_id, attributes, ineligible)
        if distribution.bounds is None:
            return _with_attributes(self._not_eligible, attributes)
        hash_value = hash_uint32(experiment_input(experiment.salt, visitor_id))
        index = index_for_hash(hash_value, distribution.bounds)
        if index is None:
            return _with_attributes(self._outside_traffic, attributes)
        return _with_attributes(distribution.chosen[index], attributes)

    def resume(
        self,
        remembered: str,
        visitor_id: str,
        attributes: Mapping[str, Any] | None = None,
        ineligible: Collection[str] = (),
    ) -> Assignment | None:
        """Return the sticky assignment of a remembered variant, or None when it cannot be served.

        It can be served while the experiment runs and the variant is eligible with a positive
        weight for this request (any eligible variant in the measurement slice).
        """
        index = self._index.get(remembered)
        if index is None or not self._experiment.is_running:
            return None
        sticky = self._distribution(visitor_id, attributes, ineligible).sticky[index]
        return None if sticky is None else _with_attributes(sticky, attributes)

    def _in_placement_slice(self, visitor_id: str) -> bool:
        experiment = self._experiment
        if experiment.placement_range_bp == FULL_RANGE_BP:
            return True
        placement_hash = hash_uint32(placement_input(experiment.placement, visitor_id))
        return hash_in_range(placement_hash, experiment.placement_range_bp)

    def _distribution(
        self, visitor_id: str, attributes: Mapping[str, Any] | None, ineligible: Collection[str]
    ) -> _Distribution:
        experiment = self._experiment
        measured = experiment.measurement_bp > 0 and in_measurement_slice(
            hash_uint32(measurement_input(visitor_id)), experiment.measurement_bp
        )
        segment = None if measured else self._segment(attributes)
        mask = self._mask(ineligible) if ineligible else self._all_eligible
        key = (measured, segment, mask)
        distribution = self._cache.get(key)
        if distribution is None:
            if len(self._cache) >= _MAX_CACHED_DISTRIBUTIONS:
                self._cache.clear()
            distribution = self._cache[key] = self._build(measured, segment, mask)
        return distribution

    def _mask(self, ineligible: Collection[str]) -> tuple[bool, ...]:
        if isinstance(ineligible, (str, bytes)):
            eligible_mask(self._keys, ineligible)  # raises the TypeError
        excluded = frozenset(ineligible)
        mask = self._masks.get(excluded)
        if mask is None:
            if len(self._masks) >= _MAX_CACHED_DISTRIBUTIONS:
                self._masks.clear()
            mask = self._masks[excluded] = eligible_mask(self._keys, excluded)
        return mask

    def _segment(self, attributes: Mapping[str, Any] | None) -> str | None:
        attribute = self._experiment.segment_attribute
        if attribute is None or not attributes:
            return None
        if not isinstance(attributes, Mapping):
            raise TypeError(f"attributes must be a mapping, got {type(attributes).__name__}")
        value = segment_value(attributes.get(attribute))
        return value if value in self._experiment.segment_weights_bp else None

    def _build(self, measured: bool, segment: str | None, mask: tuple[bool, ...]) -> _Distribution:
        experiment = self._experiment
        if measured:
            base: tuple[int, ...] = (1,) * len(mask)
        elif segment is not None:
            base = experiment.segment_weights_bp[segment]
        else:
            base = tuple(v.weight_bp for v in experiment.variants)
        weights = tuple(w if eligible else 0 for w, eligible in zip(base, mask, strict=True))
        total = sum(weights)
        if total == 0:
            return _Distribution(None, (), (None,) * len(weights))
        narrowed = (
            None if all(mask) else tuple(k for k, e in zip(self._keys, mask, strict=True) if e)
        )
        chosen = tuple(
            self._assignment(i, Reason.IN_EXPERIMENT, w / total, measured, narrowed)
            for i, w in enumerate(weights)
        )
        sticky = tuple(
            self._assignment(i, Reason.STICKY, w / total, measured, narrowed) if w > 0 else None
            for i, w in enumerate(weights)
        )
        return _Distribution(weighted_bounds(weights, experiment.traffic_bp), chosen, sticky)

    def _assignment(
        self,
        index: int,
        reason: Reason,
        probability: float,
        measured: bool,
        eligible: tuple[str, ...] | None,
    ) -> Assignment:
        experiment = self._experiment
        variant = experiment.variants[index]
        return Assignment(
            experiment=experiment.key,
            variant=variant.key,
            payload=variant.payload,
            in_experiment=True,
            reason=reason,
            allocation_version=experiment.allocation_version,
            probability=probability,
            measurement=measured,
            eligible=eligible,
        )


def _with_attributes(assignment: Assignment, attributes: Mapping[str, Any] | None) -> Assignment:
    """Return ``assignment`` carrying a frozen copy of the request attributes, if there are any."""
    if attributes is None:
        return assignment
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a mapping, got {type(attributes).__name__}")
    return Assignment(
        assignment.experiment,
        assignment.variant,
        assignment.payload,
        assignment.in_experiment,
        assignment.reason,
        assignment.allocation_version,
        assignment.probability,
        assignment.measurement,
        assignment.eligible,
        types.MappingProxyType(dict(attributes)),
    )
