"""Evaluation with request context: segment weights, eligibility, the measurement slice.

Split checks use a binomial band at z = 3.29 (two-sided alpha 0.001 per check), as PlanOut does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from offerlab_sdk import Reason
from offerlab_sdk.bucketing import variant_bounds, weighted_bounds
from offerlab_sdk.context import segment_value
from offerlab_sdk.evaluate import evaluate, offer_for
from offerlab_sdk.snapshot import ExperimentConfig, parse_snapshot

KEY = "cart-accessory-cross-sell"
VISITORS = [f"visitor-{n}" for n in range(20_000)]
Z = 3.29


def config(helpers: Any, **options: Any) -> ExperimentConfig:
    document = helpers.snapshot(helpers.experiment(KEY, **options))
    return parse_snapshot(document).experiment_by_key[KEY]


def assert_share(count: int, total: int, probability: float) -> None:
    band = Z * math.sqrt(probability * (1 - probability) / total)
    assert abs(count / total - probability) <= band + 1e-12, (count, total, probability)


def split(experiment: ExperimentConfig, **context: Any) -> Counter[tuple[Any, ...]]:
    return Counter(
        (a.variant, a.reason, a.probability, a.measurement, a.eligible)
        for a in (evaluate(experiment, v, **context) for v in VISITORS)
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("mobile", "mobile"),
        ("", ""),
        (1, "1"),
        (-7, "-7"),
        (True, "true"),
        (False, "false"),
        (1.0, None),
        (2.5, None),
        (None, None),
        (["mobile"], None),
        ({"a": 1}, None),
    ],
)
def test_segment_value_text(value: Any, text: str | None) -> None:
    assert segment_value(value) == text


@pytest.mark.parametrize(
    "weights",
    [(10000,), (5000, 5000), (3334, 3333, 3333), (1, 9999), (5000, 0, 5000), (0, 0, 10000)],
)
@pytest.mark.parametrize("traffic_bp", [10000, 5000, 1, 0])
def test_weighted_bounds_equal_variant_bounds_when_weights_sum_to_10000(
    weights: tuple[int, ...], traffic_bp: int
) -> None:
    assert weighted_bounds(weights, traffic_bp) == variant_bounds(weights, traffic_bp)


def test_weighted_bounds_scale_free() -> None:
    assert weighted_bounds((1, 2, 1), 7000) == weighted_bounds((2500, 5000, 2500), 7000)
    with pytest.raises(ValueError):
        weighted_bounds((0, 0), 10000)


def test_segment_weights_apply_to_matching_visitors_only(helpers: Any) -> None:
    experiment = config(
        helpers,
        weights=(5000, 5000),
        segment_attribute="device",
        segment_weights_bp={"mobile": [2000, 8000], "1": [10000, 0], "true": [0, 10000]},
    )
    mobile = split(experiment, attributes={"device": "mobile"})
    assert {(v, p) for v, _, p, *_ in mobile} == {("no-offer", 0.2), ("case", 0.8)}
    assert_share(sum(n for k, n in mobile.items() if k[0] == "case"), len(VISITORS), 0.8)
    assert set(split(experiment, attributes={"device": 1})) == {
        ("no-offer", Reason.IN_EXPERIMENT, 1.0, False, None)
    }
    assert split(experiment, attributes={"device": "1"}) == split(
        experiment, attributes={"device": 1}
    )
    assert {k[0] for k in split(experiment, attributes={"device": True})} == {"case"}
    default = split(experiment)
    for other in ({"device": "tablet"}, {"device": 1.0}, {"device": None}, {"os": "mobile"}, {}):
        assert split(experiment, attributes=other) == default


def test_probability_is_the_chance_of_the_variant_for_that_request(helpers: Any) -> None:
    """Among requests of one context, each variant turns up at its reported probability."""
    experiment = config(
        helpers,
        weights=(3000, 3000, 4000),
        measurement_bp=2500,
        segment_attribute="device",
        segment_weights_bp={"mobile": [1000, 6000, 3000]},
    )
    outcomes = split(experiment, attributes={"device": "mobile"}, ineligible=["charger"])
    by_slice: dict[bool, int] = Counter()
    for (_, _, _, measured, _), count in outcomes.items():
        by_slice[measured] += count
    assert_share(by_slice[True], len(VISITORS), 0.25)
    for (variant, reason, probability, measured, eligible), count in outcomes.items():
        assert (reason, eligible) == (Reason.IN_EXPERIMENT, ("no-offer", "case"))
        expected = 0.5 if measured else {"no-offer": 1 / 7, "case": 6 / 7}[variant]
        assert probability == expected
        assert_share(count, by_slice[measured], expected)


def test_same_request_same_variant_and_unknown_keys_are_ignored(helpers: Any) -> None:
    experiment = config(helpers, weights=(3334, 3333, 3333))
    for visitor_id in VISITORS[:2000]:
        narrowed = evaluate(experiment, visitor_id, ineligible=["case"])
        assert narrowed == evaluate(experiment, visitor_id, ineligible=("case", "case"))
        assert narrowed.variant in ("no-offer", "charger")
        expected = {"no-offer": 3334 / 6667, "charger": 3333 / 6667}[narrowed.variant]
        assert (narrowed.probability, narrowed.eligible) == (expected, ("no-offer", "charger"))
        unknown = evaluate(experiment, visitor_id, ineligible={"gone", "also-gone"})
        assert unknown == evaluate(experiment, visitor_id)
        assert unknown.eligible is None


def test_no_eligible_weight_serves_the_control_uncounted(helpers: Any) -> None:
    experiment = config(helpers, weights=(5000, 5000, 0))
    for ineligible in (["no-offer", "case", "charger"], ["no-offer", "case"]):
        outcomes = split(experiment, ineligible=ineligible)
        assert set(outcomes) == {("no-offer", Reason.NOT_ELIGIBLE, None, False, None)}
        assert not evaluate(experiment, "visitor-1", ineligible=ineligible).in_experiment


def test_measurement_slice_is_uniform_over_eligible_variants_even_at_weight_zero(
    helpers: Any,
) -> None:
    experiment = config(helpers, weights=(10000, 0, 0), measurement_bp=3000)
    outcomes = split(experiment, ineligible=["no-offer"])
    measured = {k: n for k, n in outcomes.items() if k[3]}
    assert {k[0] for k in measured} == {"case", "charger"}
    assert {k[2] for k in measured} == {0.5}
    unmeasured = {k for k in outcomes if not k[3]}
    assert unmeasured == {("no-offer", Reason.NOT_ELIGIBLE, None, False, None)}
    assert_share(sum(measured.values()), len(VISITORS), 0.3)


def test_measurement_slice_is_the_same_for_every_experiment(helpers: Any) -> None:
    first = config(helpers, measurement_bp=4000)
    second = parse_snapshot(
        helpers.snapshot(helpers.experiment("other-salt", measurement_bp=4000))
    ).experiment_by_key["other-salt"]
    for visitor_id in VISITORS[:3000]:
        assert evaluate(first, visitor_id).measurement == evaluate(second, visitor_id).measurement


@pytest.mark.parametrize(
    "options",
    [
        {"weights": (3334, 3333, 3333)},
        {"weights": (2000, 8000), "traffic_bp": 4000, "range_bp": (1000, 6000)},
        {"weights": (5000, 5000), "measurement_bp": 1500, "traffic_bp": 7000},
        {"weights": (5000, 5000), "status": "paused", "measurement_bp": 1500},
    ],
)
def test_fast_path_and_context_path_agree(helpers: Any, options: dict[str, Any]) -> None:
    experiment = config(helpers, **options)
    for visitor_id in VISITORS[:3000]:
        assert evaluate(experiment, visitor_id) == evaluate(experiment, visitor_id, attributes={})


def test_not_running_and_other_experiment_come_before_eligibility(helpers: Any) -> None:
    paused = config(helpers, status="paused")
    assert evaluate(paused, "v", ineligible=["no-offer", "case"]).reason is Reason.NOT_RUNNING
    elsewhere = config(helpers, range_bp=(0, 0))
    assert evaluate(elsewhere, "v", ineligible=["no-offer", "case"]).reason is (
        Reason.OTHER_EXPERIMENT
    )


def test_traffic_applies_inside_the_renormalised_ranges(helpers: Any) -> None:
    experiment = config(helpers, weights=(2000, 3000, 5000), traffic_bp=2500)
    outcomes = split(experiment, ineligible=["charger"])
    inside = sum(n for k, n in outcomes.items() if k[1] is Reason.IN_EXPERIMENT)
    assert_share(inside, len(VISITORS), 0.25)
    assert {k[2] for k in outcomes if k[1] is Reason.IN_EXPERIMENT} == {0.4, 0.6}


def test_attributes_travel_with_the_assignment_as_a_frozen_copy(helpers: Any) -> None:
    experiment = config(helpers, segment_attribute="device")
    attributes = {"device": "mobile", "returning": True}
    assignment = evaluate(experiment, "visitor-1", attributes=attributes)
    attributes["device"] = "desktop"
    assert isinstance(assignment.attributes, Mapping)
    assert dict(assignment.attributes) == {"device": "mobile", "returning": True}
    assert assignment == evaluate(experiment, "visitor-1"), "attributes take no part in equality"
    assert evaluate(experiment, "visitor-1").attributes is None


@pytest.mark.parametrize("ineligible", ["case", b"case"])
def test_a_single_string_is_not_a_collection_of_keys(helpers: Any, ineligible: Any) -> None:
    with pytest.raises(TypeError, match="collection of variant keys"):
        evaluate(config(helpers), "visitor-1", ineligible=ineligible)


def test_attributes_must_be_a_mapping(helpers: Any) -> None:
    with pytest.raises(TypeError, match="mapping"):
        evaluate(config(helpers, segment_attribute="device"), "v", attributes=[("device", "x")])


def test_offer_for_passes_the_context_on(helpers: Any) -> None:
    snapshot = parse_snapshot(
        helpers.snapshot(
            helpers.experiment(
                KEY,
                weights=(5000, 5000),
                segment_attribute="device",
                segment_weights_bp={"mobile": [0, 10000]},
            )
        )
    )
    assert offer_for(snapshot, "cart", "v1", attributes={"device": "mobile"}).variant == "case"
    narrowed = offer_for(snapshot, "cart", "v1", ineligible=["case"])
    assert (narrowed.variant, narrowed.eligible, narrowed.probability) == (
        "no-offer",
        ("no-offer",),
        1.0,
    )
