"""The storefront's HTTP surface: snapshot, assign and events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from servicefixtures import auth

CART = "cart-accessory-cross-sell"
CHECKOUT = "checkout-protection-plan-upsell"


def event(event_id: str, kind: str = "impression", **fields):  # type: ignore[no-untyped-def]
    base = {
        "event_id": event_id,
        "type": kind,
        "visitor_id": "v1",
        "timestamp": "2026-11-02T09:00:00+00:00",
    }
    if kind in ("impression", "acceptance"):
        base.update(experiment=CHECKOUT, variant="price-29")
    if kind == "acceptance":
        base.update(value=29.0, currency="EUR")
    if kind == "order":
        base.update(order_id=f"order-{event_id}", value=120.0, currency="EUR")
    base.update(fields)
    return base


def post_events(client, key, events):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/events", json={"events": events}, headers=auth(key))


def test_snapshot_carries_every_experiment_and_answers_304_to_its_etag(client, applied, api_keys):
    response = client.get("/api/v1/snapshot", headers=auth(api_keys["sdk"]))
    assert response.status_code == 200
    body = response.get_json()
    assert {e["key"] for e in body["experiments"]} == set(applied)
    for experiment in body["experiments"]:
        assert sum(v["weight_bp"] for v in experiment["variants"]) == 10_000
    etag = response.headers["ETag"]
    again = client.get("/api/v1/snapshot", headers={**auth(api_keys["sdk"]), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_snapshot_etag_changes_when_an_experiment_is_paused(client, app, applied, api_keys):
    etag = client.get("/api/v1/snapshot", headers=auth(api_keys["sdk"])).headers["ETag"]
    paused = client.post(
        f"/api/v1/experiments/{CHECKOUT}/status",
        json={"status": "paused"},
        headers=auth(api_keys["admin"]),
    )
    assert paused.status_code == 200
    response = client.get(
        "/api/v1/snapshot", headers={**auth(api_keys["sdk"]), "If-None-Match": etag}
    )
    assert response.status_code == 200
    statuses = {e["key"]: e["status"] for e in response.get_json()["experiments"]}
    assert statuses[CHECKOUT] == "paused"


@pytest.mark.parametrize("path", ["/api/v1/snapshot", "/api/v1/experiments"])
def test_requests_without_a_key_are_refused_with_a_problem(client, applied, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 401


def test_roles_are_enforced(client, applied, api_keys):
    assert client.get("/api/v1/experiments", headers=auth(api_keys["sdk"])).status_code == 403
    assert client.get("/api/v1/experiments", headers=auth(api_keys["viewer"])).status_code == 200
    assert client.get("/api/v1/snapshot", headers=auth(api_keys["viewer"])).status_code == 403
    status = client.post(
        f"/api/v1/experiments/{CART}/status",
        json={"status": "paused"},
        headers=auth(api_keys["viewer"]),
    )
    assert status.status_code == 403
    assert client.get("/api/v1/snapshot", headers=auth("ol_sdk_00000000_nope")).status_code == 401


def test_assign_records_one_exposure_and_is_sticky(client, applied, api_keys):
    body = {"experiment": CHECKOUT, "visitor_id": "shopper-1"}
    first = client.post("/api/v1/assign", json=body, headers=auth(api_keys["sdk"])).get_json()
    assert first["in_experiment"] is True
    assert first["reason"] == "in_experiment"
    assert first["variant"] in {"price-49", "price-39", "price-29"}
    assert first["payload"]["price"] in (49.0, 39.0, 29.0)
    second = client.post("/api/v1/assign", json=body, headers=auth(api_keys["sdk"])).get_json()
    assert second["variant"] == first["variant"]
    # In the experiment's first allocation epoch the hash alone is sticky: no exposure is read,
    # so the answer does not know it is a repeat (after a re-weighting it says "sticky").
    assert second["reason"] == "in_experiment"
    results = client.get(
        f"/api/v1/experiments/{CHECKOUT}/results", headers=auth(api_keys["viewer"])
    ).get_json()
    units = {v["variant"]: v["units"] for v in results["variants"]}
    assert sum(units.values()) == 1
    assert units[first["variant"]] == 1


def test_assign_stays_sticky_after_the_bandit_moves_the_weights(
    client, app, sessions, applied, api_keys, clock
):
    from offerlab.services.bandits import update_allocations
    from offerlab.storage.db import session_scope

    visitors = [f"shopper-{n}" for n in range(300)]
    before = {}
    for visitor in visitors:
        answer = client.post(
            "/api/v1/assign",
            json={"experiment": CART, "visitor_id": visitor},
            headers=auth(api_keys["sdk"]),
        ).get_json()
        if answer["in_experiment"]:
            before[visitor] = answer["variant"]
    accepted = [
        event(f"acc-{v}", "acceptance", experiment=CART, variant="case", visitor_id=v, value=19.9)
        for v, variant in before.items()
        if variant == "case"
    ]
    assert accepted
    assert post_events(client, api_keys["sdk"], accepted).status_code == 200
    clock.now += timedelta(hours=1)
    with session_scope(sessions) as session:
        updates = update_allocations(session, now=clock(), rng=np.random.default_rng(1))
    assert [u.experiment for u in updates] == [CART]
    assert updates[0].weights["case"] > 0.5
    app.extensions["offerlab"].snapshots.invalidate()
    moved_by_weights = 0
    for visitor, variant in before.items():
        answer = client.post(
            "/api/v1/assign",
            json={"experiment": CART, "visitor_id": visitor},
            headers=auth(api_keys["sdk"]),
        ).get_json()
        assert (answer["variant"], answer["reason"]) == (variant, "sticky")
        moved_by_weights += answer["variant"] != _fresh_variant(client, api_keys, visitor)
    assert moved_by_weights > 0, "the new weights should move some visitors without stickiness"


def _fresh_variant(client, api_keys, visitor):  # type: ignore[no-untyped-def]
    from offerlab_sdk.evaluate import evaluate
    from offerlab_sdk.snapshot import parse_snapshot

    snapshot = parse_snapshot(
        client.get("/api/v1/snapshot", headers=auth(api_keys["sdk"])).get_json()
    )
    return evaluate(snapshot.experiment_by_key[CART], visitor).variant


def test_assign_of_a_paused_experiment_serves_the_control_uncounted(client, applied, api_keys):
    client.post(
        f"/api/v1/experiments/{CHECKOUT}/status",
        json={"status": "paused"},
        headers=auth(api_keys["admin"]),
    )
    answer = client.post(
        "/api/v1/assign",
        json={"experiment": CHECKOUT, "visitor_id": "x"},
        headers=auth(api_keys["sdk"]),
    ).get_json()
    assert answer == {
        **answer,
        "variant": "price-49",
        "in_experiment": False,
        "reason": "not_running",
    }


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"experiment": "nope", "visitor_id": "v"}, 404, "does not exist"),
        ({"experiment": CART}, 400, "visitor_id"),
        ({"experiment": CART, "visitor_id": ""}, 400, "visitor_id"),
        ({"experiment": CART, "visitor_id": "v", "colour": "red"}, 400, "colour"),
        ([1, 2], 400, "body"),
    ],
)
def test_bad_assign_requests_get_a_clear_4xx(client, applied, api_keys, body, status, detail):
    response = client.post("/api/v1/assign", json=body, headers=auth(api_keys["sdk"]))
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert detail in response.get_json()["detail"]


def test_a_batch_keeps_good_events_and_explains_each_rejected_one(client, applied, api_keys):
    batch = [
        event("e1"),
        event("e2", "acceptance"),
        event("e3", "acceptance", value=-5),
        event("e4", experiment="no-such-experiment"),
        event("e5", variant="price-99"),
        event("e6", "order"),
        {"event_id": "e7", "type": "click", "visitor_id": "v1", "timestamp": "2026-11-02T09:00Z"},
        event("e8", timestamp="not a time"),
        "not an object",
        event("e9", timestamp="2026-12-30T00:00:00+00:00"),
    ]
    response = post_events(client, api_keys["sdk"], batch)
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 3
    assert body["duplicates"] == 0
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [2, 3, 4, 6, 7, 8, 9]
    assert "value" in reasons[2]
    assert "unknown experiment" in reasons[3]
    assert "price-99" in reasons[4]
    assert "type" in reasons[6]
    assert "timestamp" in reasons[7]
    assert "future" in reasons[9]
    assert [r["event_id"] for r in body["rejected"] if r["index"] == 2] == ["e3"]


def test_replayed_events_and_orders_are_counted_once(client, applied, api_keys):
    batch = [event("e1"), event("e2", "order"), event("e1")]
    first = post_events(client, api_keys["sdk"], batch).get_json()
    assert (first["accepted"], first["duplicates"]) == (2, 1)
    replay = post_events(client, api_keys["sdk"], batch).get_json()
    assert (replay["accepted"], replay["duplicates"]) == (0, 3)
    same_order_new_id = event("e3", "order", order_id="order-e2")
    third = post_events(client, api_keys["sdk"], [same_order_new_id]).get_json()
    assert (third["accepted"], third["duplicates"]) == (0, 1)
    results = client.get(
        f"/api/v1/experiments/{CHECKOUT}/results", headers=auth(api_keys["viewer"])
    ).get_json()
    variant = next(v for v in results["variants"] if v["variant"] == "price-29")
    assert (variant["units"], variant["impressions"], variant["orders"]) == (1, 1, 1)
    assert variant["revenue"] == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "{broken", "content_type": "application/json"}, 400),
        ({"data": "events=1", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"json": {"events": "nope"}}, 400),
        ({"json": {"events": [event(f"e{n}") for n in range(1001)]}}, 413),
    ],
)
def test_malformed_event_bodies_are_refused_with_a_problem(
    client, applied, api_keys, kwargs, status
):
    response = client.post("/api/v1/events", headers=auth(api_keys["sdk"]), **kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_an_oversized_body_is_refused_with_413(client, applied, api_keys):
    huge = {"events": [event("e1", attributes={"note": "x" * 3_000_000})]}
    response = client.post("/api/v1/events", json=huge, headers=auth(api_keys["sdk"]))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_orders_count_only_inside_the_attribution_window(client, applied, api_keys):
    impression = event("i1", visitor_id="w")
    inside = event("o1", "order", visitor_id="w", timestamp="2026-11-02T21:00:00+00:00")
    outside = event("o2", "order", visitor_id="w", timestamp="2026-11-05T09:00:00+00:00")
    before = event("o3", "order", visitor_id="w", timestamp="2026-11-01T09:00:00+00:00")
    assert (
        post_events(client, api_keys["sdk"], [impression, inside, outside, before]).status_code
        == 200
    )
    results = client.get(
        f"/api/v1/experiments/{CHECKOUT}/results", headers=auth(api_keys["viewer"])
    ).get_json()
    variant = next(v for v in results["variants"] if v["variant"] == "price-29")
    assert variant["orders"] == 1


def test_health_and_readiness(client, applied):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_unknown_route_and_wrong_method_are_problems(client):
    assert client.get("/api/v1/nothing").mimetype == "application/problem+json"
    response = client.get("/api/v1/events")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


def test_an_impression_records_its_eligible_variants_and_measurement_slice(
    client, sessions, applied, api_keys
):
    from offerlab.storage.tables import ExposureRow

    batch = [
        event("s1", visitor_id="narrowed", eligible=["price-29", "price-39"], measurement=True),
        event("s2", visitor_id="plain"),
        event("s3", visitor_id="bad-1", eligible=["price-29", "price-99"]),
        event("s4", visitor_id="bad-2", eligible=["price-39"]),
        event("s5", visitor_id="bad-3", eligible=[]),
    ]
    body = post_events(client, api_keys["sdk"], batch).get_json()
    assert body["accepted"] == 2
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert "'price-99' is not a variant" in reasons[2]
    assert "shown variant 'price-29' is not in the list" in reasons[3]
    assert "eligible: List should have at least 1 item" in reasons[4]
    with sessions() as session:
        rows = {r.visitor_id: r for r in session.query(ExposureRow)}
    assert rows["narrowed"].eligible == ["price-29", "price-39"]
    assert rows["narrowed"].measurement is True
    assert rows["plain"].eligible is None
    assert rows["plain"].measurement is False


def test_api_calls_never_build_the_dashboard_cookie_signer(client, applied, api_keys, monkeypatch):
    from flask.sessions import SecureCookieSessionInterface

    def no_signer(_interface, _app):  # type: ignore[no-untyped-def]
        raise AssertionError("the session cookie signer was built for an API call")

    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", no_signer)
    body = {"experiment": CHECKOUT, "visitor_id": "shopper-no-cookie"}
    response = client.post("/api/v1/assign", json=body, headers=auth(api_keys["sdk"]))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
