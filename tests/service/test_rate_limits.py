"""Per-key rate limits on events and assign: 429 problem+json with Retry-After."""

from __future__ import annotations

import pytest
from servicefixtures import auth


@pytest.fixture
def limited_app(database_url, clock):  # type: ignore[no-untyped-def]
    from offerlab.api.app import create_app
    from offerlab.settings import Settings

    settings = Settings(
        database_url=database_url, rate_limit_events="3/minute", rate_limit_assign="2/minute"
    )
    application = create_app(settings, clock=clock, run_bandit_updates=False)
    yield application
    application.extensions["offerlab"].engine.dispose()


@pytest.fixture
def limited(limited_app):  # type: ignore[no-untyped-def]
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import create_key

    with session_scope(limited_app.extensions["offerlab"].sessions) as session:
        keys = [
            create_key(
                session,
                role="sdk",
                name=f"shop {n}",
                now=limited_app.extensions["offerlab"].clock(),
            )[1]
            for n in range(2)
        ]
    return limited_app.test_client(), keys


def test_a_key_over_its_event_limit_gets_429_with_retry_after(limited):
    client, (first, second) = limited
    statuses = [
        client.post("/api/v1/events", json={"events": []}, headers=auth(first)).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = client.post("/api/v1/events", json={"events": []}, headers=auth(first))
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["status"] == 429
    assert int(refused.headers["Retry-After"]) > 0
    other = client.post("/api/v1/events", json={"events": []}, headers=auth(second))
    assert other.status_code == 200, "limits are per key"


def test_assign_has_its_own_limit(limited):
    client, (first, _second) = limited
    body = {"experiment": "none", "visitor_id": "v"}
    statuses = [
        client.post("/api/v1/assign", json=body, headers=auth(first)).status_code for _ in range(3)
    ]
    assert statuses == [404, 404, 429]


def test_a_refusal_says_when_to_retry_within_the_window(limited):
    client, (first, _second) = limited
    for _ in range(3):
        client.post("/api/v1/events", json={"events": []}, headers=auth(first))
    refused = client.post("/api/v1/events", json={"events": []}, headers=auth(first))
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in refused.get_json()["detail"]


def test_a_limit_holds_several_windows() -> None:
    from flask import Flask
    from limits import parse_many

    from offerlab.api.ratelimit import RateLimits, rate_limit_storage

    limits = RateLimits(rate_limit_storage("memory://"))
    items = parse_many("5/minute;2/hour")
    with Flask("probe").test_request_context():
        answers = [limits.refusal("storefront.assign", items, "key:a") for _ in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2] is not None and answers[2].status_code == 429
    assert int(answers[2].headers["Retry-After"]) > 60, "the hourly window is the one exceeded"


def _thread_starts_during_hits(storage, monkeypatch) -> int:  # type: ignore[no-untyped-def]
    import threading
    import time

    from limits import parse_many
    from limits.strategies import FixedWindowRateLimiter

    started = []
    original_start = threading.Thread.start

    def counting_start(thread):  # type: ignore[no-untyped-def]
        started.append(thread.name)
        original_start(thread)

    limiter = FixedWindowRateLimiter(storage)
    (item,) = parse_many("1000/minute")
    time.sleep(0.05)  # let the timer the constructor starts finish
    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(40):
        limiter.hit(item, "storefront.assign", "key:a")
        time.sleep(0.003)
    monkeypatch.undo()
    return len(started)


def test_memory_counters_start_no_thread_per_window(monkeypatch):  # type: ignore[no-untyped-def]
    from limits.storage import MemoryStorage

    from offerlab.api.ratelimit import SweptMemoryStorage

    # The library's own memory storage starts a timer thread about every 10 ms of hits; if this
    # control fails, `limits` changed how it expires counters and SweptMemoryStorage needs a look.
    assert _thread_starts_during_hits(MemoryStorage(), monkeypatch) >= 3
    assert _thread_starts_during_hits(SweptMemoryStorage(), monkeypatch) == 0


def test_expired_memory_counters_are_swept(monkeypatch):  # type: ignore[no-untyped-def]
    import time

    from limits import parse_many
    from limits.strategies import FixedWindowRateLimiter

    from offerlab.api import ratelimit

    monkeypatch.setattr(ratelimit, "MEMORY_SWEEP_SECONDS", 0.0)
    storage = ratelimit.SweptMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    (item,) = parse_many("10/second")
    limiter.hit(item, "storefront.assign", "key:gone")
    time.sleep(1.1)
    limiter.hit(item, "storefront.assign", "key:new")
    assert [key for key in storage.storage if "key:gone" in key] == []
    assert [key for key in storage.storage if "key:new" in key] != []


def test_a_failing_limit_storage_lets_requests_through_with_a_warning(caplog):  # type: ignore[no-untyped-def]
    from limits import parse_many
    from limits.errors import StorageError

    from offerlab.api.ratelimit import RateLimits, SweptMemoryStorage

    class DownStorage(SweptMemoryStorage):
        def incr(self, key, expiry, amount=1):  # type: ignore[no-untyped-def]
            raise StorageError(ConnectionError("redis is down"))

    limits = RateLimits(DownStorage())
    items = parse_many("1/minute")
    answers = [limits.refusal("storefront.events", items, "key:a") for _ in range(3)]
    assert answers == [None, None, None]
    warnings = [r for r in caplog.records if "rate limits not enforced" in r.getMessage()]
    assert len(warnings) == 1, "one warning, not one per request"
