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
    text = client.get("/metrics").get_data(as_text=True)
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
