"""Pure diff between the experiments analysts want (YAML) and the ones the service stores."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from offerlab.domain.model import BASIS_POINTS, Experiment, ExperimentStatus

Action = Literal["create", "change", "unchanged"]

# Stored weights and traffic may be rounded to basis points; closer than half of one is equal.
FLOAT_TOLERANCE = 0.5 / BASIS_POINTS

_SETTINGS = (
    "name",
    "description",
    "placement",
    "offer_kind",
    "status",
    "unit",
    "traffic",
    "allocation",
    "objective",
    "attribution_window_hours",
    "alpha",
)
# Changing these while visitors are being bucketed would move them between variants or
# relabel what they saw, so the running results would no longer mean anything.
_GUARDED_PREFIXES = ("variants", "control", "salt")


@dataclass(frozen=True)
class FieldChange:
    """One field whose stored value differs from the YAML."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class PlanEntry:
    """What applying the YAML does to one experiment.

    `desired` is the experiment to store: the YAML's, with the salt fixed at creation and kept
    on later updates unless the YAML sets one.
    """

    key: str
    action: Action
    changes: tuple[FieldChange, ...] = ()
    refused: str | None = None
    desired: Experiment | None = None


@dataclass(frozen=True)
class Plan:
    """The entries in YAML order, and stored experiments the YAML no longer mentions."""

    entries: tuple[PlanEntry, ...]
    unmanaged: tuple[str, ...] = ()

    @property
    def refusals(self) -> tuple[PlanEntry, ...]:
        """Entries that must not be applied."""
        return tuple(entry for entry in self.entries if entry.refused is not None)

    @property
    def pending(self) -> tuple[PlanEntry, ...]:
        """Entries that create or change an experiment and are not refused."""
        return tuple(
            entry for entry in self.entries if entry.action != "unchanged" and entry.refused is None
        )


def plan_changes(desired: Sequence[Experiment], current: Mapping[str, Experiment]) -> Plan:
    """Diff desired experiments against the stored ones, refusing unsafe changes."""
    entries = tuple(_plan_entry(experiment, current.get(experiment.key)) for experiment in desired)
    wanted = {experiment.key for experiment in desired}
    unmanaged = tuple(sorted(key for key in current if key not in wanted))
    return Plan(entries=entries, unmanaged=unmanaged)


def describe_plan(plan: Plan) -> list[str]:
    """Human-readable lines for a dry run."""
    lines: list[str] = []
    for entry in plan.entries:
        lines.append(f"{entry.action} {entry.key}")
        lines.extend(f"  {c.field}: {_show(c.old)} -> {_show(c.new)}" for c in entry.changes)
        if entry.refused:
            lines.append(f"  refused: {entry.refused}")
    lines.extend(f"unmanaged {key} (not in the YAML; left as is)" for key in plan.unmanaged)
    return lines


def _plan_entry(desired: Experiment, current: Experiment | None) -> PlanEntry:
    if current is None:
        created = replace(desired, salt=desired.effective_salt)
        return PlanEntry(desired.key, "create", desired=created)
    target = desired if desired.salt else replace(desired, salt=current.salt)
    changes = tuple(_field_changes(current, target))
    if not changes:
        return PlanEntry(desired.key, "unchanged", desired=target)
    refused = _refusal(current, changes)
    return PlanEntry(desired.key, "change", changes, refused, desired=target)


def _field_changes(current: Experiment, desired: Experiment) -> Iterator[FieldChange]:
    for name in _SETTINGS:
        old, new = getattr(current, name), getattr(desired, name)
        if not _same(old, new):
            yield FieldChange(name, old, new)
    yield from _bandit_changes(current, desired)
    yield from _analysis_changes(current, desired)
    if current.effective_salt != desired.effective_salt:
        yield FieldChange("salt", current.effective_salt, desired.effective_salt)
    if current.control != desired.control:
        yield FieldChange("control", current.control, desired.control)
    yield from _variant_changes(current, desired)


def _bandit_changes(current: Experiment, desired: Experiment) -> Iterator[FieldChange]:
    for item in dataclasses.fields(current.bandit):
        old, new = getattr(current.bandit, item.name), getattr(desired.bandit, item.name)
        if not _same_setting(old, new):
            yield FieldChange(f"bandit.{item.name}", old, new)


def _analysis_changes(current: Experiment, desired: Experiment) -> Iterator[FieldChange]:
    for item in dataclasses.fields(current.analysis):
        old = getattr(current.analysis, item.name)
        new = getattr(desired.analysis, item.name)
        if not _same_setting(old, new):
            yield FieldChange(f"analysis.{item.name}", old, new)


def _variant_changes(current: Experiment, desired: Experiment) -> Iterator[FieldChange]:
    old_keys = tuple(variant.key for variant in current.variants)
    new_keys = tuple(variant.key for variant in desired.variants)
    if old_keys != new_keys:
        # Order matters too: buckets are laid out in variant order.
        yield FieldChange("variants", old_keys, new_keys)
    for new in desired.variants:
        if new.key not in old_keys:
            continue
        old = current.variant(new.key)
        if old.name != new.name:
            yield FieldChange(f"variants.{new.key}.name", old.name, new.name)
        if not _same(old.weight, new.weight):
            yield FieldChange(f"variants.{new.key}.weight", old.weight, new.weight)
        if dict(old.payload) != dict(new.payload):
            yield FieldChange(f"variants.{new.key}.payload", old.payload, new.payload)


def _refusal(current: Experiment, changes: tuple[FieldChange, ...]) -> str | None:
    if current.status != ExperimentStatus.RUNNING:
        return None
    guarded = [change.field for change in changes if _is_guarded(change.field)]
    if not guarded:
        return None
    return (
        f"experiment {current.key!r} is running: changing {', '.join(guarded)} would move "
        "visitors between variants or relabel what they saw; pause or stop it first, "
        "or start a new experiment under a new key"
    )


def _is_guarded(field: str) -> bool:
    if field.startswith("variants.") and field.endswith(".name"):
        return False
    return field.split(".", 1)[0] in _GUARDED_PREFIXES


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, float) or isinstance(new, float):
        return math.isclose(old, new, rel_tol=0.0, abs_tol=FLOAT_TOLERANCE)
    return bool(old == new)


def _same_setting(old: Any, new: Any) -> bool:
    """Numbers within the float tolerance, anything else (None, text, tuples) exactly."""
    both_numbers = isinstance(old, int | float) and isinstance(new, int | float)
    if both_numbers and not isinstance(old, bool) and not isinstance(new, bool):
        return _same(old, new)
    return bool(old == new)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(dict(value)) if isinstance(value, Mapping) else repr(value)
