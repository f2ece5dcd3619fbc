"""A problem found in an experiment definition, located by file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class DefinitionProblem:
    """One problem in a definition file; `line` is 1-based, None when it concerns the whole file."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.path}:{self.line}" if self.line else str(self.path)
        if self.field:
            return f"{place}: {self.field}: {self.message}"
        return f"{place}: {self.message}"


def format_location(location: Sequence[str | int]) -> str:
    """Render a location as analysts read it: ("variants", 1, "weight") -> "variants[1].weight"."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
