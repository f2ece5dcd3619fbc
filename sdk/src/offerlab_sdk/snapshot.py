"""The configuration snapshot served by ``GET /api/v1/snapshot``: parsing and validation.

Pure: takes already-decoded JSON (or its text) and returns frozen dataclasses. An invalid
snapshot raises ``SnapshotError``; nothing is ever silently repaired.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from offerlab_sdk.bucketing import BASIS_POINTS, Bounds, variant_bounds

if TYPE_CHECKING:
    from offerlab_sdk.evaluate import CompiledExperiment
    from offerlab_sdk.outcomes import ExperimentOutcomes

SPEC_VERSION = 1
RUNNING = "running"
FULL_RANGE_BP = (0, BASIS_POINTS)
SALT_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
NO_SEGMENT_WEIGHTS: Mapping[str, tuple[int, ...]] = types.MappingProxyType({})


class SnapshotError(ValueError):
    """The snapshot document is malformed or violates the spec; it must not be used."""


@dataclass(frozen=True)
class VariantConfig:
    """One variant of an experiment as the SDK sees it."""

    key: str
    name: str
    weight_bp: int
    payload: Mapping[str, Any]

    def __post_init__(self) -> None:
        _require(_is_text(self.key), f"variant key must be a non-empty string: {self.key!r}")
        _require(isinstance(self.name, str), f"variant {self.key}: name must be a string")
        _require(_is_int(self.weight_bp), f"variant {self.key}: weight_bp must be an integer")
        _require(0 <= self.weight_bp <= BASIS_POINTS, f"variant {self.key}: weight_bp out of range")
        _require(
            isinstance(self.payload, Mapping), f"variant {self.key}: payload must be an object"
        )


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment as the SDK evaluates it; validated on construction."""

    key: str
    salt: str
    status: str
    placement: str
    offer_kind: str
    traffic_bp: int
    placement_range_bp: tuple[int, int]
    allocation_version: int
    control: str
    variants: tuple[VariantConfig, ...]
    measurement_bp: int = 0
    segment_attribute: str | None = None
    segment_weights_bp: Mapping[str, tuple[int, ...]] = field(
        default_factory=lambda: NO_SEGMENT_WEIGHTS
    )

    def __post_init__(self) -> None:
        _validate_experiment(self)
        _validate_serving_context(self)
        # Frozen and shared between threads: keep an immutable copy, never the caller's dict.
        frozen = types.MappingProxyType(
            {value: tuple(weights) for value, weights in self.segment_weights_bp.items()}
        )
        object.__setattr__(self, "segment_weights_bp", frozen)

    @property
    def is_running(self) -> bool:
        """Return True when the experiment currently assigns visitors."""
        return self.status == RUNNING

    @cached_property
    def bounds(self) -> Bounds:
        """Integer variant ranges on the ``hash * 10**8`` scale (see ``bucketing``)."""
        return variant_bounds([v.weight_bp for v in self.variants], self.traffic_bp)

    @cached_property
    def variant_by_key(self) -> Mapping[str, VariantConfig]:
        """Variants indexed by key."""
        return types.MappingProxyType({v.key: v for v in self.variants})

    @cached_property
    def control_variant(self) -> VariantConfig:
        """The control variant, served to visitors who are not in the experiment."""
        return self.variant_by_key[self.control]

    @property
    def has_serving_context(self) -> bool:
        """Return True when assignment can depend on the request (segments or measurement)."""
        return self.measurement_bp > 0 or bool(self.segment_weights_bp)

    @cached_property
    def outcomes(self) -> ExperimentOutcomes:
        """Every context-free assignment of this experiment, built once and shared by all calls."""
        from offerlab_sdk.outcomes import ExperimentOutcomes  # outcomes imports this module

        return ExperimentOutcomes.build(self)

    @cached_property
    def compiled(self) -> CompiledExperiment:
        """This experiment's evaluator (``offerlab_sdk.evaluate.compile_experiment``), cached."""
        from offerlab_sdk.evaluate import compile_experiment  # evaluate imports this module

        return compile_experiment(self)


@dataclass(frozen=True)
class Snapshot:
    """A validated snapshot: every experiment the storefront can evaluate locally."""

    spec_version: int
    snapshot_version: str
    generated_at: str
    experiments: tuple[ExperimentConfig, ...]

    def __post_init__(self) -> None:
        _require(
            self.spec_version == SPEC_VERSION,
            f"unsupported spec_version {self.spec_version!r}, expected {SPEC_VERSION}",
        )
        _require(isinstance(self.snapshot_version, str), "snapshot_version must be a string")
        _require(_is_iso_datetime(self.generated_at), "generated_at must be an ISO-8601 datetime")
        keys = [experiment.key for experiment in self.experiments]
        _require(len(keys) == len(set(keys)), f"experiment keys must be unique: {keys}")
        _check_no_overlap(self.experiments)

    @cached_property
    def experiment_by_key(self) -> Mapping[str, ExperimentConfig]:
        """Experiments indexed by key."""
        return types.MappingProxyType({e.key: e for e in self.experiments})

    @cached_property
    def compiled_by_key(self) -> Mapping[str, CompiledExperiment]:
        """Every experiment's cached evaluator, indexed by key."""
        return {e.key: e.compiled for e in self.experiments}

    @cached_property
    def running_by_placement(self) -> Mapping[str, tuple[ExperimentConfig, ...]]:
        """Running experiments grouped by placement, in listed order."""
        grouped: dict[str, list[ExperimentConfig]] = {}
        for experiment in self.experiments:
            if experiment.is_running:
                grouped.setdefault(experiment.placement, []).append(experiment)
        return types.MappingProxyType({p: tuple(e) for p, e in grouped.items()})


def load_snapshot(text: str | bytes) -> Snapshot:
    """Parse snapshot JSON text; raise ``SnapshotError`` if it is not a valid snapshot."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise SnapshotError(f"snapshot is not valid JSON: {error}") from error
    return parse_snapshot(document)


def parse_snapshot(document: Any) -> Snapshot:
    """Build a ``Snapshot`` from decoded JSON; unknown extra fields are ignored."""
    _require(isinstance(document, Mapping), "snapshot must be a JSON object")
    experiments = _field(document, "experiments", list, "snapshot")
    return Snapshot(
        spec_version=_field(document, "spec_version", int, "snapshot"),
        snapshot_version=_field(document, "snapshot_version", str, "snapshot"),
        generated_at=_field(document, "generated_at", str, "snapshot"),
        experiments=tuple(_parse_experiment(item, i) for i, item in enumerate(experiments)),
    )


def dump_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    """Return the JSON-ready document of ``snapshot`` (inverse of ``parse_snapshot``)."""
    return {
        "spec_version": snapshot.spec_version,
        "snapshot_version": snapshot.snapshot_version,
        "generated_at": snapshot.generated_at,
        "experiments": [_dump_experiment(e) for e in snapshot.experiments],
    }


def _parse_experiment(item: Any, index: int) -> ExperimentConfig:
    where = f"experiments[{index}]"
    _require(isinstance(item, Mapping), f"{where} must be an object")
    range_bp = _field(item, "placement_range_bp", list, where)
    _require(
        len(range_bp) == 2 and all(_is_int(b) for b in range_bp),
        f"{where}.placement_range_bp must be [start, end] integers",
    )
    variants = _field(item, "variants", list, where)
    return ExperimentConfig(
        key=_field(item, "key", str, where),
        salt=_field(item, "salt", str, where),
        status=_field(item, "status", str, where),
        placement=_field(item, "placement", str, where),
        offer_kind=_field(item, "offer_kind", str, where),
        traffic_bp=_field(item, "traffic_bp", int, where),
        placement_range_bp=(range_bp[0], range_bp[1]),
        allocation_version=_field(item, "allocation_version", int, where),
        control=_field(item, "control", str, where),
        variants=tuple(_parse_variant(v, f"{where}.variants[{i}]") for i, v in enumerate(variants)),
        **_parse_serving_context(item, where),
    )


def _parse_serving_context(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The optional fields of segment weights and the measurement slice (absent: defaults)."""
    fields: dict[str, Any] = {}
    if "measurement_bp" in item:
        fields["measurement_bp"] = _field(item, "measurement_bp", int, where)
    if item.get("segment_attribute") is not None:
        fields["segment_attribute"] = _field(item, "segment_attribute", str, where)
    if "segment_weights_bp" in item:
        by_value = _field(item, "segment_weights_bp", dict, where)
        for value, weights in by_value.items():
            _require(
                isinstance(weights, list) and all(_is_int(w) for w in weights),
                f"{where}.segment_weights_bp[{value!r}] must be a list of integers",
            )
        fields["segment_weights_bp"] = {value: tuple(w) for value, w in by_value.items()}
    return fields


def _parse_variant(item: Any, where: str) -> VariantConfig:
    _require(isinstance(item, Mapping), f"{where} must be an object")
    return VariantConfig(
        key=_field(item, "key", str, where),
        name=_field(item, "name", str, where),
        weight_bp=_field(item, "weight_bp", int, where),
        payload=types.MappingProxyType(dict(_field(item, "payload", dict, where))),
    )


def _dump_experiment(experiment: ExperimentConfig) -> dict[str, Any]:
    return {
        "key": experiment.key,
        "salt": experiment.salt,
        "status": experiment.status,
        "placement": experiment.placement,
        "offer_kind": experiment.offer_kind,
        "traffic_bp": experiment.traffic_bp,
        "placement_range_bp": list(experiment.placement_range_bp),
        "allocation_version": experiment.allocation_version,
        "control": experiment.control,
        "variants": [
            {"key": v.key, "name": v.name, "weight_bp": v.weight_bp, "payload": dict(v.payload)}
            for v in experiment.variants
        ],
        **_dump_serving_context(experiment),
    }


def _dump_serving_context(experiment: ExperimentConfig) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if experiment.measurement_bp:
        fields["measurement_bp"] = experiment.measurement_bp
    if experiment.segment_attribute is not None:
        fields["segment_attribute"] = experiment.segment_attribute
    if experiment.segment_weights_bp:
        fields["segment_weights_bp"] = {
            value: list(weights) for value, weights in experiment.segment_weights_bp.items()
        }
    return fields


def _validate_experiment(experiment: ExperimentConfig) -> None:
    key = experiment.key
    _require(_is_text(key), f"experiment key must be a non-empty string: {key!r}")
    _require(
        isinstance(experiment.salt, str) and SALT_PATTERN.fullmatch(experiment.salt) is not None,
        f"experiment {key}: salt must match [A-Za-z0-9_-]+, got {experiment.salt!r}",
    )
    _require(_is_text(experiment.status), f"experiment {key}: status must be a non-empty string")
    _require(
        _is_text(experiment.placement), f"experiment {key}: placement must be a non-empty string"
    )
    _require(
        isinstance(experiment.offer_kind, str), f"experiment {key}: offer_kind must be a string"
    )
    _require(
        _is_int(experiment.allocation_version),
        f"experiment {key}: allocation_version must be an integer",
    )
    _require(
        _is_int(experiment.traffic_bp) and 0 <= experiment.traffic_bp <= BASIS_POINTS,
        f"experiment {key}: traffic_bp must be an integer in 0..10000",
    )
    _check_range(key, experiment.placement_range_bp)
    _check_variants(key, experiment.variants, experiment.control)


def _validate_serving_context(experiment: ExperimentConfig) -> None:
    key, measurement_bp = experiment.key, experiment.measurement_bp
    _require(
        _is_int(measurement_bp) and 0 <= measurement_bp <= BASIS_POINTS,
        f"experiment {key}: measurement_bp must be an integer in 0..10000, got {measurement_bp!r}",
    )
    attribute, by_value = experiment.segment_attribute, experiment.segment_weights_bp
    _require(
        attribute is None or _is_text(attribute),
        f"experiment {key}: segment_attribute must be a non-empty string or null",
    )
    _require(
        isinstance(by_value, Mapping), f"experiment {key}: segment_weights_bp must be an object"
    )
    _require(
        attribute is not None or not by_value,
        f"experiment {key}: segment_weights_bp needs a segment_attribute",
    )
    for value, weights in by_value.items():
        _check_segment_weights(key, len(experiment.variants), value, weights)


def _check_segment_weights(key: str, variant_count: int, value: Any, weights: Any) -> None:
    where = f"experiment {key}: segment_weights_bp[{value!r}]"
    _require(isinstance(value, str), f"{where}: segment values must be strings")
    _require(
        isinstance(weights, Sequence) and not isinstance(weights, str),
        f"{where} must be a list of integers",
    )
    _require(
        len(weights) == variant_count,
        f"{where} needs one weight per variant ({variant_count}), got {len(weights)}",
    )
    _require(
        all(_is_int(w) and 0 <= w <= BASIS_POINTS for w in weights),
        f"{where}: weights must be integers in 0..10000",
    )
    _require(
        sum(weights) == BASIS_POINTS, f"{where}: weights must sum to 10000, got {sum(weights)}"
    )


def _check_range(key: str, range_bp: tuple[int, int]) -> None:
    valid = (
        isinstance(range_bp, tuple)
        and len(range_bp) == 2
        and all(_is_int(b) for b in range_bp)
        and 0 <= range_bp[0] <= range_bp[1] <= BASIS_POINTS
    )
    _require(
        valid,
        f"experiment {key}: placement_range_bp must satisfy 0 <= start <= end <= 10000,"
        f" got {range_bp!r}",
    )


def _check_variants(key: str, variants: Sequence[VariantConfig], control: str) -> None:
    _require(len(variants) > 0, f"experiment {key}: needs at least one variant")
    _require(
        all(isinstance(v, VariantConfig) for v in variants),
        f"experiment {key}: variants must be VariantConfig",
    )
    keys = [v.key for v in variants]
    _require(len(keys) == len(set(keys)), f"experiment {key}: variant keys must be unique: {keys}")
    total = sum(v.weight_bp for v in variants)
    _require(total == BASIS_POINTS, f"experiment {key}: weight_bp must sum to 10000, got {total}")
    _require(control in keys, f"experiment {key}: control {control!r} is not one of {keys}")


def _check_no_overlap(experiments: Sequence[ExperimentConfig]) -> None:
    by_placement: dict[str, list[ExperimentConfig]] = {}
    for experiment in experiments:
        if experiment.is_running:
            by_placement.setdefault(experiment.placement, []).append(experiment)
    for placement, running in by_placement.items():
        ordered = sorted(running, key=lambda e: e.placement_range_bp)
        for before, after in zip(ordered, ordered[1:], strict=False):
            _require(
                before.placement_range_bp[1] <= after.placement_range_bp[0],
                f"placement {placement}: running experiments {before.key} and {after.key}"
                " have overlapping placement_range_bp",
            )


def _field(document: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    _require(name in document, f"{where}: missing field {name!r}")
    value = document[name]
    valid = _is_int(value) if kind is int else isinstance(value, kind)
    _require(valid, f"{where}.{name} must be of type {kind.__name__}, got {value!r}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SnapshotError(message)
