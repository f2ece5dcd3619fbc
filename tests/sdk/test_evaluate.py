"""Local evaluation: check order, control for visitors who are not counted, placement slices."""

from __future__ import annotations

import math
from typing import Any

import pytest

from offerlab_sdk import Reason
from offerlab_sdk.evaluate import evaluate, offer_for
from offerlab_sdk.snapshot import Snapshot, parse_snapshot

VISITORS = [f"visitor-{n}" for n in range(20_000)]


@pytest.fixture
def snapshot(helpers: Any) -> Snapshot:
    return parse_snapshot(
        helpers.snapshot(
            helpers.experiment(
                "cart-accessory-cross-sell",
                weights=(2000, 8000),
                traffic_bp=5000,
                range_bp=(0, 2500),
                allocation_version=7,
            ),
            helpers.experiment("cart-free-shipping-nudge", range_bp=(2500, 10000)),
            helpers.experiment("checkout-warranty-price", placement="checkout", status="stopped"),
        )
    )


def test_unknown_experiment_falls_back_without_a_variant() -> None:
    assignment = evaluate(None, "visitor-1")
    assert (assignment.reason, assignment.variant, assignment.in_experiment) == (
        Reason.FALLBACK,
        None,
        False,
    )


def test_not_running_serves_control_uncounted(snapshot: Snapshot) -> None:
    assignment = evaluate(snapshot.experiment_by_key["checkout-warranty-price"], "visitor-1")
    assert assignment.reason is Reason.NOT_RUNNING
    assert assignment.variant == "no-offer" and assignment.payload == {"sku": "NO-OFFER"}
    assert not assignment.in_experiment and assignment.probability is None


def test_every_visitor_gets_exactly_one_consistent_reason(snapshot: Snapshot) -> None:
    experiment = snapshot.experiment_by_key["cart-accessory-cross-sell"]
    reasons: dict[Reason, int] = {}
    for visitor_id in VISITORS:
        assignment = evaluate(experiment, visitor_id)
        reasons[assignment.reason] = reasons.get(assignment.reason, 0) + 1
        if assignment.in_experiment:
            weight = experiment.variant_by_key[assignment.variant].weight_bp  # type: ignore[index]
            assert assignment.probability == weight / 10_000
            assert assignment.allocation_version == 7
        else:
            assert assignment.variant == "no-offer" and assignment.probability is None
    # Shares: 75 % other slice, then half of the 25 % outside traffic (binomial |z| < 3.29).
    expected = {
        Reason.OTHER_EXPERIMENT: 0.75,
        Reason.OUTSIDE_TRAFFIC: 0.125,
        Reason.IN_EXPERIMENT: 0.125,
    }
    for reason, share in expected.items():
        z = (reasons[reason] - len(VISITORS) * share) / math.sqrt(
            len(VISITORS) * share * (1 - share)
        )
        assert abs(z) < 3.29, (reason, reasons)


def test_offer_for_splits_a_placement_between_its_experiments(snapshot: Snapshot) -> None:
    owners = [offer_for(snapshot, "cart", v).experiment for v in VISITORS]
    share = owners.count("cart-accessory-cross-sell") / len(VISITORS)
    assert abs(share - 0.25) < 3.29 * math.sqrt(0.25 * 0.75 / len(VISITORS))
    assert owners.count(None) == 0
    for visitor_id in VISITORS[:500]:
        assignment = offer_for(snapshot, "cart", visitor_id)
        assert assignment == evaluate(snapshot.experiment_by_key[assignment.experiment], visitor_id)  # type: ignore[index]
        assert assignment.reason is not Reason.OTHER_EXPERIMENT


def test_offer_for_with_nothing_running_or_no_snapshot(snapshot: Snapshot) -> None:
    assert offer_for(snapshot, "checkout", "visitor-1").reason is Reason.NO_EXPERIMENT
    assert offer_for(snapshot, "email", "visitor-1").reason is Reason.NO_EXPERIMENT
    assert offer_for(None, "cart", "visitor-1").reason is Reason.FALLBACK


def test_reason_is_a_string_enum() -> None:
    assert Reason.OUTSIDE_TRAFFIC == "outside_traffic"
    assert str(Reason.STICKY) == "sticky"
