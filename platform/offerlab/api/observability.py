"""Prometheus metrics, request ids and structured JSON logs."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID_HEADER = "X-Request-Id"


class Metrics:
    """The service's metrics, in a registry of its own (one per app, so tests stay independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "offerlab_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "offerlab_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.events = Counter(
            "offerlab_events_total",
            "Events by outcome (accepted, duplicate, rejected)",
            ["outcome"],
            registry=self.registry,
        )
        self.assignments = Counter(
            "offerlab_assignments_total",
            "Assignments over HTTP by experiment, variant and reason",
            ["experiment", "variant", "reason"],
            registry=self.registry,
        )
        self._assignment_counts = _LabelledChildren(self.assignments)

    def count_assignment(self, experiment: str, variant: str, reason: str) -> None:
        self._assignment_counts.child(experiment, variant, reason).inc()

    def exposition(self) -> bytes:
        # Under a pre-forking server each worker writes to PROMETHEUS_MULTIPROC_DIR and any worker
        # can answer for all of them.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def init_observability(app: Flask, metrics: Metrics) -> None:
    """Request ids and one JSON log line per request."""

    @app.before_request
    def _start() -> None:
        g.request_id = _incoming_request_id() or uuid.uuid4().hex
        g.started = time.perf_counter()

    request_counts = _LabelledChildren(metrics.requests)
    latencies = _LabelledChildren(metrics.latency)

    @app.after_request
    def _finish(response: Response) -> Response:
        current = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        started = g.get("started")
        elapsed = 0.0 if started is None else time.perf_counter() - started
        route = current.url_rule.rule if current.url_rule else "unmatched"
        request_counts.child(current.method, route, str(response.status_code)).inc()
        latencies.child(current.method, route).observe(elapsed)
        request_id = g.get("request_id", "")
        response.headers[REQUEST_ID_HEADER] = request_id
        if _access_log.isEnabledFor(logging.INFO):
            fields = {
                "request_id": request_id,
                "method": current.method,
                "route": route,
                "path": current.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 3),
            }
            _access_log.info("request", extra={"fields": fields})
        return response


class _LabelledChildren:
    """A metric's children by label values, kept so a request skips `labels()` (its checks and
    lock); routes, methods and statuses are few, so the map stays small."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def child(self, *values: str) -> Any:
        found = self._children.get(values)
        if found is None:
            found = self._children.setdefault(values, self._metric.labels(*values))
        return found


def metrics_view(metrics: Metrics) -> Callable[[], Response]:
    """The Prometheus exposition of `metrics` (the app decides who may read it)."""

    def _metrics() -> Response:
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    return _metrics


def _incoming_request_id() -> str | None:
    value = request.headers.get(REQUEST_ID_HEADER, "")
    return value if 0 < len(value) <= 128 and value.isprintable() else None


_access_log = logging.getLogger("offerlab.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON (used by `offerlab serve`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
