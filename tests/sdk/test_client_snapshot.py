"""Client against a real HTTP fake: snapshot fetch, ETag, refresh, invalid snapshots, sticky."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from offerlab_sdk import Client, InMemoryStickyStore, Reason, SnapshotError

VISITORS = [f"visitor-{n}" for n in range(300)]


def test_initial_fetch_sends_the_key_and_enables_local_assignment(
    service: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(service.base_url)
    assert client.snapshot is not None and client.snapshot.snapshot_version == "v1"
    assert service.snapshot_requests[0]["Authorization"] == "Bearer sdk-test-key"
    assignment = client.assign("cart-accessory-cross-sell", "visitor-1")
    assert assignment.reason is Reason.IN_EXPERIMENT and assignment.probability == 0.5
    assert client.offer_for("cart", "visitor-1").experiment == "cart-accessory-cross-sell"
    assert client.offer_for("email", "visitor-1").reason is Reason.NO_EXPERIMENT
    assert client.assign("no-such-experiment", "visitor-1").reason is Reason.FALLBACK


def test_unchanged_snapshot_is_revalidated_with_its_etag(
    service: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(service.base_url)
    before = client.snapshot
    assert client.refresh()
    assert service.snapshot_requests[-1]["If-None-Match"] == service.etag
    assert client.snapshot is before
    assert "If-None-Match" not in service.snapshot_requests[0]


def test_background_refresh_picks_up_new_weights(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    client = make_client(service.base_url, refresh_interval=0.1)
    service.set_snapshot(
        helpers.snapshot(helpers.experiment(weights=(0, 10000), allocation_version=2), version="v2")
    )
    assert helpers.wait_until(lambda: client.snapshot.snapshot_version == "v2")
    assignment = client.assign("cart-accessory-cross-sell", "visitor-new")
    assert (assignment.variant, assignment.allocation_version, assignment.probability) == (
        "case",
        2,
        1.0,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"spec_version": 1}',
        b'{"spec_version": 2, "snapshot_version": "v9",'
        b' "generated_at": "2026-11-25T10:00:00+00:00", "experiments": []}',
    ],
)
def test_invalid_snapshot_keeps_the_last_good_one(
    service: Any, make_client: Callable[..., Client], body: bytes
) -> None:
    client = make_client(service.base_url)
    good = client.snapshot
    service.set_snapshot(body)
    assert client.refresh() is True
    assert client.snapshot is good
    assert client.assign("cart-accessory-cross-sell", "visitor-1").in_experiment


def test_invalid_weights_are_rejected_not_repaired(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    client = make_client(service.base_url)
    service.set_snapshot(helpers.snapshot(helpers.experiment(weights=(5000, 4000)), version="bad"))
    client.refresh()
    assert client.snapshot.snapshot_version == "v1"
    service.set_snapshot(helpers.snapshot(helpers.experiment(weights=(5000, 5000)), version="v3"))
    client.refresh()
    assert client.snapshot.snapshot_version == "v3"


def test_invalid_first_snapshot_means_fallback_and_strict_mode_raises(
    service: Any, make_client: Callable[..., Client]
) -> None:
    service.set_snapshot(b'{"spec_version": 1}')
    client = make_client(service.base_url)
    assert client.snapshot is None
    assert client.assign("cart-accessory-cross-sell", "visitor-1").reason is Reason.FALLBACK
    with pytest.raises(SnapshotError):
        make_client(service.base_url, strict=True)


def test_wrong_key_keeps_serving_fallback(service: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(service.base_url, sdk_key="wrong")
    assert client.snapshot is None
    assert client.offer_for("cart", "visitor-1").reason is Reason.FALLBACK


def test_sticky_variant_survives_bandit_reweighting(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    client = make_client(service.base_url)
    first = {v: client.assign("cart-accessory-cross-sell", v).variant for v in VISITORS}
    service.set_snapshot(
        helpers.snapshot(
            helpers.experiment(weights=(9000, 1000), allocation_version=2), version="v2"
        )
    )
    client.refresh()
    fresh = make_client(service.base_url)
    moved = [
        v for v in VISITORS if fresh.assign("cart-accessory-cross-sell", v).variant != first[v]
    ]
    assert len(moved) > 50, "the reweighting must move visitors for this test to mean anything"
    for visitor_id in VISITORS:
        again = client.assign("cart-accessory-cross-sell", visitor_id)
        assert again.variant == first[visitor_id]
        assert again.reason is Reason.STICKY and again.in_experiment
        assert again.allocation_version == 2


def test_sticky_is_dropped_when_the_variant_goes_or_the_experiment_stops(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    client = make_client(service.base_url)
    on_case = next(
        v for v in VISITORS if client.assign("cart-accessory-cross-sell", v).variant == "case"
    )
    service.set_snapshot(helpers.snapshot(helpers.experiment(weights=(10000,)), version="v2"))
    client.refresh()
    assert client.assign("cart-accessory-cross-sell", on_case).variant == "no-offer"
    service.set_snapshot(helpers.snapshot(helpers.experiment(status="paused"), version="v3"))
    client.refresh()
    assert client.assign("cart-accessory-cross-sell", on_case).reason is Reason.NOT_RUNNING


def test_sticky_store_is_pluggable_and_bounded(
    service: Any, make_client: Callable[..., Client]
) -> None:
    store = InMemoryStickyStore(max_entries=3)
    client = make_client(service.base_url, sticky_store=store)
    for visitor_id in VISITORS[:5]:
        client.assign("cart-accessory-cross-sell", visitor_id)
    assert 0 < len(store) <= 3
    assert store.get("cart-accessory-cross-sell", VISITORS[0]) is None
    assert (
        store.get("cart-accessory-cross-sell", VISITORS[4])
        == client.assign("cart-accessory-cross-sell", VISITORS[4]).variant
    )


class BrokenStore:
    def get(self, experiment: str, visitor_id: str) -> str | None:
        raise RuntimeError("store down")

    def set(self, experiment: str, visitor_id: str, variant: str) -> None:
        raise RuntimeError("store down")


BAD_CALLS: list[tuple[str, Callable[[Client], Any]]] = [
    ("visitor None", lambda c: c.assign("cart-accessory-cross-sell", None)),
    ("visitor int", lambda c: c.assign("cart-accessory-cross-sell", 123)),
    ("visitor empty", lambda c: c.assign("cart-accessory-cross-sell", "")),
    ("key None", lambda c: c.assign(None, "visitor-1")),
    ("key list", lambda c: c.assign(["x"], "visitor-1")),
    ("placement None", lambda c: c.offer_for(None, "visitor-1")),
    ("placement visitor bytes", lambda c: c.offer_for("cart", b"visitor-1")),
]


@pytest.mark.parametrize("call", [row[1] for row in BAD_CALLS], ids=[row[0] for row in BAD_CALLS])
def test_assign_and_offer_for_never_raise(
    service: Any, make_client: Callable[..., Client], call: Callable[[Client], Any]
) -> None:
    client = make_client(service.base_url)
    assert call(client).reason is Reason.FALLBACK
    strict = make_client(service.base_url, strict=True)
    with pytest.raises((TypeError, ValueError)):
        call(strict)


def test_a_failing_sticky_store_degrades_to_fallback(
    service: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(service.base_url, sticky_store=BrokenStore())
    assert client.assign("cart-accessory-cross-sell", "visitor-1").reason is Reason.FALLBACK
    assert client.offer_for("cart", "visitor-1").reason is Reason.FALLBACK


CONSTRUCTOR_MISUSE: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"base_url": 123}, TypeError, "base_url must be a str"),
    ({"base_url": "localhost:8000"}, ValueError, "must start with http"),
    ({"sdk_key": None}, TypeError, "sdk_key must be a str"),
    ({"sdk_key": ""}, ValueError, "sdk_key must not be empty"),
    ({"refresh_interval": 0}, ValueError, "refresh_interval must be a positive number"),
    ({"timeout": -1}, ValueError, "timeout must be a positive number"),
    ({"max_queue": 0}, ValueError, "max_queue must be a positive integer"),
    ({"batch_size": 1.5}, ValueError, "batch_size must be a positive integer"),
]


@pytest.mark.parametrize(("override", "error", "message"), CONSTRUCTOR_MISUSE)
def test_constructor_misuse_raises_immediately(
    override: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"base_url": "http://127.0.0.1:9", "sdk_key": "k", **override}
    started = time.monotonic()
    with pytest.raises(error, match=message):
        Client(arguments.pop("base_url"), arguments.pop("sdk_key"), **arguments)
    assert time.monotonic() - started < 0.5
