"""With the database unreachable the service answers 503 problem+json with Retry-After, never 500,
while /healthz stays up and /readyz reports the outage."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def app_without_database():  # type: ignore[no-untyped-def]
    from offerlab.api.app import create_app
    from offerlab.settings import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/offerlab?connect_timeout=2"
    application = create_app(Settings(database_url=url), run_bandit_updates=False)
    yield application
    application.extensions["offerlab"].engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/events", {"events": []}),
        ("post", "/api/v1/assign", {"experiment": "x", "visitor_id": "v"}),
        ("get", "/api/v1/snapshot", None),
    ],
)
def test_api_calls_get_503_with_retry_after(app_without_database, method, path, body):
    client = app_without_database.test_client()
    response = getattr(client, method)(
        path, json=body, headers={"Authorization": "Bearer ol_sdk_0000_x"}
    )
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0


def test_health_stays_up_and_readiness_fails(app_without_database):
    client = app_without_database.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.mimetype == "application/problem+json"
