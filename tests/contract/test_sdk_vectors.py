"""The SDK's hashing and evaluation reproduce the frozen spec vectors exactly."""

from __future__ import annotations

from typing import Any

import pytest

from offerlab_sdk import bucketing
from offerlab_sdk.evaluate import evaluate, offer_for
from offerlab_sdk.snapshot import Snapshot, parse_snapshot


@pytest.fixture(scope="module")
def parsed_snapshots(evaluation_snapshots: dict[str, dict[str, Any]]) -> dict[str, Snapshot]:
    return {name: parse_snapshot(document) for name, document in evaluation_snapshots.items()}


def test_vectors_cover_the_spec(load_vectors: Any) -> None:
    bucketing_vectors = load_vectors("bucketing-v1.json")
    evaluation = load_vectors("evaluation-v1.json")
    variant_cases = bucketing_vectors["variant_cases"]
    assert len(variant_cases) + len(bucketing_vectors["placement_cases"]) >= 1000
    ids = {case["visitor_id"] for case in variant_cases}
    assert any(not vid.isascii() for vid in ids)
    assert any(ord(ch) > 0xFFFF for vid in ids for ch in vid), "needs astral-plane (emoji) ids"
    assert {case["traffic_bp"] for case in variant_cases} >= {10000, 5000, 1, 0}
    reasons = {case["expected"]["reason"] for case in evaluation["cases"]}
    assert reasons == {
        "in_experiment",
        "outside_traffic",
        "other_experiment",
        "not_running",
        "fallback",
        "no_experiment",
    }


def test_hash_matches(hash_case: dict[str, Any]) -> None:
    assert hash_case["input"].encode("utf-8").hex() == hash_case["utf8_hex"]
    assert bucketing.hash_uint32(hash_case["input"]) == hash_case["hash"]


def test_variant_index_matches(variant_case: dict[str, Any]) -> None:
    text = bucketing.experiment_input(variant_case["salt"], variant_case["visitor_id"])
    assert bucketing.hash_uint32(text) == variant_case["hash"]
    index = bucketing.variant_index(
        variant_case["salt"],
        variant_case["visitor_id"],
        variant_case["weights_bp"],
        variant_case["traffic_bp"],
    )
    assert index == variant_case["variant_index"]


def test_placement_range_matches(placement_case: dict[str, Any]) -> None:
    text = bucketing.placement_input(placement_case["placement"], placement_case["visitor_id"])
    assert bucketing.hash_uint32(text) == placement_case["hash"]
    inside = bucketing.in_placement_range(
        placement_case["placement"], placement_case["visitor_id"], tuple(placement_case["range_bp"])
    )
    assert inside is placement_case["in_range"]


def test_evaluation_matches(
    evaluation_case: dict[str, Any], parsed_snapshots: dict[str, Snapshot]
) -> None:
    name = evaluation_case["snapshot"]
    snapshot = None if name is None else parsed_snapshots[name]
    visitor_id = evaluation_case["visitor_id"]
    if evaluation_case["call"] == "evaluate":
        assert snapshot is not None
        experiment = snapshot.experiment_by_key.get(evaluation_case["experiment"])
        assignment = evaluate(experiment, visitor_id)
    else:
        assignment = offer_for(snapshot, evaluation_case["placement"], visitor_id)
    expected = evaluation_case["expected"]
    actual = {
        "experiment": assignment.experiment,
        "variant": assignment.variant,
        "payload": None if assignment.payload is None else dict(assignment.payload),
        "in_experiment": assignment.in_experiment,
        "reason": str(assignment.reason),
        "allocation_version": assignment.allocation_version,
        "probability": assignment.probability,
    }
    assert actual == expected
