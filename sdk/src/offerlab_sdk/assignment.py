"""The result of evaluating an experiment for one visitor."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    NOT_ELIGIBLE = "not_eligible"


@dataclass(frozen=True, slots=True)
class Assignment:
    """The offer variant a visitor gets; only ``in_experiment`` assignments are counted.

    ``probability`` is the exact probability with which the variant was chosen for this request
    (its propensity) when in the experiment: the weight of the visitor's segment, renormalised
    over the eligible variants, or the uniform share in the measurement slice. ``measurement``
    is True for counted visitors in the uniform measurement slice (never used for learning).
    ``eligible`` lists the eligible variant keys in variant order when the request narrowed
    them, None when every variant was eligible. ``attributes`` echoes the request attributes
    (``track_*`` send them when given none); it takes no part in equality.
    """

    experiment: str | None
    variant: str | None
    payload: Mapping[str, Any] | None
    in_experiment: bool
    reason: Reason
    allocation_version: int | None
    probability: float | None
    measurement: bool = False
    eligible: tuple[str, ...] | None = None
    attributes: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


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
