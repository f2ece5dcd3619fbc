"""The SDK against the real service on loopback, including the service going down and back."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from servicefixtures import auth
from werkzeug.serving import make_server

from offerlab_sdk import Client, Reason

CHECKOUT = "checkout-protection-plan-upsell"


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    """The SDK stamps events with the real time, so the service runs on the real clock here."""
    from offerlab.api.context import utc_now

    return utc_now


@contextmanager
def serving(app, port: int = 0):  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.server_port
    finally:
        server.shutdown()
        server.server_close()


def results(client, key, api_keys):  # type: ignore[no-untyped-def]
    body = client.get(f"/api/v1/experiments/{key}/results", headers=auth(api_keys["viewer"]))
    return {v["variant"]: v for v in body.get_json()["variants"]}


def test_sdk_assigns_locally_and_its_events_reach_the_results(app, client, applied, api_keys):
    with serving(app) as (url, _port):
        sdk = Client(url, api_keys["sdk"], flush_interval=0.1, batch_size=50)
        try:
            shown = {}
            for n in range(200):
                visitor = f"shopper-{n}"
                assignment = sdk.offer_for("checkout", visitor)
                assert assignment.experiment == CHECKOUT
                assert assignment.variant == sdk.assign(CHECKOUT, visitor).variant
                if sdk.track_impression(assignment, visitor):
                    shown[visitor] = assignment
            for n, (visitor, assignment) in enumerate(shown.items()):
                if n % 4 == 0:
                    assert sdk.track_acceptance(assignment, visitor, 29.0)
                    assert sdk.track_order(visitor, f"order-{visitor}", 150.0)
            assert sdk.flush(timeout=10)
            assert sdk.stats.rejected == 0
        finally:
            sdk.close()
    variants = results(client, CHECKOUT, api_keys)
    assert sum(v["units"] for v in variants.values()) == len(shown)
    for key, variant in variants.items():
        expected = [v for v in shown.values() if v.variant == key]
        assert variant["units"] == len(expected)
    assert sum(v["converted_units"] for v in variants.values()) == len(range(0, len(shown), 4))
    assert sum(v["orders"] for v in variants.values()) == len(range(0, len(shown), 4))


def test_experiments_sharing_a_placement_are_mutually_exclusive(
    app, sessions, clock, applied, api_keys
):
    from dataclasses import replace

    from offerlab.services.experiments import apply_definitions
    from offerlab.storage.db import session_scope

    second = replace(
        applied["cart-accessory-cross-sell"],
        key="cart-free-shipping-nudge",
        allocation=applied[CHECKOUT].allocation,
        name="Free shipping nudge",
    )
    with session_scope(sessions) as session:
        apply_definitions(session, [*applied.values(), second], now=clock())
    app.extensions["offerlab"].snapshots.invalidate()
    with serving(app) as (url, _port):
        sdk = Client(url, api_keys["sdk"])
        try:
            owners = {"cart-accessory-cross-sell": 0, "cart-free-shipping-nudge": 0}
            for n in range(2000):
                visitor = f"v{n}"
                owner = sdk.offer_for("cart", visitor).experiment
                owners[owner] += 1
                other = next(key for key in owners if key != owner)
                assert sdk.assign(other, visitor).reason == Reason.OTHER_EXPERIMENT
        finally:
            sdk.close()
    assert 850 < owners["cart-free-shipping-nudge"] < 1150


def test_sdk_keeps_serving_and_queueing_while_the_service_is_down(app, client, applied, api_keys):
    with serving(app) as (url, port):
        sdk = Client(url, api_keys["sdk"], refresh_interval=0.2, flush_interval=0.1, timeout=0.5)
        before = sdk.assign(CHECKOUT, "shopper-down")
        assert before.in_experiment
    try:
        started = time.monotonic()
        during = sdk.assign(CHECKOUT, "shopper-down")
        assert during.variant == before.variant
        assert sdk.track_impression(during, "shopper-down")
        assert sdk.track_order("shopper-down", "order-down", 99.0)
        assert time.monotonic() - started < 0.5, "assign and track never wait on the network"
        time.sleep(1.0)
        assert sdk.stats.failed_attempts >= 1
        assert sdk.stats.queued == 2
        with serving(app, port):
            deadline = time.monotonic() + 15
            while sdk.stats.sent < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sdk.stats.sent == 2
    finally:
        sdk.close()
    variant = results(client, CHECKOUT, api_keys)[before.variant]
    assert (variant["units"], variant["orders"]) == (1, 1)


def test_close_returns_quickly_when_the_service_is_unreachable(app, applied, api_keys):
    with serving(app) as (url, _port):
        sdk = Client(url, api_keys["sdk"], timeout=0.5)
    assignment = sdk.assign(CHECKOUT, "late")
    sdk.track_impression(assignment, "late")
    started = time.monotonic()
    sdk.close(timeout=3.0)
    assert time.monotonic() - started < 4.0


def test_without_any_snapshot_the_sdk_falls_back(api_keys):
    sdk = Client("http://127.0.0.1:9", "ol_sdk_00000000_x", timeout=0.3)
    try:
        assignment = sdk.assign(CHECKOUT, "anyone")
        assert (assignment.variant, assignment.reason) == (None, Reason.FALLBACK)
        assert sdk.offer_for("cart", "anyone").reason == Reason.FALLBACK
    finally:
        sdk.close(timeout=1.0)


@pytest.mark.parametrize("role", ["viewer"])
def test_a_key_without_the_sdk_role_gets_no_snapshot(app, applied, api_keys, role):
    with serving(app) as (url, _port):
        sdk = Client(url, api_keys[role], timeout=0.5)
        try:
            assert sdk.snapshot is None
            assert sdk.assign(CHECKOUT, "x").reason == Reason.FALLBACK
        finally:
            sdk.close(timeout=1.0)
