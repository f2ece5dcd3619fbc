"""The SDK's serving context (segments, eligibility, measurement slice) reproduces its vectors."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from assignment_answers import answer_of

from offerlab_sdk import bucketing
from offerlab_sdk.evaluate import evaluate
from offerlab_sdk.snapshot import Snapshot, parse_snapshot


@pytest.fixture(scope="module")
def parsed(serving_snapshots: dict[str, dict[str, Any]]) -> dict[str, Snapshot]:
    return {name: parse_snapshot(document) for name, document in serving_snapshots.items()}


def test_vectors_cover_every_serving_rule(load_vectors: Any) -> None:
    document = load_vectors("serving-v1.json")
    expected = [case["expected"] for case in document["cases"]]
    assert {e["reason"] for e in expected} == {
        "in_experiment",
        "outside_traffic",
        "other_experiment",
        "not_running",
        "not_eligible",
    }
    counted = [e for e in expected if e["in_experiment"]]
    combinations = Counter((e["measurement"], e["eligible"] is not None) for e in counted)
    assert set(combinations) == {(False, False), (False, True), (True, False), (True, True)}
    fractions = {e["probability_fraction"] for e in counted}
    assert {"4/5", "3334/6667", "1/1"} <= fractions, "segment hits and renormalised weights"
    attribute_values = {
        repr(value) for case in document["cases"] for value in (case["attributes"] or {}).values()
    }
    assert {"1", "True", "False", "1.0", "None", "'1'"} <= attribute_values
    assert {case["in_slice"] for case in document["measurement_cases"]} == {True, False}


def test_measurement_slice_matches(measurement_case: dict[str, Any]) -> None:
    visitor_id = measurement_case["visitor_id"]
    assert bucketing.measurement_input(visitor_id) == measurement_case["input"]
    hash_value = bucketing.hash_uint32(measurement_case["input"])
    assert hash_value == measurement_case["hash"]
    inside = bucketing.in_measurement_slice(hash_value, measurement_case["measurement_bp"])
    assert inside is measurement_case["in_slice"]


def test_serving_evaluation_matches(
    serving_case: dict[str, Any], parsed: dict[str, Snapshot]
) -> None:
    experiment = parsed[serving_case["snapshot"]].experiment_by_key[serving_case["experiment"]]
    assignment = evaluate(
        experiment,
        serving_case["visitor_id"],
        attributes=serving_case["attributes"],
        ineligible=serving_case["ineligible"],
    )
    expected = dict(serving_case["expected"])
    fraction = expected.pop("probability_fraction")
    assert answer_of(assignment) == expected
    if fraction is not None:
        assert assignment.probability == float(Fraction(fraction))
