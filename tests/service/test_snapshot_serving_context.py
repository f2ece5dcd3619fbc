"""The snapshot carries a bandit's measurement slice and per-segment weights to the SDK."""

from __future__ import annotations

from typing import Any

import pytest

from offerlab.services.snapshots import _experiment_config
from offerlab.storage.tables import AllocationRow, ExperimentRow, VariantRow
from offerlab_sdk.evaluate import evaluate
from offerlab_sdk.snapshot import parse_snapshot

RANGES = {"cart-bandit": (0, 10000)}


def experiment_row(allocation: str, bandit_options: dict[str, Any] | None) -> ExperimentRow:
    variants = [
        VariantRow(key=key, name=key, position=i, weight=w, payload={})
        for i, (key, w) in enumerate([("no-offer", 0.5), ("case", 0.25), ("charger", 0.25)])
    ]
    return ExperimentRow(
        key="cart-bandit",
        salt="cart-bandit",
        status="running",
        placement="cart",
        offer_kind="cross_sell",
        traffic=1.0,
        allocation=allocation,
        control_key="no-offer",
        bandit_options=bandit_options,
        variants=variants,
    )


def allocation_row(segment_weights: dict[str, dict[str, float]] | None) -> AllocationRow:
    return AllocationRow(
        version=4,
        weights={"no-offer": 0.2, "case": 0.3, "charger": 0.5},
        reason="update",
        segment_weights=segment_weights,
    )


def document(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "spec_version": 1,
        "snapshot_version": "t",
        "generated_at": "2026-11-26T10:00:00+00:00",
        "experiments": [config],
    }


def test_bandit_options_and_segment_weights_reach_the_snapshot() -> None:
    row = experiment_row(
        "thompson", {"measurement_share": 0.15, "segment_attribute": "device", "other": 1}
    )
    segments = {"mobile": {"no-offer": 1 / 3, "case": 1 / 3, "charger": 1 / 3}, "1": {"case": 1.0}}
    config = _experiment_config(row, allocation_row(segments), RANGES)
    assert config["measurement_bp"] == 1500
    assert config["segment_attribute"] == "device"
    assert config["segment_weights_bp"] == {"mobile": [3334, 3333, 3333], "1": [0, 10000, 0]}
    assert [v["weight_bp"] for v in config["variants"]] == [2000, 3000, 5000]
    experiment = parse_snapshot(document(config)).experiments[0]
    unmeasured = [
        a
        for a in (evaluate(experiment, f"v{n}", attributes={"device": 1}) for n in range(500))
        if not a.measurement
    ]
    assert {a.variant for a in unmeasured} == {"case"}
    assert 0 < 500 - len(unmeasured) < 150, "about 15% of visitors are in the measurement slice"


def test_a_bandit_without_the_options_has_no_new_fields() -> None:
    config = _experiment_config(experiment_row("ucb1", None), allocation_row(None), RANGES)
    assert not {"measurement_bp", "segment_attribute", "segment_weights_bp"} & set(config)


def test_a_segment_attribute_before_the_first_segment_epoch_serves_pooled_weights() -> None:
    row = experiment_row("thompson", {"segment_attribute": "device"})
    config = _experiment_config(row, allocation_row(None), RANGES)
    assert (config["segment_attribute"], config["segment_weights_bp"]) == ("device", {})
    assert "measurement_bp" not in config


def test_a_rolled_out_bandit_serves_its_winner_without_slice_or_segments() -> None:
    row = experiment_row("thompson", {"measurement_share": 0.3, "segment_attribute": "device"})
    rollout = AllocationRow(
        version=6,
        weights={"no-offer": 0.1, "case": 0.9, "charger": 0.0},
        reason="rollout",
        # Even segment weights left on a roll-out epoch are not served.
        segment_weights={"mobile": {"no-offer": 0.0, "case": 0.0, "charger": 1.0}},
    )
    config = _experiment_config(row, rollout, RANGES)
    assert not {"measurement_bp", "segment_attribute", "segment_weights_bp"} & set(config)
    assert [v["weight_bp"] for v in config["variants"]] == [1000, 9000, 0]
    assert config["allocation_version"] == 6
    experiment = parse_snapshot(document(config)).experiments[0]
    answers = [evaluate(experiment, f"v{n}", attributes={"device": "mobile"}) for n in range(500)]
    assert not any(a.measurement for a in answers)
    assert {(a.variant, a.probability) for a in answers} == {("no-offer", 0.1), ("case", 0.9)}


def test_before_the_rollout_the_same_bandit_serves_its_slice_and_segments() -> None:
    row = experiment_row("thompson", {"measurement_share": 0.3, "segment_attribute": "device"})
    recommended = AllocationRow(
        version=5,
        weights={"no-offer": 0.1, "case": 0.8, "charger": 0.1},
        reason="winner",
        segment_weights={"mobile": {"no-offer": 0.1, "case": 0.1, "charger": 0.8}},
    )
    config = _experiment_config(row, recommended, RANGES)
    assert config["measurement_bp"] == 3000
    assert config["segment_weights_bp"] == {"mobile": [1000, 1000, 8000]}


@pytest.mark.parametrize("options", [{"measurement_share": 0.2, "segment_attribute": "device"}])
def test_fixed_splits_ignore_bandit_options(options: dict[str, Any]) -> None:
    config = _experiment_config(experiment_row("fixed", options), None, RANGES)
    assert not {"measurement_bp", "segment_attribute", "segment_weights_bp"} & set(config)
    assert [v["weight_bp"] for v in config["variants"]] == [5000, 2500, 2500]
