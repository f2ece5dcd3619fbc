"""PostgreSQL stops mid-stream: the service answers 503 problem+json with Retry-After (never 500,
never a hang), /healthz stays up while /readyz fails, it recovers by itself when PostgreSQL is
back, and every event a retrying client got acknowledged is stored exactly once."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pgcluster
import pytest
from eventstream import event_ids, order_batch, stored_event_counts
from serverprocess import ServiceProcess, start_service

CLIENTS = 3
BATCHES_PER_CLIENT = 40
BATCH = 100
OUTAGE_SECONDS = 3.0
ANSWER_WITHIN_SECONDS = 5.0
RECOVERY_SECONDS = 30.0


@pytest.fixture
def own_cluster() -> Iterator[pgcluster.PostgresCluster]:
    """A PostgreSQL cluster of this test's own, since the test stops and starts it."""
    bin_dir = pgcluster.find_bin_dir()
    if bin_dir is None:
        if os.environ.get("OFFERLAB_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL server binaries not found but OFFERLAB_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL server binaries not found (set OFFERLAB_PG_BIN)")
    cluster = pgcluster.start_cluster(bin_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database(own_cluster) -> str:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    from offerlab.storage.migrate import upgrade

    engine = create_engine(own_cluster.admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CREATE DATABASE offerlab"))
    engine.dispose()
    url = own_cluster.url("offerlab")
    upgrade(url)
    return url


@pytest.fixture
def service(database, tmp_path: Path) -> Iterator[ServiceProcess]:
    started = start_service(database, tmp_path / "serve.log", workers=2, threads=4)
    yield started
    started.kill()


class RetryingClient(threading.Thread):
    """Sends its batches in order, resending the same events until one is acknowledged."""

    def __init__(self, number: int, url: str, headers: dict) -> None:
        super().__init__(daemon=True)
        self.number, self.url, self.headers = number, url, headers
        self.acknowledged: set[str] = set()
        self.statuses: Counter[int | str] = Counter()

    def run(self) -> None:
        for sequence in range(BATCHES_PER_CLIENT):
            batch = order_batch(f"c{self.number}-b{sequence}", BATCH)
            while not self.send(batch):
                time.sleep(0.1)
            time.sleep(0.05)  # spread the stream over the outage

    def send(self, batch: list[dict]) -> bool:
        try:
            response = httpx.post(
                self.url, json={"events": batch}, headers=self.headers, timeout=10
            )
        except httpx.TransportError as error:
            self.statuses[type(error).__name__] += 1
            return False
        self.statuses[response.status_code] += 1
        if response.status_code != 200:
            return False
        body = response.json()
        assert body["accepted"] + body["duplicates"] == BATCH
        self.acknowledged |= event_ids(batch)
        return True


def timed_get(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=ANSWER_WITHIN_SECONDS * 2)
    return response, time.monotonic() - started


def wait_until_ready(base_url: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < RECOVERY_SECONDS:
        if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError("the service did not become ready again")


def assert_unavailable_answer(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 503
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < ANSWER_WITHIN_SECONDS


@pytest.mark.slow
def test_the_service_rides_out_a_postgres_outage(own_cluster, database, service):
    from service_data import create_key_in

    headers = {"Authorization": f"Bearer {create_key_in(database, 'sdk')}"}
    clients = [
        RetryingClient(n, f"{service.base_url}/api/v1/events", headers) for n in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(1.0)

    own_cluster.stop_server()
    outage_started = time.monotonic()
    started = time.monotonic()
    events = httpx.post(
        f"{service.base_url}/api/v1/events",
        json={"events": order_batch("probe", 5)},
        headers=headers,
        timeout=ANSWER_WITHIN_SECONDS * 2,
    )
    assert_unavailable_answer(events, time.monotonic() - started)
    assert_unavailable_answer(*timed_get(f"{service.base_url}/readyz"))
    health, elapsed = timed_get(f"{service.base_url}/healthz")
    assert health.status_code == 200 and elapsed < ANSWER_WITHIN_SECONDS
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))

    own_cluster.start_server()
    wait_until_ready(service.base_url)
    for client in clients:
        client.join(timeout=120)
    assert not any(client.is_alive() for client in clients), "every client finished its batches"

    statuses = sum((client.statuses for client in clients), Counter())
    assert statuses[503] > 0, f"the clients met the outage: {statuses}"
    assert set(statuses) <= {200, 503}, f"only acknowledgements and 503s: {statuses}"
    stored = stored_event_counts(database)
    acknowledged = set().union(*(client.acknowledged for client in clients))
    assert len(acknowledged) == CLIENTS * BATCHES_PER_CLIENT * BATCH
    assert acknowledged <= stored.keys(), "every acknowledged event is stored"
    assert max(stored.values()) == 1, "no event is stored twice"
