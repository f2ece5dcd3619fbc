"""An assignment as the plain answer the vector files record (shared by SDK and service tests)."""

from __future__ import annotations

from typing import Any


def answer_of(assignment: Any) -> dict[str, Any]:
    """The fields a serving vector's `expected` holds, taken from an `Assignment`."""
    return {
        "experiment": assignment.experiment,
        "variant": assignment.variant,
        "payload": dict(assignment.payload or {}),
        "in_experiment": assignment.in_experiment,
        "reason": str(assignment.reason),
        "allocation_version": assignment.allocation_version,
        "probability": assignment.probability,
        "measurement": assignment.measurement,
        "eligible": None if assignment.eligible is None else list(assignment.eligible),
    }
