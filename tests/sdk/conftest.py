"""A real HTTP fake of the service's two SDK endpoints, on 127.0.0.1, plus client fixtures."""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from offerlab_sdk import Client

SDK_KEY = "sdk-test-key"


def variant(key: str, weight_bp: int, **payload: Any) -> dict[str, Any]:
    return {"key": key, "name": key, "weight_bp": weight_bp, "payload": payload}


def snapshot_document(*experiments: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    return {
        "spec_version": 1,
        "snapshot_version": version,
        "generated_at": "2026-11-25T10:00:00+00:00",
        "experiments": list(experiments),
    }


def experiment_document(
    key: str = "cart-accessory-cross-sell",
    *,
    weights: tuple[int, ...] = (5000, 5000),
    status: str = "running",
    placement: str = "cart",
    traffic_bp: int = 10000,
    range_bp: tuple[int, int] = (0, 10000),
    allocation_version: int = 1,
    **serving_context: Any,
) -> dict[str, Any]:
    """One experiment; ``serving_context`` adds measurement_bp, segment_attribute and so on."""
    keys = ["no-offer", "case", "charger", "cable", "stand"][: len(weights)]
    return serving_context | {
        "key": key,
        "salt": key,
        "status": status,
        "placement": placement,
        "offer_kind": "cross_sell",
        "traffic_bp": traffic_bp,
        "placement_range_bp": list(range_bp),
        "allocation_version": allocation_version,
        "control": "no-offer",
        "variants": [variant(k, w, sku=k.upper()) for k, w in zip(keys, weights, strict=True)],
    }


@dataclass
class ScriptedResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class FakeService:
    """State of the fake: what the SDK sent, and what the fake answers next."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshot_body = b""
        self.etag = ""
        self.snapshot_requests: list[dict[str, str]] = []
        self.event_attempts: list[list[dict[str, Any]]] = []
        self.seen_event_ids: list[str] = []
        self.rejected_order_ids: set[str] = set()
        self.scripted: deque[ScriptedResponse] = deque()
        self.attempt_times: list[float] = []
        self.base_url = ""

    def set_snapshot(self, document: dict[str, Any] | bytes) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        with self.lock:
            self.snapshot_body = body
            self.etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def script(self, *responses: ScriptedResponse) -> None:
        with self.lock:
            self.scripted.extend(responses)

    def accepted_ids(self) -> list[str]:
        with self.lock:
            return list(self.seen_event_ids)

    def answer_events(self, events: list[dict[str, Any]]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.event_attempts.append(copy.deepcopy(events))
            self.attempt_times.append(time.monotonic())
            if self.scripted:
                scripted = self.scripted.popleft()
                return scripted.status, scripted.headers, {"title": "scripted"}
            return 200, {}, self._ingest(events)

    def _ingest(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        counts: dict[str, Any] = {"accepted": 0, "duplicates": 0, "rejected": []}
        for index, event in enumerate(events):
            if event.get("order_id") in self.rejected_order_ids:
                counts["rejected"].append(
                    {"index": index, "event_id": event["event_id"], "reason": "unknown_variant"}
                )
            elif event["event_id"] in self.seen_event_ids:
                counts["duplicates"] += 1
            else:
                self.seen_event_ids.append(event["event_id"])
                counts["accepted"] += 1
        return counts


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeService) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.fake = fake


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        fake = self.server.fake
        if self.path != "/api/v1/snapshot":
            return self._reply(404, {}, {"title": "not found"})
        with fake.lock:
            fake.snapshot_requests.append(dict(self.headers))
            body, etag = fake.snapshot_body, fake.etag
        if self.headers.get("Authorization") != f"Bearer {SDK_KEY}":
            return self._reply(401, {}, {"title": "unauthorized"})
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, {"ETag": etag}, None)
        self._send(200, {"ETag": etag, "Content-Type": "application/json"}, body)

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        length = int(self.headers.get("Content-Length", "0"))
        document = json.loads(self.rfile.read(length))
        status, headers, body = self.server.fake.answer_events(document["events"])
        self._reply(status, headers, body)

    def _reply(self, status: int, headers: dict[str, str], body: Any) -> None:
        payload = json.dumps(body).encode()
        self._send(status, {"Content-Type": "application/json", **headers}, payload)

    def _send(self, status: int, headers: dict[str, str], payload: bytes | None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload is not None:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[FakeService]:
    """A running fake service serving one 50/50 cart experiment."""
    fake = FakeService()
    fake.set_snapshot(snapshot_document(experiment_document()))
    server = FakeServer(fake)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    """Build clients that are closed after the test."""
    clients: list[Client] = []

    def build(base_url: str, **options: Any) -> Client:
        client = Client(base_url, options.pop("sdk_key", SDK_KEY), **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close(timeout=1.0)


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_server_url() -> Iterator[str]:
    """A URL whose server completes TCP handshakes but never reads or answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def helpers() -> Any:
    """Document builders and polling helpers for the tests (conftest is not importable)."""
    return types.SimpleNamespace(
        experiment=experiment_document,
        snapshot=snapshot_document,
        variant=variant,
        wait_until=wait_until,
        ScriptedResponse=ScriptedResponse,
        sdk_key=SDK_KEY,
    )
