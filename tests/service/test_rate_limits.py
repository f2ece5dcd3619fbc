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
