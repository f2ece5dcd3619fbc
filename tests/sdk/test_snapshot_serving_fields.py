"""The optional serving-context fields of a snapshot experiment: parsed, frozen, validated."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from offerlab_sdk import SnapshotError
from offerlab_sdk.snapshot import ExperimentConfig, dump_snapshot, parse_snapshot

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def document(helpers: Any) -> dict[str, Any]:
    return helpers.snapshot(
        helpers.experiment(
            "cart-bandit",
            weights=(5000, 3000, 2000),
            measurement_bp=1500,
            segment_attribute="device",
            segment_weights_bp={"mobile": [1000, 1000, 8000], "true": [0, 0, 10000]},
        )
    )


def experiment_of(document: dict[str, Any]) -> ExperimentConfig:
    return parse_snapshot(document).experiments[0]


def test_fields_are_parsed_and_round_trip(document: dict[str, Any]) -> None:
    experiment = experiment_of(document)
    assert experiment.measurement_bp == 1500
    assert experiment.segment_attribute == "device"
    assert dict(experiment.segment_weights_bp) == {
        "mobile": (1000, 1000, 8000),
        "true": (0, 0, 10000),
    }
    assert dump_snapshot(parse_snapshot(document)) == document


def test_absent_fields_mean_todays_behaviour(helpers: Any) -> None:
    document = helpers.snapshot(helpers.experiment("plain"))
    experiment = experiment_of(document)
    assert (experiment.measurement_bp, experiment.segment_attribute) == (0, None)
    assert dict(experiment.segment_weights_bp) == {}
    assert not experiment.has_serving_context
    assert dump_snapshot(parse_snapshot(document)) == document
    with_null = copy.deepcopy(document)
    with_null["experiments"][0]["segment_attribute"] = None
    assert experiment_of(with_null) == experiment


def test_segment_weights_are_immutable_and_detached_from_the_input(
    document: dict[str, Any],
) -> None:
    experiment = experiment_of(document)
    document["experiments"][0]["segment_weights_bp"]["mobile"][0] = 9999
    assert experiment.segment_weights_bp["mobile"] == (1000, 1000, 8000)
    with pytest.raises(TypeError):
        experiment.segment_weights_bp["tablet"] = (10000, 0, 0)  # type: ignore[index]


def set_field(name: str, value: Any) -> Mutation:
    def mutate(experiment: dict[str, Any]) -> None:
        experiment[name] = value

    return mutate


def set_segment(value: str, weights: Any) -> Mutation:
    def mutate(experiment: dict[str, Any]) -> None:
        experiment["segment_weights_bp"][value] = weights

    return mutate


def drop_attribute(experiment: dict[str, Any]) -> None:
    del experiment["segment_attribute"]


INVALID: list[tuple[Mutation, str]] = [
    (set_field("measurement_bp", -1), "measurement_bp must be an integer in 0..10000"),
    (set_field("measurement_bp", 10001), "measurement_bp must be an integer in 0..10000"),
    (set_field("measurement_bp", 0.5), "measurement_bp must be of type int"),
    (set_field("measurement_bp", True), "measurement_bp must be of type int"),
    (set_field("segment_attribute", ""), "segment_attribute must be a non-empty string"),
    (set_field("segment_attribute", 3), "segment_attribute must be of type str"),
    (drop_attribute, "segment_weights_bp needs a segment_attribute"),
    (set_field("segment_weights_bp", [1]), "segment_weights_bp must be of type dict"),
    (set_segment("tablet", [5000, 5000]), "needs one weight per variant"),
    (set_segment("tablet", [5000, 3000, 1000]), "must sum to 10000"),
    (set_segment("tablet", [5000, 5000.0, 0]), "must be a list of integers"),
    (set_segment("tablet", [11000, -1000, 0]), "integers in 0..10000"),
    (set_segment("tablet", {"a": 1}), "must be a list of integers"),
]


@pytest.mark.parametrize(("mutate", "message"), INVALID)
def test_invalid_serving_fields_are_rejected(
    document: dict[str, Any], mutate: Mutation, message: str
) -> None:
    broken = copy.deepcopy(document)
    mutate(broken["experiments"][0])
    with pytest.raises(SnapshotError, match=message):
        parse_snapshot(broken)


def test_configs_built_directly_are_validated_too(document: dict[str, Any]) -> None:
    experiment = experiment_of(document)
    fields = {name: getattr(experiment, name) for name in experiment.__dataclass_fields__}
    with pytest.raises(SnapshotError, match="segment values must be strings"):
        ExperimentConfig(**fields | {"segment_weights_bp": {1: (10000, 0, 0)}})
    with pytest.raises(SnapshotError, match="measurement_bp"):
        ExperimentConfig(**fields | {"measurement_bp": None})
