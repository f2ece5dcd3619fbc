"""Event ingest through `/api/v1/events` in batches of 500, into SQLite and into PostgreSQL, against
the raw insert floor of the same rows with the same driver, in the same run.

    python benchmarks/ingest_load.py [--events 100000] [--clients 4] [--workers 2] [--rounds 4]
        [--only sqlite]

The service runs as `offerlab serve` (gunicorn) on 127.0.0.1 with durability on: SQLite as the
service configures it (WAL, synchronous=FULL), PostgreSQL in a throwaway cluster with its default
fsync and synchronous_commit. Clients post 500-event batches (impressions, acceptances and orders
of the shipped example experiments) over keep-alive connections and wait for each
acknowledgement. The floor writes the same rows, one transaction per batch of 500 like the
service, into a table of the events schema in another database of the same server (or another
SQLite file with the same settings): sqlite3 `executemany`, psycopg `COPY`. The two take turns
(`--rounds` parts of the batches each), so a change in the machine's load falls on both.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from assign_load import ROOT, prepare_database, start_offerlab

sys.path.insert(0, str(ROOT / "tests" / "support"))

import pgcluster  # noqa: E402

BATCH = 500
TARGET_FRACTION = 1 / 3
EXPERIMENTS = {
    "cart-accessory-cross-sell": ("no-offer", "case", "screen-protector", "fast-charger"),
    "checkout-protection-plan-upsell": ("price-49", "price-39", "price-29"),
}
FLOOR_COLUMNS = (
    "event_id",
    "kind",
    "experiment_id",
    "variant_key",
    "visitor_id",
    "ts_ms",
    "value",
    "currency",
    "order_id",
    "allocation_version",
    "probability",
    "attributes",
    "received_at_ms",
)


def make_batches(total: int) -> list[list[dict]]:
    """Storefront traffic: an impression per visitor, acceptance every 5th, order every 4th."""
    start = datetime.now(UTC) - timedelta(hours=1)
    events: list[dict] = []
    visitor = 0
    keys = list(EXPERIMENTS)
    while len(events) < total:
        experiment = keys[visitor % len(keys)]
        variants = EXPERIMENTS[experiment]
        common = {
            "visitor_id": f"shopper-{visitor}",
            "timestamp": (start + timedelta(milliseconds=visitor)).isoformat(),
            "attributes": {"device": "mobile" if visitor % 3 else "desktop"},
        }
        seen = {"experiment": experiment, "variant": variants[visitor % len(variants)]}
        events.append({"event_id": f"i{visitor}", "type": "impression", **seen, **common})
        if visitor % 5 == 0:
            events.append(
                {"event_id": f"a{visitor}", "type": "acceptance", "value": 19.0, **seen, **common}
            )
        if visitor % 4 == 0:
            order = {"order_id": f"o{visitor}", "value": 64.5, "currency": "EUR"}
            events.append({"event_id": f"o{visitor}", "type": "order", **order, **common})
        visitor += 1
    events = events[:total]
    return [events[i : i + BATCH] for i in range(0, len(events), BATCH)]


def floor_rows(batches: list[list[dict]]) -> list[list[tuple]]:
    """The rows an events table holds for these batches, in FLOOR_COLUMNS order."""
    received = int(time.time() * 1000)
    return [[_row(event, received) for event in batch] for batch in batches]


def _row(event: dict, received_ms: int) -> tuple:
    ts_ms = int(datetime.fromisoformat(event["timestamp"]).timestamp() * 1000)
    return (
        event["event_id"],
        event["type"],
        1 if "experiment" in event else None,
        event.get("variant"),
        event["visitor_id"],
        ts_ms,
        event.get("value"),
        event.get("currency"),
        event.get("order_id"),
        None,
        None,
        json.dumps(event["attributes"]),
        received_ms,
    )


def post_all(base_url: str, secret: str, batches: list[list[dict]], clients: int) -> float:
    """Send every batch from `clients` threads; returns the seconds until all are acknowledged.

    The bodies are encoded before the clock starts, as the floor's rows are built before its
    clock starts: on two cores the clients' JSON encoding would otherwise take CPU from the
    server being measured."""
    bodies = [json.dumps({"events": batch}).encode() for batch in batches]
    sizes = [len(batch) for batch in batches]
    queue = list(reversed(list(zip(bodies, sizes, strict=True))))
    lock = threading.Lock()
    failures: list[str] = []

    def work() -> None:
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    body, size = queue.pop()
                response = client.post("/api/v1/events", content=body)
                answer = response.json()
                if response.status_code != 200 or answer["accepted"] != size:
                    failures.append(f"{response.status_code} {str(answer)[:300]}")
                    return

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"ingest failed: {failures[0]}")
    return elapsed


class SqliteFloor:
    """sqlite3 executemany into a migrated events table (WAL, synchronous=FULL), per batch."""

    name = "sqlite3 executemany"

    def __init__(self, path: Path) -> None:
        prepare_database(f"sqlite:///{path}", experiments=True)
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._statement = (
            f"INSERT INTO events ({', '.join(FLOOR_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(FLOOR_COLUMNS))})"
        )

    def write(self, rows: list[list[tuple]]) -> float:
        started = time.perf_counter()
        for batch in rows:
            self._connection.execute("BEGIN")
            self._connection.executemany(self._statement, batch)
            self._connection.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self._connection.close()


class PostgresFloor:
    """psycopg COPY into a migrated events table, one transaction per batch."""

    name = "psycopg COPY"

    def __init__(self, url: str) -> None:
        import psycopg

        prepare_database(url, experiments=True)
        self._connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        self._copy_sql = f"COPY events ({', '.join(FLOOR_COLUMNS)}) FROM STDIN"

    def write(self, rows: list[list[tuple]]) -> float:
        started = time.perf_counter()
        for batch in rows:
            with self._connection.cursor() as cursor, cursor.copy(self._copy_sql) as copy:
                for row in batch:
                    copy.write_row(row)
            self._connection.commit()
        return time.perf_counter() - started

    def close(self) -> None:
        self._connection.close()


def measure(
    name: str,
    service_url: str,
    floor: SqliteFloor | PostgresFloor,
    batches: list[list[dict]],
    args: argparse.Namespace,
) -> None:
    """The service and the floor take turns on consecutive parts of the batches, so a change in
    the machine's load falls on both; each keeps its own database growing across the rounds."""
    secret = prepare_database(service_url, experiments=True)
    server = start_offerlab(service_url, args, OFFERLAB_RATE_LIMIT_EVENTS="")
    rounds = [batches[i :: args.rounds] for i in range(args.rounds)]
    service_seconds = floor_seconds = 0.0
    ratios = []
    try:
        for part in rounds:
            events = sum(len(batch) for batch in part)
            service = post_all(f"http://127.0.0.1:{server.port}", secret, part, args.clients)
            floor_time = floor.write(floor_rows(part))
            service_seconds += service
            floor_seconds += floor_time
            ratios.append((events / service) / (events / floor_time))
    finally:
        server.stop()
        floor.close()
    events = sum(len(batch) for batch in batches)
    service_rate, floor_rate = events / service_seconds, events / floor_seconds
    ratio = service_rate / floor_rate
    verdict = "PASS" if ratio >= TARGET_FRACTION else "MISS"
    print(f"{name}: {events:,} events in batches of {BATCH}, {args.rounds} alternating rounds")
    print(f"  offerlab /api/v1/events  {service_rate:>10,.0f} events/s  ({service_seconds:.2f} s)")
    print(f"  floor ({floor.name})  {floor_rate:>10,.0f} rows/s    ({floor_seconds:.2f} s)")
    print(f"  per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"  ratio {ratio:.2f} of the floor (target >= {TARGET_FRACTION:.2f}) {verdict}")


def run_postgres(workdir: Path, batches: list[list[dict]], args: argparse.Namespace) -> None:
    with pgcluster.running_cluster("service", "floor", durable=True) as cluster:
        floor = PostgresFloor(cluster.url("floor"))
        measure("PostgreSQL (durable)", cluster.url("service"), floor, batches, args)


def run_sqlite(workdir: Path, batches: list[list[dict]], args: argparse.Namespace) -> None:
    floor = SqliteFloor(workdir / "floor.db")
    service_url = f"sqlite:///{workdir / 'service.db'}"
    measure("SQLite (WAL, synchronous=FULL)", service_url, floor, batches, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent posting threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating service / floor turns (each a part)"
    )
    parser.add_argument(
        "--log-level", default="INFO", help="offerlab's log level (INFO logs every request)"
    )
    args = parser.parse_args()
    batches = make_batches(args.events)
    workdir = Path(tempfile.mkdtemp(prefix="offerlab-ingest-load-"))
    try:
        if args.only != "postgresql":
            run_sqlite(workdir, batches, args)
        if args.only != "sqlite":
            run_postgres(workdir, batches, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
