"""Event ingest through `/api/v1/events` in batches of 500, into SQLite and into PostgreSQL, against
the raw insert floor of the same rows with the same driver, in the same run.

    python benchmarks/ingest_load.py [--events 100000] [--clients 4] [--workers 2] [--only sqlite]

The service runs as `offerlab serve` (gunicorn) on 127.0.0.1 with durability on: SQLite as the
service configures it (WAL, synchronous=FULL), PostgreSQL in a throwaway cluster with its default
fsync and synchronous_commit. Clients post 500-event batches (impressions, acceptances and orders
of the shipped example experiments) over keep-alive connections and wait for each
acknowledgement. The floor writes the same rows, one transaction per batch of 500 like the
service, into a table of the events schema in another database of the same server (or another
SQLite file with the same settings): sqlite3 `executemany`, psycopg `COPY`.
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
from collections.abc import Callable
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
    """Send every batch from `clients` threads; returns the seconds until all are acknowledged."""
    queue = list(reversed(batches))
    lock = threading.Lock()
    failures: list[str] = []

    def work() -> None:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    batch = queue.pop()
                response = client.post("/api/v1/events", json={"events": batch})
                body = response.json()
                if response.status_code != 200 or body["accepted"] != len(batch):
                    failures.append(f"{response.status_code} {str(body)[:300]}")
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


def sqlite_floor(path: Path, rows: list[list[tuple]]) -> float:
    """sqlite3 executemany into a migrated events table (WAL, synchronous=FULL), per batch."""
    prepare_database(f"sqlite:///{path}", experiments=True)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    statement = (
        f"INSERT INTO events ({', '.join(FLOOR_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(FLOOR_COLUMNS))})"
    )
    started = time.perf_counter()
    for batch in rows:
        connection.execute("BEGIN")
        connection.executemany(statement, batch)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def postgres_floor(url: str, rows: list[list[tuple]]) -> float:
    """psycopg COPY into a migrated events table, one transaction per batch."""
    import psycopg

    prepare_database(url, experiments=True)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        started = time.perf_counter()
        for batch in rows:
            with connection.cursor() as cursor:
                copy_sql = f"COPY events ({', '.join(FLOOR_COLUMNS)}) FROM STDIN"
                with cursor.copy(copy_sql) as copy:
                    for row in batch:
                        copy.write_row(row)
            connection.commit()
        return time.perf_counter() - started


def measure(
    name: str,
    service_url: str,
    floor: Callable[[list[list[tuple]]], float],
    batches: list[list[dict]],
    args: argparse.Namespace,
) -> None:
    secret = prepare_database(service_url, experiments=True)
    server = start_offerlab(service_url, args, OFFERLAB_RATE_LIMIT_EVENTS="")
    try:
        service_seconds = post_all(f"http://127.0.0.1:{server.port}", secret, batches, args.clients)
    finally:
        server.stop()
    floor_seconds = floor(floor_rows(batches))
    events = sum(len(batch) for batch in batches)
    service_rate, floor_rate = events / service_seconds, events / floor_seconds
    ratio = service_rate / floor_rate
    verdict = "PASS" if ratio >= TARGET_FRACTION else "MISS"
    print(f"{name}: {events:,} events in batches of {BATCH}")
    print(f"  offerlab /api/v1/events  {service_rate:>10,.0f} events/s  ({service_seconds:.2f} s)")
    print(f"  floor ({floor.__name__})  {floor_rate:>10,.0f} rows/s    ({floor_seconds:.2f} s)")
    print(f"  ratio {ratio:.2f} of the floor (target >= {TARGET_FRACTION:.2f}) {verdict}")


def run_postgres(workdir: Path, batches: list[list[dict]], args: argparse.Namespace) -> None:
    with pgcluster.running_cluster("service", "floor", durable=True) as cluster:

        def postgres_copy(rows: list[list[tuple]]) -> float:
            return postgres_floor(cluster.url("floor"), rows)

        measure("PostgreSQL (durable)", cluster.url("service"), postgres_copy, batches, args)


def run_sqlite(workdir: Path, batches: list[list[dict]], args: argparse.Namespace) -> None:
    def sqlite_executemany(rows: list[list[tuple]]) -> float:
        return sqlite_floor(workdir / "floor.db", rows)

    measure(
        "SQLite (WAL, synchronous=FULL)",
        f"sqlite:///{workdir / 'service.db'}",
        sqlite_executemany,
        batches,
        args,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent posting threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
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
