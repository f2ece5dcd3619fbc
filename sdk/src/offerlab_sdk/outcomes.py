"""Context-free assignments of an experiment, precomputed once per snapshot.

Without request context (no attributes, nothing ineligible, no measurement slice) an
``Assignment`` depends only on the experiment and the variant, never on the visitor, so every
possible result is built once and shared by all calls.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass

from offerlab_sdk.assignment import Assignment, Reason
from offerlab_sdk.bucketing import BASIS_POINTS
from offerlab_sdk.snapshot import ExperimentConfig, VariantConfig


@dataclass(frozen=True)
class ExperimentOutcomes:
    """Precomputed assignments of one experiment; ``Assignment`` does not depend on the visitor."""

    by_index: tuple[Assignment, ...]
    sticky: Mapping[str, Assignment]
    not_running: Assignment
    other_experiment: Assignment
    outside_traffic: Assignment

    @classmethod
    def build(cls, experiment: ExperimentConfig) -> ExperimentOutcomes:
        """Build the outcomes of ``experiment``."""
        by_index = tuple(
            variant_assignment(experiment, v, Reason.IN_EXPERIMENT) for v in experiment.variants
        )
        sticky = {
            v.key: variant_assignment(experiment, v, Reason.STICKY)
            for v in experiment.variants
            if v.weight_bp > 0
        }
        return cls(
            by_index=by_index,
            sticky=types.MappingProxyType(sticky),
            not_running=control_assignment(experiment, Reason.NOT_RUNNING),
            other_experiment=control_assignment(experiment, Reason.OTHER_EXPERIMENT),
            outside_traffic=control_assignment(experiment, Reason.OUTSIDE_TRAFFIC),
        )


def variant_assignment(
    experiment: ExperimentConfig, variant: VariantConfig, reason: Reason
) -> Assignment:
    """Return the counted assignment of ``variant`` at its snapshot weight."""
    return Assignment(
        experiment=experiment.key,
        variant=variant.key,
        payload=variant.payload,
        in_experiment=True,
        reason=reason,
        allocation_version=experiment.allocation_version,
        probability=variant.weight_bp / BASIS_POINTS,
    )


def control_assignment(experiment: ExperimentConfig, reason: Reason) -> Assignment:
    """Return the uncounted assignment of the control, served for ``reason``."""
    control = experiment.control_variant
    return Assignment(
        experiment=experiment.key,
        variant=control.key,
        payload=control.payload,
        in_experiment=False,
        reason=reason,
        allocation_version=experiment.allocation_version,
        probability=None,
    )
