"""Acknowledged events survive the server being killed (SIGKILL) mid-stream, exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import create_engine, text

BATCH = 50
BATCHES = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "OFFERLAB_WORKERS": "2",
        "OFFERLAB_BANDIT_UPDATE_CHECK_SECONDS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "offerlab", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the server did not start")


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def order_batch(number: int) -> list[dict]:
    stamp = datetime.now(UTC).isoformat()
    return [
        {
            "event_id": f"b{number}-e{k}",
            "type": "order",
            "visitor_id": f"v{number}-{k}",
            "order_id": f"o{number}-{k}",
            "value": 10.0,
            "timestamp": stamp,
        }
        for k in range(BATCH)
    ]


@pytest.mark.slow
def test_every_acknowledged_event_is_stored_once_across_a_sigkill(database_url, api_keys):
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/events"
    headers = {"Authorization": f"Bearer {api_keys['sdk']}"}
    server = start_server(database_url, port)
    acknowledged: set[str] = set()
    failures = 0
    killer = threading.Timer(1.0, kill, args=(server,))
    killer.start()
    try:
        for number in range(BATCHES):
            batch = order_batch(number)
            while True:
                try:
                    response = httpx.post(url, json={"events": batch}, headers=headers, timeout=5)
                except httpx.HTTPError:
                    failures += 1
                    if server.poll() is not None and not killer.is_alive():
                        server = start_server(database_url, port)
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    body = response.json()
                    assert body["rejected"] == []
                    assert body["accepted"] + body["duplicates"] == BATCH
                    acknowledged.update(event["event_id"] for event in batch)
                    break
                failures += 1
                time.sleep(0.05)
    finally:
        killer.cancel()
        if server.poll() is None:
            kill(server)
    assert failures > 0, "the server was killed while the client was sending"
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT event_id FROM events"))]
    engine.dispose()
    assert len(stored) == len(set(stored)), "no event is stored twice"
    assert acknowledged <= set(stored), "every acknowledged event is stored"
    assert len(acknowledged) == BATCHES * BATCH
