"""Request ids, Prometheus metrics and JSON log lines."""

from __future__ import annotations

import json
import logging

from servicefixtures import auth


def metric_value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{wanted}}} not found")


def test_every_response_carries_a_request_id_and_echoes_the_callers(client):
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32
    echoed = client.get("/healthz", headers={"X-Request-Id": "shop-req-42"})
    assert echoed.headers["X-Request-Id"] == "shop-req-42"


def test_metrics_count_requests_events_and_assignments(client, applied, api_keys):
    key = "checkout-protection-plan-upsell"
    client.post(
        "/api/v1/assign",
        json={"experiment": key, "visitor_id": "m1"},
        headers=auth(api_keys["sdk"]),
    )
    batch = [
        {
            "event_id": "m-1",
            "type": "order",
            "visitor_id": "m1",
            "order_id": "o-m1",
            "value": 10.0,
            "timestamp": "2026-11-02T09:00:00+00:00",
        },
        {"event_id": "m-2", "type": "order", "visitor_id": "m1"},
    ]
    client.post("/api/v1/events", json={"events": batch}, headers=auth(api_keys["sdk"]))
    client.post("/api/v1/events", json={"events": batch[:1]}, headers=auth(api_keys["sdk"]))
    text = client.get("/metrics", headers=auth(api_keys["viewer"])).get_data(as_text=True)
    assert metric_value(text, "offerlab_events_total", outcome="accepted") == 1
    assert metric_value(text, "offerlab_events_total", outcome="duplicate") == 1
    assert metric_value(text, "offerlab_events_total", outcome="rejected") == 1
    assert (
        metric_value(text, "offerlab_assignments_total", experiment=key, reason="in_experiment")
        == 1
    )
    assert (
        metric_value(
            text,
            "offerlab_http_requests_total",
            method="POST",
            route="/api/v1/events",
            status="200",
        )
        == 2
    )
    assert (
        metric_value(
            text,
            "offerlab_http_request_duration_seconds_count",
            method="POST",
            route="/api/v1/events",
        )
        == 2
    )


def test_log_lines_are_json_with_the_request_id(app, client, caplog):
    from offerlab.api.observability import JsonFormatter

    with caplog.at_level(logging.INFO, logger="offerlab.access"):
        client.get("/healthz", headers={"X-Request-Id": "abc-1"})
    record = next(r for r in caplog.records if r.name == "offerlab.access")
    with app.test_request_context():
        line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc-1"
    assert (line["route"], line["status"], line["message"]) == ("/healthz", 200, "request")


def test_metrics_need_a_readers_key_unless_opened(database_url, clock, api_keys):
    from offerlab.api.app import create_app
    from offerlab.settings import Settings

    guarded = create_app(
        Settings(database_url=database_url), clock=clock, run_bandit_updates=False
    ).test_client()
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers=auth(api_keys["sdk"])).status_code == 403
    assert guarded.get("/metrics", headers=auth(api_keys["viewer"])).status_code == 200
    opened = create_app(
        Settings(database_url=database_url, metrics_public=True),
        clock=clock,
        run_bandit_updates=False,
    ).test_client()
    assert opened.get("/metrics").status_code == 200


def test_a_key_revoked_elsewhere_is_refused_once_the_key_cache_expires(
    database_url, clock, api_keys, sessions
):
    from datetime import UTC, datetime

    from offerlab.api.app import create_app
    from offerlab.settings import Settings
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import revoke_key

    def worker(cache_seconds: float):  # type: ignore[no-untyped-def]
        settings = Settings(database_url=database_url, key_cache_seconds=cache_seconds)
        return create_app(settings, clock=clock, run_bandit_updates=False).test_client()

    cached, uncached = worker(30), worker(0)
    key = auth(api_keys["viewer"])
    assert cached.get("/api/v1/experiments", headers=key).status_code == 200
    assert uncached.get("/api/v1/experiments", headers=key).status_code == 200
    prefix = api_keys["viewer"].rsplit("_", 1)[0]
    with session_scope(sessions) as session:
        assert revoke_key(session, prefix, now=datetime(2026, 11, 3, tzinfo=UTC))
    # A worker that did not revoke the key keeps its cached answer for up to key_cache_seconds.
    assert cached.get("/api/v1/experiments", headers=key).status_code == 200
    assert uncached.get("/api/v1/experiments", headers=key).status_code == 401
