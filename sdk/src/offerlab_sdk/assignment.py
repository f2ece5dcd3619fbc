"""The result of evaluating an experiment for one visitor."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

try:
    from enum import StrEnum
except ImportError:  # Python 3.10: the SDK supports it, StrEnum arrived in 3.11

    class StrEnum(str, enum.Enum):  # type: ignore[no-redef]  # noqa: UP042
        """A str-valued Enum whose str() is its value, as enum.StrEnum in Python 3.11."""

        def __str__(self) -> str:
            return str(self.value)


class Reason(StrEnum):
    """Why a visitor received the variant (or fallback) in an ``Assignment``."""

    IN_EXPERIMENT = "in_experiment"
    OUTSIDE_TRAFFIC = "outside_traffic"
    OTHER_EXPERIMENT = "other_experiment"
    NOT_RUNNING = "not_running"
    FALLBACK = "fallback"
    NO_EXPERIMENT = "no_experiment"
    STICKY = "sticky"


@dataclass(frozen=True, slots=True)
class Assignment:
    """The offer variant a visitor gets; only ``in_experiment`` assignments are counted.

    ``probability`` is the chosen variant's weight (its propensity) when in the experiment.
    """

    experiment: str | None
    variant: str | None
    payload: Mapping[str, Any] | None
    in_experiment: bool
    reason: Reason
    allocation_version: int | None
    probability: float | None


FALLBACK = Assignment(
    experiment=None,
    variant=None,
    payload=None,
    in_experiment=False,
    reason=Reason.FALLBACK,
    allocation_version=None,
    probability=None,
)

NO_EXPERIMENT = Assignment(
    experiment=None,
    variant=None,
    payload=None,
    in_experiment=False,
    reason=Reason.NO_EXPERIMENT,
    allocation_version=None,
    probability=None,
)


def fallback_for(experiment_key: str | None) -> Assignment:
    """Return the fallback assignment naming the experiment that could not be evaluated."""
    if experiment_key is None:
        return FALLBACK
    return Assignment(experiment_key, None, None, False, Reason.FALLBACK, None, None)
