"""Serving context through the real service on both databases: per-segment weights of a
contextual bandit, the uniform measurement slice that is never learnt from, and per-request
eligibility, from the YAML through events, updates, the snapshot and HTTP assign to the recorded
exposures and their probabilities."""

from __future__ import annotations

import math
import textwrap
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from servicefixtures import auth, post_all_events

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KEYS = ("none", "case", "charger")


@pytest.fixture(autouse=True)
def _events_are_in_the_past(clock):  # type: ignore[no-untyped-def]
    clock.now = START + timedelta(days=10)


def contextual_yaml(key: str, bandit: str, *, placement: str = "cart") -> str:
    """No offer (the control), a case and a charger; conversion Thompson sampling."""
    head = textwrap.dedent(
        f"""\
        key: {key}
        name: Case or charger
        placement: {placement}
        kind: cross_sell
        status: running
        allocation: thompson
        objective: conversion
        control: none
        variants:
          - key: none
            name: No offer
            weight: 0.34
          - key: case
            name: Case
            weight: 0.33
            offer: {{product: Case, price: 19.0, currency: EUR}}
          - key: charger
            name: Charger
            weight: 0.33
            offer: {{product: Charger, price: 25.0, currency: EUR}}
        bandit:
          update_interval_seconds: 60
        """
    )
    return head + textwrap.indent(textwrap.dedent(bandit), "  ")


def unit_events(
    key: str,
    variant: str,
    units: int,
    accepted: int,
    *,
    prefix: str,
    attributes: dict | None = None,
    measurement: bool | None = None,
) -> list[dict]:
    """`units` visitors shown `variant`, the first `accepted` of them taking the offer."""
    events = []
    for n in range(units):
        visitor, seen = f"{prefix}-{variant}-{n}", START + timedelta(seconds=n)
        common = {"experiment": key, "variant": variant, "visitor_id": visitor}
        impression = {"event_id": f"i-{visitor}", "type": "impression"} | common
        impression["timestamp"] = seen.isoformat()
        if attributes is not None:
            impression["attributes"] = attributes
        if measurement is not None:
            impression["measurement"] = measurement
        events.append(impression)
        if n < accepted:
            taken = (seen + timedelta(minutes=1)).isoformat()
            events.append(
                {"event_id": f"a-{visitor}", "type": "acceptance", "timestamp": taken}
                | common
                | {"value": 20.0, "currency": "EUR"}
            )
    return events


def send(client, api_keys, events):  # type: ignore[no-untyped-def]
    post_all_events(client, api_keys["sdk"], events)


def update(app, sessions, clock, seed=1):  # type: ignore[no-untyped-def]
    from offerlab.services.bandits import update_allocations
    from offerlab.storage.db import session_scope

    clock.now += timedelta(minutes=5)
    with session_scope(sessions) as session:
        updates = update_allocations(session, now=clock(), rng=np.random.default_rng(seed))
    app.extensions["offerlab"].snapshots.invalidate()
    return {u.experiment: u for u in updates}


def assign(client, api_keys, body):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/assign", json=body, headers=auth(api_keys["sdk"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def snapshot_experiment(client, api_keys, key):  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/snapshot", headers=auth(api_keys["sdk"])).get_json()
    return next(e for e in body["experiments"] if e["key"] == key)


def exposures(sessions, key):  # type: ignore[no-untyped-def]
    from offerlab.storage import experiments as store
    from offerlab.storage.tables import ExposureRow

    with sessions() as session:
        experiment_id = store.find_experiment_id(session, key)
        rows = session.query(ExposureRow).filter(ExposureRow.experiment_id == experiment_id)
        return {row.visitor_id: row for row in rows}


def binomial_tolerance(p: float, n: int, sds: float = 5.0) -> float:
    return sds * math.sqrt(p * (1 - p) / n)


# Mobile shoppers take the case, desktop shoppers the charger.
SEGMENT_RATES = {"mobile": {"case": 90, "charger": 15}, "desktop": {"case": 15, "charger": 90}}


def test_segments_with_different_best_arms_get_and_are_served_their_own_weights(
    client, app, api_keys, apply_yaml, sessions, clock
):
    from offerlab.storage import experiments as store

    bandit = "burn_in_units: 50\nmin_share: 0.05\nsegment_attribute: device\nprior_strength: 20\n"
    apply_yaml(contextual_yaml("by-device", bandit))
    for device, rates in SEGMENT_RATES.items():
        for variant in KEYS:
            accepted = rates.get(variant, 0)
            send(
                client,
                api_keys,
                unit_events(
                    "by-device",
                    variant,
                    300,
                    accepted,
                    prefix=device,
                    attributes={"device": device},
                ),
            )

    result = update(app, sessions, clock)["by-device"]

    mobile, desktop = result.segment_weights["mobile"], result.segment_weights["desktop"]
    assert mobile["case"] > 0.85 and desktop["charger"] > 0.85
    for weights in (mobile, desktop, result.weights):
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
        assert min(weights.values()) >= 0.05 - 1e-9
    # Pooled, the two accessories are equally good: neither takes the pooled traffic.
    assert abs(result.weights["case"] - result.weights["charger"]) < 0.9
    with sessions() as session:
        stored = store.current_allocation(session, store.find_experiment_id(session, "by-device"))
        assert stored.segment_weights == result.segment_weights

    config = snapshot_experiment(client, api_keys, "by-device")
    assert config["segment_attribute"] == "device"
    served_bp = config["segment_weights_bp"]
    for device, best in (("mobile", "case"), ("desktop", "charger")):
        expected = {k: bp / 10_000 for k, bp in zip(KEYS, served_bp[device], strict=True)}
        answers = [
            assign(
                client,
                api_keys,
                {
                    "experiment": "by-device",
                    "visitor_id": f"{device}-shopper-{n}",
                    "attributes": {"device": device},
                    "track_impression": False,
                },
            )
            for n in range(800)
        ]
        share = sum(a["variant"] == best for a in answers) / len(answers)
        # Binomial(800, p) within 5 sd: about 0.05 near p = 0.9, far from the pooled weight.
        assert share == pytest.approx(expected[best], abs=binomial_tolerance(expected[best], 800))
        # The recorded propensity is the closed form: the segment's weight of the pick.
        assert all(a["probability"] == expected[a["variant"]] for a in answers)


@pytest.mark.parametrize("how", ["auto_rollout", "applied_recommendation"])
def test_a_rollout_ends_the_measurement_slice_and_the_segment_weights(
    client, app, api_keys, apply_yaml, sessions, clock, how
):
    from offerlab.services.recommendations import apply_recommendation
    from offerlab.storage.db import session_scope

    bandit = (
        "burn_in_units: 50\nsegment_attribute: device\nmeasurement_share: 0.3\n"
        f"auto_rollout: {str(how == 'auto_rollout').lower()}\n"
        "chance_to_be_best_threshold: 0.9\nexpected_loss_threshold: 0.05\n"
    )
    apply_yaml(contextual_yaml("rolled", bandit))
    for device in ("mobile", "desktop"):
        for variant, accepted in {"none": 5, "case": 120, "charger": 20}.items():
            events = unit_events(
                "rolled", variant, 300, accepted, prefix=device, attributes={"device": device}
            )
            send(client, api_keys, events)

    result = update(app, sessions, clock)["rolled"]
    learning = snapshot_experiment(client, api_keys, "rolled")
    if how == "auto_rollout":
        assert result.weights == {"none": 0.0, "case": 1.0, "charger": 0.0}
        assert result.segment_weights is None
    else:
        # A recommendation keeps learning: the slice and the segments are still served.
        assert learning["measurement_bp"] == 3000
        assert set(learning["segment_weights_bp"]) == {"mobile", "desktop"}
        with session_scope(sessions) as session:
            apply_recommendation(session, "rolled", now=clock(), actor="analyst")
        app.extensions["offerlab"].snapshots.invalidate()

    assert result.winner == "case"
    config = snapshot_experiment(client, api_keys, "rolled")
    assert not {"measurement_bp", "segment_attribute", "segment_weights_bp"} & set(config)
    assert [v["weight_bp"] for v in config["variants"]] == [0, 10_000, 0]
    answers = {
        f"after-{n}": assign(
            client,
            api_keys,
            {
                "experiment": "rolled",
                "visitor_id": f"after-{n}",
                "attributes": {"device": ("mobile", "desktop", "tablet")[n % 3]},
            },
        )
        for n in range(300)
    }
    # With a 0.3 slice about 90 of 300 visitors would have been served uniformly.
    assert {(a["variant"], a["measurement"], a["probability"]) for a in answers.values()} == {
        ("case", False, 1.0)
    }
    recorded = exposures(sessions, "rolled")
    assert {
        (row.variant_key, row.measurement, row.probability)
        for visitor, row in recorded.items()
        if visitor in answers
    } == {("case", False, 1.0)}
    assert len(answers.keys() & recorded.keys()) == 300


def test_measurement_slice_outcomes_do_not_move_the_weights_but_count_in_results(
    client, app, api_keys, apply_yaml, sessions, clock
):
    from offerlab.domain.bandits import ArmStats, next_allocation
    from offerlab.services.bandits import allocation_settings
    from offerlab.storage import experiments as store

    bandit = "burn_in_units: 50\nmin_share: 0.05\nmeasurement_share: 0.3\n"
    apply_yaml(contextual_yaml("measured", bandit))
    learning = {"none": 10, "case": 40, "charger": 30}
    for variant, accepted in learning.items():
        send(client, api_keys, unit_events("measured", variant, 200, accepted, prefix="learn"))
    # In the slice the charger is taken by nearly everyone: learning from it would favour it.
    for variant, accepted in {"none": 0, "case": 0, "charger": 190}.items():
        events = unit_events("measured", variant, 200, accepted, prefix="slice", measurement=True)
        send(client, api_keys, events)

    weights = update(app, sessions, clock, seed=7)["measured"].weights

    with sessions() as session:
        experiment = store.to_domain(store.find_experiment_row(session, "measured"))
    # The same life cycle on the learning slice alone, with the same seed, gives the same weights.
    learning_only = [ArmStats(variant, 200, accepted) for variant, accepted in learning.items()]
    expected = next_allocation(
        learning_only,
        [0.34, 0.33, 0.33],
        allocation_settings(experiment),
        0,
        np.random.default_rng(7),
    )
    assert list(weights.values()) == list(expected.learning_weights)
    assert weights["case"] > weights["charger"]
    results = client.get(
        "/api/v1/experiments/measured/results", headers=auth(api_keys["viewer"])
    ).get_json()
    assert sum(v["units"] for v in results["variants"]) == 1200


def test_the_measurement_slice_is_served_evenly_with_its_own_probability(
    client, app, api_keys, apply_yaml, sessions, clock
):
    bandit = "burn_in_units: 50\nmin_share: 0.05\nmeasurement_share: 0.3\n"
    apply_yaml(contextual_yaml("sliced", bandit))
    for variant, accepted in {"none": 10, "case": 60, "charger": 20}.items():
        send(client, api_keys, unit_events("sliced", variant, 200, accepted, prefix="learn"))
    weights = update(app, sessions, clock)["sliced"].weights
    config = snapshot_experiment(client, api_keys, "sliced")
    assert config["measurement_bp"] == 3000
    outside = {v["key"]: v["weight_bp"] / 10_000 for v in config["variants"]}
    assert outside == pytest.approx(weights, abs=1e-4)

    answers = {
        f"s-{n}": assign(client, api_keys, {"experiment": "sliced", "visitor_id": f"s-{n}"})
        for n in range(1000)
    }

    sliced = [a for a in answers.values() if a["measurement"]]
    assert len(sliced) / len(answers) == pytest.approx(0.3, abs=binomial_tolerance(0.3, 1000))
    for variant in KEYS:
        share = sum(a["variant"] == variant for a in sliced) / len(sliced)
        assert share == pytest.approx(1 / 3, abs=binomial_tolerance(1 / 3, len(sliced)))
    recorded = exposures(sessions, "sliced")
    for visitor, answer in answers.items():
        expected = 1 / 3 if answer["measurement"] else outside[answer["variant"]]
        assert answer["probability"] == pytest.approx(expected, abs=1e-12)
        row = recorded[visitor]
        assert (row.variant_key, row.measurement) == (answer["variant"], answer["measurement"])
        assert row.probability == pytest.approx(expected, abs=1e-12)


def test_eligibility_narrows_the_pick_and_the_exposure_records_it(
    client, api_keys, apply_yaml, sessions
):
    apply_yaml(contextual_yaml("narrowed", "burn_in_units: 50\n"))
    config = snapshot_experiment(client, api_keys, "narrowed")
    weight = {v["key"]: v["weight_bp"] for v in config["variants"]}
    body = {"experiment": "narrowed", "ineligible": ["case"], "attributes": {"device": "mobile"}}

    answers = {
        f"e-{n}": assign(client, api_keys, body | {"visitor_id": f"e-{n}"}) for n in range(600)
    }

    assert {a["variant"] for a in answers.values()} == {"none", "charger"}
    recorded = exposures(sessions, "narrowed")
    eligible_total = weight["none"] + weight["charger"]
    for visitor, answer in answers.items():
        expected = weight[answer["variant"]] / eligible_total
        assert answer["eligible"] == ["none", "charger"]
        assert answer["probability"] == pytest.approx(expected, abs=1e-12)
        row = recorded[visitor]
        assert row.eligible == ["charger", "none"]
        assert row.probability == pytest.approx(expected, abs=1e-12)
        assert row.attributes == {"device": "mobile"}
    share = sum(a["variant"] == "charger" for a in answers.values()) / len(answers)
    p = weight["charger"] / eligible_total
    assert share == pytest.approx(p, abs=binomial_tolerance(p, 600))


def test_nothing_eligible_serves_the_uncounted_control(client, api_keys, apply_yaml, sessions):
    apply_yaml(contextual_yaml("nothing", "burn_in_units: 50\n"))

    answer = assign(
        client,
        api_keys,
        {"experiment": "nothing", "visitor_id": "v", "ineligible": list(KEYS)},
    )

    assert (answer["variant"], answer["in_experiment"]) == ("none", False)
    assert answer["reason"] == "not_eligible"
    assert exposures(sessions, "nothing") == {}


@pytest.mark.parametrize(
    ("ineligible", "detail"),
    [
        (["case", "gift-wrap"], "ineligible: 'gift-wrap' is not a variant of 'bad-request'"),
        ([""], "ineligible"),
        ("case", "ineligible"),
        ([f"v{n}" for n in range(51)], "ineligible"),
    ],
)
def test_bad_ineligible_lists_are_refused_naming_the_field(
    client, api_keys, apply_yaml, ineligible, detail
):
    apply_yaml(contextual_yaml("bad-request", "burn_in_units: 50\n"))

    response = client.post(
        "/api/v1/assign",
        json={"experiment": "bad-request", "visitor_id": "v", "ineligible": ineligible},
        headers=auth(api_keys["sdk"]),
    )

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert detail in response.get_json()["detail"]


def test_a_sticky_variant_is_kept_while_eligible_and_replaced_for_the_request_when_not(
    client, app, api_keys, apply_yaml, sessions, clock
):
    apply_yaml(contextual_yaml("sticky", "burn_in_units: 10\n"))
    for variant, accepted in {"none": 1, "case": 8, "charger": 2}.items():
        send(client, api_keys, unit_events("sticky", variant, 20, accepted, prefix="learn"))
    update(app, sessions, clock)  # a second epoch: stickiness now needs the exposure
    first = assign(client, api_keys, {"experiment": "sticky", "visitor_id": "shopper"})
    shown = first["variant"]
    others = [key for key in KEYS if key != shown]

    kept = assign(
        client, api_keys, {"experiment": "sticky", "visitor_id": "shopper", "ineligible": others}
    )
    replaced = assign(
        client, api_keys, {"experiment": "sticky", "visitor_id": "shopper", "ineligible": [shown]}
    )

    assert (kept["variant"], kept["reason"]) == (shown, "sticky")
    assert kept["probability"] == first["probability"]
    assert replaced["variant"] in others
    assert replaced["reason"] == "in_experiment"
    row = exposures(sessions, "sticky")["shopper"]
    assert (row.variant_key, row.probability) == (shown, first["probability"])


def test_the_allocation_history_and_the_report_carry_each_epochs_segment_weights(
    client, api_keys, apply_yaml, sessions
):
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    apply_yaml(contextual_yaml("history", "segment_attribute: device\n"))
    pooled = {"none": 0.2, "case": 0.4, "charger": 0.4}
    segments = {"mobile": {"none": 0.1, "case": 0.8, "charger": 0.1}}
    with session_scope(sessions) as session:
        experiment_id = store.find_experiment_id(session, "history")
        for by_segment in (segments, {}):
            store.add_allocation(
                session,
                experiment_id,
                pooled,
                now=START + timedelta(days=1),
                reason="update",
                segment_weights=by_segment,
            )
        history = store.allocation_history(session, experiment_id)

    # The definition's epoch has none; an empty mapping reads as none too.
    assert [epoch.segment_weights for epoch in history] == [None, segments, None]
    report = client.get(
        "/api/v1/experiments/history/results", headers=auth(api_keys["viewer"])
    ).get_json()
    epochs = report["allocation_history"]
    assert [set(epoch) for epoch in epochs] == [
        {"version", "started_at", "weights", "segment_weights"}
    ] * 3
    assert [(e["version"], e["weights"], e["segment_weights"]) for e in epochs] == [
        (1, {"none": 0.34, "case": 0.33, "charger": 0.33}, None),
        (2, pooled, segments),
        (3, pooled, None),
    ]
