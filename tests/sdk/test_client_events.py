"""Event tracking against a real HTTP fake: wire format, batching, retries, bounds, shutdown."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offerlab_sdk import Assignment, Client, Reason
from offerlab_sdk.events import backoff_delay
from offerlab_sdk.transport import parse_retry_after

EXPERIMENT = "cart-accessory-cross-sell"


def counted(client: Client, count: int) -> list[tuple[str, Assignment]]:
    """``count`` visitors who are in the experiment, with their assignments."""
    pairs = ((f"visitor-{n}", client.assign(EXPERIMENT, f"visitor-{n}")) for n in range(10 * count))
    return [(v, a) for v, a in pairs if a.in_experiment][:count]


def all_attempted_ids(service: Any) -> list[list[str]]:
    return [[event["event_id"] for event in batch] for batch in service.event_attempts]


def test_wire_format_of_the_three_event_types(
    service: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(service.base_url)
    ((visitor_id, assignment),) = counted(client, 1)
    assert client.track_impression(assignment, visitor_id, {"device": "mobile"})
    assert client.track_acceptance(assignment, visitor_id, 19.0, "eur")
    assert client.track_order(visitor_id, "order-1001", 119.5)
    assert client.flush()
    impression, acceptance, order = [e for batch in service.event_attempts for e in batch]
    assert set(impression) == {
        "event_id",
        "type",
        "experiment",
        "variant",
        "visitor_id",
        "timestamp",
        "allocation_version",
        "probability",
        "attributes",
    }
    assert impression["type"] == "impression" and impression["attributes"] == {"device": "mobile"}
    assert (impression["experiment"], impression["variant"]) == (EXPERIMENT, assignment.variant)
    assert (impression["allocation_version"], impression["probability"]) == (1, 0.5)
    assert set(acceptance) == set(impression) | {"value", "currency"}
    assert (acceptance["type"], acceptance["value"], acceptance["currency"]) == (
        "acceptance",
        19.0,
        "EUR",
    )
    assert set(order) == {
        "event_id",
        "type",
        "visitor_id",
        "order_id",
        "value",
        "currency",
        "timestamp",
        "attributes",
    }
    assert (order["order_id"], order["value"], order["currency"]) == ("order-1001", 119.5, "EUR")
    for event in (impression, acceptance, order):
        assert re.fullmatch(r"[0-9a-f]{32}", event["event_id"])
        stamp = datetime.fromisoformat(event["timestamp"])
        assert stamp.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - stamp) < timedelta(seconds=10)
    assert client.stats.sent == 3


def test_visitors_outside_the_experiment_are_not_tracked(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    service.set_snapshot(helpers.snapshot(helpers.experiment(traffic_bp=0)))
    client = make_client(service.base_url)
    assignment = client.assign(EXPERIMENT, "visitor-1")
    assert assignment.reason is Reason.OUTSIDE_TRAFFIC
    assert client.track_impression(assignment, "visitor-1") is False
    assert client.track_acceptance(assignment, "visitor-1", 10.0) is False
    assert client.stats.queued == 0


def test_events_are_batched(service: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(service.base_url, batch_size=10, flush_interval=30.0)
    for visitor_id, assignment in counted(client, 25):
        assert client.track_impression(assignment, visitor_id)
    assert client.flush(timeout=5)
    sizes = [len(batch) for batch in service.event_attempts]
    assert sizes == [10, 10, 5]
    assert len(set(service.accepted_ids())) == 25


def test_flush_interval_sends_without_an_explicit_flush(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    client = make_client(service.base_url, flush_interval=0.2)
    client.track_order("visitor-1", "order-1", 50.0)
    assert helpers.wait_until(lambda: len(service.accepted_ids()) == 1, timeout=3)


def test_retry_after_503_resends_the_same_events_once_accepted(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    service.script(helpers.ScriptedResponse(503), helpers.ScriptedResponse(503))
    client = make_client(service.base_url)
    for n in range(5):
        client.track_order(f"visitor-{n}", f"order-{n}", 10.0 + n)
    assert client.flush(timeout=10)
    attempts = all_attempted_ids(service)
    assert len(attempts) == 3 and attempts[0] == attempts[1] == attempts[2]
    assert sorted(service.accepted_ids()) == sorted(attempts[0])
    stats = client.stats
    assert (stats.sent, stats.failed_attempts, stats.rejected, stats.queued) == (5, 2, 0, 0)
    client.track_order("visitor-9", "order-9", 1.0)
    assert client.flush()
    assert all_attempted_ids(service)[-1] == [service.accepted_ids()[-1]], "no double send"


def test_429_retry_after_is_honoured(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    service.script(helpers.ScriptedResponse(429, {"Retry-After": "1"}))
    client = make_client(service.base_url)
    client.track_order("visitor-1", "order-1", 10.0)
    assert client.flush(timeout=10)
    first, second = service.attempt_times
    assert second - first >= 0.95
    assert client.stats.sent == 1


def test_rejected_events_are_dropped_not_retried(
    service: Any, make_client: Callable[..., Client]
) -> None:
    service.rejected_order_ids.add("order-refused")
    client = make_client(service.base_url)
    client.track_order("visitor-1", "order-refused", 10.0)
    client.track_order("visitor-2", "order-2", 20.0)
    assert client.flush()
    assert client.flush()
    assert len(service.event_attempts) == 1
    assert (client.stats.rejected, client.stats.sent, client.stats.queued) == (1, 1, 0)


def test_a_batch_refused_with_400_is_dropped(
    service: Any, make_client: Callable[..., Client], helpers: Any
) -> None:
    service.script(helpers.ScriptedResponse(400))
    client = make_client(service.base_url)
    client.track_order("visitor-1", "order-1", 10.0)
    assert client.flush()
    assert len(service.event_attempts) == 1
    assert (client.stats.rejected, client.stats.sent) == (1, 0)


@pytest.mark.parametrize("value", [float("nan"), "12.00", None, True])
def test_invalid_values_are_refused_without_raising(
    service: Any, make_client: Callable[..., Client], value: Any
) -> None:
    client = make_client(service.base_url)
    assert client.track_order("visitor-1", "order-1", value) is False
    strict = make_client(service.base_url, strict=True)
    with pytest.raises((TypeError, ValueError)):
        strict.track_order("visitor-1", "order-1", value)


def test_unserialisable_attributes_are_refused(
    service: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(service.base_url)
    assert client.track_order("visitor-1", "order-1", 5.0, attributes={"when": object()}) is False
    assert (
        client.track_order("visitor-1", "order-1", 5.0, attributes=["not", "a", "mapping"]) is False
    )
    assert client.stats.queued == 0


def test_refused_connections_never_raise_and_close_promptly(
    closed_port_url: str, make_client: Callable[..., Client]
) -> None:
    started = time.monotonic()
    client = make_client(closed_port_url, flush_interval=0.05)
    assert time.monotonic() - started < 1.0
    assert client.snapshot is None
    assert client.assign(EXPERIMENT, "visitor-1").reason is Reason.FALLBACK
    assert client.offer_for("cart", "visitor-1").reason is Reason.FALLBACK
    assert client.track_order("visitor-1", "order-1", 10.0)
    assert client.flush(timeout=0.5) is False
    assert client.stats.failed_attempts >= 1 and client.stats.queued == 1
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 3.5


def test_close_returns_when_the_server_never_answers(silent_server_url: str) -> None:
    client = Client(silent_server_url, "sdk-test-key")
    assert client.snapshot is None
    client.track_order("visitor-1", "order-1", 10.0)
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 4.0
    assert client.track_order("visitor-2", "order-2", 10.0) is False


def test_full_queue_drops_the_newest_and_counts_it(
    closed_port_url: str, make_client: Callable[..., Client]
) -> None:
    client = make_client(closed_port_url, max_queue=5, flush_interval=60.0)
    results = [client.track_order(f"visitor-{n}", f"order-{n}", 1.0) for n in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert (client.stats.dropped, client.stats.queued) == (3, 5)


def test_close_delivers_what_is_queued(service: Any) -> None:
    with Client(service.base_url, "sdk-test-key", flush_interval=60.0) as client:
        client.track_order("visitor-1", "order-1", 10.0)
    assert len(service.accepted_ids()) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("soon", None), (None, None), ("100000", 300.0)],
)
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    header = "Wed, 25 Nov 2026 10:00:07 GMT"
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(7.0)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 30.0), (60, 30.0)]:
        delays = [backoff_delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4, "jitter spreads retries"
