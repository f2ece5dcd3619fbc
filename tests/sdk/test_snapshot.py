"""Snapshot parsing: valid documents round-trip, invalid ones are rejected, never repaired."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from offerlab_sdk import Snapshot, SnapshotError
from offerlab_sdk.snapshot import (
    ExperimentConfig,
    VariantConfig,
    dump_snapshot,
    load_snapshot,
    parse_snapshot,
)

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def document(helpers: Any) -> dict[str, Any]:
    return helpers.snapshot(
        helpers.experiment(
            "cart-accessory-cross-sell", weights=(5000, 3000, 2000), range_bp=(0, 6000)
        ),
        helpers.experiment("cart-free-shipping-nudge", range_bp=(6000, 10000)),
        helpers.experiment("checkout-warranty-price", placement="checkout", status="paused"),
    )


def test_valid_snapshot_parses_into_frozen_dataclasses(document: dict[str, Any]) -> None:
    snapshot = parse_snapshot(document)
    assert isinstance(snapshot, Snapshot)
    first = snapshot.experiments[0]
    assert first.key == "cart-accessory-cross-sell"
    assert first.placement_range_bp == (0, 6000)
    assert [v.weight_bp for v in first.variants] == [5000, 3000, 2000]
    assert first.control_variant.key == "no-offer"
    assert set(snapshot.running_by_placement) == {"cart"}
    with pytest.raises(AttributeError):
        first.traffic_bp = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.variants[1].payload["sku"] = "OTHER"  # type: ignore[index]


def test_dump_is_the_inverse_of_parse(document: dict[str, Any]) -> None:
    assert dump_snapshot(parse_snapshot(document)) == document
    assert load_snapshot(json.dumps(document).encode()) == parse_snapshot(document)


def test_unknown_fields_are_ignored(document: dict[str, Any]) -> None:
    extended = copy.deepcopy(document)
    extended["etag_hint"] = "x"
    extended["experiments"][0]["targeting"] = {"country": ["DE"]}
    extended["experiments"][0]["variants"][0]["color"] = "red"
    assert parse_snapshot(extended) == parse_snapshot(document)


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        *parents, last = path.split("/")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return mutate


INVALID: list[tuple[str, Mutation, str]] = [
    ("spec version", _set("spec_version", 2), "unsupported spec_version"),
    ("spec version bool", _set("spec_version", True), "spec_version must be of type int"),
    ("missing experiments", _delete("experiments"), "missing field 'experiments'"),
    ("generated_at", _set("generated_at", "yesterday"), "generated_at"),
    ("weights sum", _set("experiments/0/variants/0/weight_bp", 4000), "must sum to 10000"),
    ("negative weight", _set("experiments/0/variants/0/weight_bp", -1), "weight_bp out of range"),
    (
        "float weight",
        _set("experiments/0/variants/0/weight_bp", 5000.0),
        "weight_bp must be of type int",
    ),
    ("control", _set("experiments/0/control", "nothing"), "control 'nothing' is not one of"),
    (
        "traffic high",
        _set("experiments/0/traffic_bp", 10001),
        "traffic_bp must be an integer in 0..10000",
    ),
    (
        "traffic low",
        _set("experiments/0/traffic_bp", -1),
        "traffic_bp must be an integer in 0..10000",
    ),
    (
        "range order",
        _set("experiments/0/placement_range_bp", [6000, 0]),
        "0 <= start <= end <= 10000",
    ),
    (
        "range high",
        _set("experiments/1/placement_range_bp", [6000, 10001]),
        "0 <= start <= end <= 10000",
    ),
    ("range shape", _set("experiments/0/placement_range_bp", [0]), "must be \\[start, end\\]"),
    (
        "duplicate experiment",
        _set("experiments/2/key", "cart-accessory-cross-sell"),
        "experiment keys must be unique",
    ),
    (
        "duplicate variant",
        _set("experiments/1/variants/1/key", "no-offer"),
        "variant keys must be unique",
    ),
    ("salt with a dot", _set("experiments/0/salt", "a.b"), "salt must match"),
    ("empty key", _set("experiments/0/key", ""), "experiment key must be a non-empty string"),
    ("payload type", _set("experiments/0/variants/0/payload", [1]), "payload must be of type dict"),
    ("no variants", _set("experiments/2/variants", []), "needs at least one variant"),
    (
        "overlap",
        _set("experiments/1/placement_range_bp", [5000, 10000]),
        "overlapping placement_range_bp",
    ),
    ("not an object", _set("experiments/0", "cart"), "experiments\\[0\\] must be an object"),
]


@pytest.mark.parametrize(
    ("mutation", "message"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID]
)
def test_invalid_snapshots_are_rejected(
    document: dict[str, Any], mutation: Mutation, message: str
) -> None:
    broken = copy.deepcopy(document)
    mutation(broken)
    with pytest.raises(SnapshotError, match=message):
        parse_snapshot(broken)


def test_overlap_between_a_running_and_a_paused_experiment_is_allowed(
    document: dict[str, Any],
) -> None:
    document["experiments"][2]["placement"] = "cart"
    assert len(parse_snapshot(document).running_by_placement["cart"]) == 2


@pytest.mark.parametrize("text", [b"", b"{", b"[]", b"\xff\xfe", b"null"])
def test_non_snapshot_text_is_rejected(text: bytes) -> None:
    with pytest.raises(SnapshotError):
        load_snapshot(text)


def test_configs_built_directly_are_validated_too() -> None:
    variants = (VariantConfig("a", "A", 5000, {}), VariantConfig("b", "B", 4000, {}))
    with pytest.raises(SnapshotError, match="must sum to 10000"):
        ExperimentConfig("k", "k", "running", "cart", "upsell", 10000, (0, 10000), 1, "a", variants)
