"""The client with request context: sticky visitors, eligibility, measurement, event fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from offerlab_sdk import Client, InMemoryStickyStore, Reason
from offerlab_sdk.evaluate import CompiledExperiment
from offerlab_sdk.snapshot import load_snapshot
from offerlab_sdk.sticky import context_sticky_evaluator, sticky_evaluator

KEY = "cart-accessory-cross-sell"
VISITORS = [f"visitor-{n}" for n in range(1_000)]
WEIGHTS = {"no-offer": 3334, "case": 3333, "charger": 3333}


class DictStore:
    """A plain get/set store, as a storefront would plug in (Redis, a cookie...)."""

    def __init__(self) -> None:
        self.variants: dict[tuple[str, str], str] = {}

    def get(self, experiment: str, visitor_id: str) -> str | None:
        return self.variants.get((experiment, visitor_id))

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        self.variants[(experiment, visitor_id)] = variant


STORES = [InMemoryStickyStore, DictStore]


def compiled(helpers: Any, **options: Any) -> CompiledExperiment:
    document = helpers.snapshot(helpers.experiment(**options))
    return load_snapshot(json.dumps(document)).compiled_by_key[KEY]


@pytest.mark.parametrize("make_store", STORES)
def test_a_remembered_variant_that_is_ineligible_is_replaced_for_that_request_only(
    helpers: Any, make_store: Callable[[], Any]
) -> None:
    store = make_store()
    experiment = compiled(helpers, weights=(3334, 3333, 3333))
    evaluate = context_sticky_evaluator(store, experiment)
    first = {v: evaluate(v, None, ()).variant for v in VISITORS}
    for visitor_id, variant in first.items():
        narrowed = evaluate(visitor_id, None, [variant])
        assert narrowed.in_experiment and narrowed.variant != variant
        assert narrowed.reason is Reason.IN_EXPERIMENT
        assert narrowed.eligible == tuple(
            k for k in ("no-offer", "case", "charger") if k != variant
        )
        assert narrowed.probability == WEIGHTS[narrowed.variant] / (10000 - WEIGHTS[variant])
        assert store.get(KEY, visitor_id) == variant, "the remembered variant is kept"
        again = evaluate(visitor_id, None, ["gone"])
        assert (again.variant, again.reason, again.eligible) == (variant, Reason.STICKY, None)


@pytest.mark.parametrize("make_store", STORES)
def test_sticky_probability_follows_the_request_segment(
    helpers: Any, make_store: Callable[[], Any]
) -> None:
    store = make_store()
    weights = {"mobile": [2000, 8000], "desktop": [10000, 0]}
    before = compiled(helpers, segment_attribute="device", segment_weights_bp=weights)
    first = {v: sticky_evaluator(store, before)(v).variant for v in VISITORS}
    evaluate = context_sticky_evaluator(store, before)
    for visitor_id, variant in first.items():
        mobile = evaluate(visitor_id, {"device": "mobile"}, ())
        assert (mobile.variant, mobile.reason) == (variant, Reason.STICKY)
        assert mobile.probability == {"no-offer": 0.2, "case": 0.8}[variant]
        desktop = evaluate(visitor_id, {"device": "desktop"}, ())
        assert (desktop.variant, desktop.probability) == ("no-offer", 1.0)
        # case has weight 0 for desktop (not a per-request narrowing): the store follows.
        assert store.get(KEY, visitor_id) == "no-offer"
    assert any(v == "case" for v in first.values()), "the test needs visitors on case"


def test_a_variant_gone_for_the_visitors_segment_is_replaced_and_remembered(helpers: Any) -> None:
    store = InMemoryStickyStore()
    experiment = compiled(
        helpers, segment_attribute="device", segment_weights_bp={"desktop": [10000, 0]}
    )
    store.set(KEY, "visitor-1", "case")
    evaluate = context_sticky_evaluator(store, experiment)
    assignment = evaluate("visitor-1", {"device": "desktop"}, ())
    assert (assignment.variant, assignment.reason) == ("no-offer", Reason.IN_EXPERIMENT)
    assert store.get(KEY, "visitor-1") == "no-offer"


@pytest.mark.parametrize("make_store", STORES)
def test_measurement_visitors_stay_sticky_with_their_uniform_probability(
    helpers: Any, make_store: Callable[[], Any]
) -> None:
    store = make_store()
    experiment = compiled(helpers, weights=(9000, 1000), measurement_bp=5000)
    assert not experiment.context_free
    evaluate = sticky_evaluator(store, experiment)
    first = {v: evaluate(v) for v in VISITORS}
    assert {(a.measurement, a.reason) for a in first.values()} == {
        (True, Reason.IN_EXPERIMENT),
        (False, Reason.IN_EXPERIMENT),
    }
    for visitor_id, assignment in first.items():
        again = evaluate(visitor_id)
        assert (again.variant, again.reason, again.measurement) == (
            assignment.variant,
            Reason.STICKY,
            assignment.measurement,
        )
        expected = 0.5 if assignment.measurement else {"no-offer": 0.9, "case": 0.1}[again.variant]
        assert again.probability == expected


def test_client_assign_and_offer_for_take_the_context(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    service.set_snapshot(
        helpers.snapshot(
            helpers.experiment(
                weights=(5000, 5000),
                segment_attribute="device",
                segment_weights_bp={"mobile": [0, 10000]},
            )
        )
    )
    client = make_client(service.base_url)
    mobile = client.assign(KEY, "visitor-7", {"device": "mobile"})
    assert (mobile.variant, mobile.probability, mobile.reason) == (
        "case",
        1.0,
        Reason.IN_EXPERIMENT,
    )
    narrowed = client.offer_for("cart", "visitor-7", ineligible=["case"])
    assert (narrowed.variant, narrowed.eligible, narrowed.reason) == (
        "no-offer",
        ("no-offer",),
        Reason.IN_EXPERIMENT,
    )
    sticky = client.offer_for("cart", "visitor-7", {"device": "mobile"})
    assert (sticky.variant, sticky.reason) == ("case", Reason.STICKY)
    nothing = client.assign(KEY, "visitor-7", ineligible=["case", "no-offer"])
    assert (nothing.variant, nothing.reason, nothing.in_experiment) == (
        "no-offer",
        Reason.NOT_ELIGIBLE,
        False,
    )


def test_client_never_raises_on_bad_context(
    service: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(service.base_url)
    for bad in ({"ineligible": "case"}, {"ineligible": 3}, {"attributes": ["device"]}):
        assert client.assign(KEY, "visitor-1", **bad).reason is Reason.FALLBACK
        assert client.offer_for("cart", "visitor-1", **bad).reason is Reason.FALLBACK
    strict = make_client(service.base_url, strict=True)
    with pytest.raises(TypeError):
        strict.assign(KEY, "visitor-1", ineligible="case")


def test_impression_carries_eligible_measurement_and_the_assign_attributes(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    service.set_snapshot(
        helpers.snapshot(helpers.experiment(weights=(3334, 3333, 3333), measurement_bp=5000))
    )
    client = make_client(service.base_url)
    attributes = {"device": "mobile", "returning": True}
    pairs = [(v, client.assign(KEY, v, attributes, ineligible=["charger"])) for v in VISITORS[:40]]
    for visitor_id, assignment in pairs:
        assert client.track_impression(assignment, visitor_id)
    plain_visitor = "someone-new"
    plain = client.assign(KEY, plain_visitor)
    assert client.track_impression(plain, plain_visitor, {"device": "desktop"})
    assert client.track_acceptance(pairs[0][1], pairs[0][0], 19.0)
    assert client.flush()
    events = [e for batch in service.event_attempts for e in batch]
    impressions, (acceptance,) = events[:-1], events[-1:]
    for (_, assignment), event in zip(pairs, impressions, strict=False):
        assert event["eligible"] == ["no-offer", "case"]
        assert event["attributes"] == attributes
        assert event["probability"] == assignment.probability
        assert ("measurement" in event) is assignment.measurement
        if assignment.measurement:
            assert event["measurement"] is True and event["probability"] == 0.5
    assert {a.measurement for _, a in pairs} == {True, False}, "the test needs both slices"
    last = impressions[-1]
    assert "eligible" not in last and last["attributes"] == {"device": "desktop"}
    assert acceptance["type"] == "acceptance" and acceptance["attributes"] == attributes
