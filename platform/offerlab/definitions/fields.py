"""Scalar field types of the experiment YAML, shared by the definition models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict, StringConstraints

from offerlab.definitions.problems import Location

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
SALT_PATTERN = r"^[A-Za-z0-9_-]+$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
WEIGHT_TOLERANCE = 1e-6

Issue = tuple[Location, str]

Key = Annotated[str, Strict(), StringConstraints(pattern=KEY_PATTERN, max_length=64)]
Salt = Annotated[str, Strict(), StringConstraints(pattern=SALT_PATTERN, max_length=128)]
Currency = Annotated[str, Strict(), StringConstraints(pattern=CURRENCY_PATTERN)]
AttributeName = Annotated[
    str, Strict(), StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$", max_length=64)
]
Text = Annotated[str, Strict()]
# Strict floats still accept integers (`weight: 1`) but reject strings and booleans.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]


def number_or_none(value: Any) -> float | None:
    """The value as a float when it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
