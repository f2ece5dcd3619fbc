"""Results of one experiment over millions of events, on SQLite and PostgreSQL: the bare GROUP BY
floor, the results query over the raw events, and the per-unit rollups (full build, reads, and
the incremental refresh after a small ingest), in the same run.

    python benchmarks/results_load.py [--events 10000000] [--visitors N] [--only sqlite]

One experiment (three variants) is filled directly (sqlite3 executemany, psycopg COPY) with
storefront traffic: per visitor one or more impressions, an acceptance for about a third,
orders with lognormal values (some before the first impression, some after the attribution
window) and refunds of a tenth of the orders; about five events per visitor by default.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from assign_load import ROOT, prepare_database

sys.path.insert(0, str(ROOT / "tests" / "support"))

import pgcluster  # noqa: E402

EXPERIMENT = "product-page-premium-upsell"
START_MS = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)
DAY_MS = 86_400_000
EVENT_COLUMNS = (
    "key_id",
    "event_id",
    "kind",
    "experiment_id",
    "variant_key",
    "visitor_id",
    "ts_ms",
    "value",
    "currency",
    "order_id",
    "attributes",
    "received_at_ms",
)
EXPOSURE_COLUMNS = ("experiment_id", "visitor_id", "variant_key", "first_ts_ms", "attributes")
CHUNK = 200_000


def generate(events: int, visitors: int, experiment_id: int, variants: list[str], seed: int):
    """(event rows, exposure rows) as tuples in EVENT_COLUMNS and EXPOSURE_COLUMNS order."""
    rng = np.random.default_rng(seed)
    extra_impressions = max(0.1, events / visitors - 1 - 0.35 - 1.45 * 1.1)
    impressions = 1 + rng.poisson(extra_impressions, visitors)
    accepted = rng.uniform(size=visitors) < 0.35
    orders = rng.poisson(1.45, visitors)
    first_ms = START_MS + rng.integers(0, 30 * DAY_MS, visitors)
    variant = rng.integers(0, len(variants), visitors)
    device = np.where(rng.uniform(size=visitors) < 0.6, "mobile", "desktop")
    attributes = {d: json.dumps({"device": d}) for d in ("mobile", "desktop")}
    ids = [f"shopper-{v}" for v in range(visitors)]
    rows: list[tuple] = []
    exposures = [
        (experiment_id, ids[v], variants[variant[v]], int(first_ms[v]), attributes[device[v]])
        for v in range(visitors)
    ]
    who = np.repeat(np.arange(visitors), impressions)
    later = rng.integers(0, 5 * DAY_MS, len(who))
    later[np.r_[0, np.cumsum(impressions)[:-1]]] = 0  # each visitor's first impression
    for n, (v, offset) in enumerate(zip(who.tolist(), later.tolist(), strict=True)):
        row = (1, f"i{n}", "impression", experiment_id, variants[variant[v]], ids[v])
        rows.append((*row, int(first_ms[v]) + offset, None, None, None, attributes[device[v]], 0))
    for v in np.flatnonzero(accepted).tolist():
        ts = int(first_ms[v]) + int(rng.integers(0, 3_600_000))
        row = (1, f"a{v}", "acceptance", experiment_id, variants[variant[v]], ids[v], ts, 120.0)
        rows.append((*row, "EUR", None, None, 0))
    who = np.repeat(np.arange(visitors), orders)
    placed = first_ms[who] + rng.integers(-DAY_MS, 10 * DAY_MS, len(who))
    values = np.round(rng.lognormal(4.0, 0.8, len(who)), 2)
    refunded = rng.uniform(size=len(who)) < 0.1
    for n, v in enumerate(who.tolist()):
        order_id, ts, value = f"o{n}", int(placed[n]), float(values[n])
        rows.append((1, order_id, "order", None, None, ids[v], ts, value, "EUR", order_id, None, 0))
        if refunded[n]:
            refund = (1, f"r{n}", "refund", None, None, ids[v], ts + 3 * DAY_MS, value, "EUR")
            rows.append((*refund, order_id, None, 0))
    return rows, exposures


def chunks(rows: list[tuple]) -> Iterator[list[tuple]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def load_sqlite(path: Path, rows: list[tuple], exposures: list[tuple]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")  # loading speed is not what is measured
    connection.execute("BEGIN")
    for table, columns, data in (
        ("events", EVENT_COLUMNS, rows),
        ("exposures", EXPOSURE_COLUMNS, exposures),
    ):
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        for chunk in chunks(data):
            connection.executemany(sql, chunk)
    connection.execute("COMMIT")
    connection.close()


def load_postgres(url: str, rows: list[tuple], exposures: list[tuple]) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        for table, columns, data in (
            ("events", EVENT_COLUMNS, rows),
            ("exposures", EXPOSURE_COLUMNS, exposures),
        ):
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load


def small_batch(visitors: int, variants: list[str], size: int, seed: int) -> list[dict[str, Any]]:
    """Storefront events for the ingest API: new visitors' impressions, old visitors' orders."""
    rng = np.random.default_rng(seed)
    moment = datetime.fromtimestamp((START_MS + 20 * DAY_MS) / 1000, UTC)
    events: list[dict[str, Any]] = []
    for n in range(size):
        old = f"shopper-{int(rng.integers(0, visitors))}"
        when = (moment + timedelta(seconds=n)).isoformat()
        if n % 2:
            value = round(float(rng.lognormal(4.0, 0.8)), 2)
            fields = {"type": "order", "order_id": f"late-{n}", "value": value, "visitor_id": old}
        else:
            variant = variants[n % len(variants)]
            fields = {"type": "impression", "experiment": EXPERIMENT, "variant": variant}
            fields["visitor_id"] = f"late-shopper-{n}"
        events.append({"event_id": f"late-{n}", "timestamp": when, **fields})
    return events


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def measure(name: str, url: str, fill: Callable, args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from offerlab.services.ingest import ingest_batch
    from offerlab.storage.aggregates import AggregateOptions, grouped_totals_from_events
    from offerlab.storage.aggregates import grouped_totals as served
    from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
    from offerlab.storage.experiments import find_experiment_row
    from offerlab.storage.rollups import refresh_rollups

    prepare_database(url, experiments=True)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with session_scope(sessions) as session:
        row = find_experiment_row(session, EXPERIMENT)
        experiment_id, window = row.id, row.attribution_window_hours
        variants = [variant.key for variant in row.variants]
    started = time.perf_counter()
    rows, exposures = generate(args.events, args.visitors, experiment_id, variants, args.seed)
    generated = time.perf_counter() - started
    fill(rows, exposures)
    print(f"{name}: {len(rows):,} events, {len(exposures):,} units", end="")
    print(f" (generated in {generated:.0f} s, loaded in {time.perf_counter() - started:.0f} s)")
    options = AggregateOptions(window)
    floor_sql = text(
        "SELECT variant_key, COUNT(*), SUM(value) FROM events"
        " WHERE experiment_id = :experiment_id GROUP BY variant_key"
    )
    distinct_sql = text(
        "SELECT variant_key, COUNT(DISTINCT visitor_id), SUM(value) FROM events"
        " WHERE experiment_id = :experiment_id GROUP BY variant_key"
    )

    def read(work: Callable[[Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with session_scope(sessions) as session:
                return work(session)

        return run

    parameters = {"experiment_id": experiment_id}
    figures: list[tuple[str, float]] = []
    floor, _ = best_of(args.repeat, read(lambda s: s.execute(floor_sql, parameters).all()))
    figures.append(("(a) floor: GROUP BY variant_key, COUNT(*), SUM(value)", floor))
    seconds, _ = best_of(args.repeat, read(lambda s: s.execute(distinct_sql, parameters).all()))
    figures.append(("(a') floor with COUNT(DISTINCT visitor_id)", seconds))
    raw_seconds, raw = best_of(
        1, read(lambda s: grouped_totals_from_events(s, experiment_id, options, group=None))
    )
    figures.append(("(b) raw-event grouped_totals", raw_seconds))
    seconds, _ = best_of(1, read(refresh_rollups))
    figures.append(("(c0) rollup full build (once)", seconds))
    rollup = lambda s: served(s, experiment_id, options, group=None)  # noqa: E731
    rolled_seconds, rolled = best_of(args.repeat, read(rollup))
    figures.append(("(c) rollup grouped_totals", rolled_seconds))
    check(rolled, raw)
    batch = small_batch(args.visitors, variants, args.batch, args.seed + 1)
    now = datetime.fromtimestamp((START_MS + 40 * DAY_MS) / 1000, UTC)
    seconds, _ = best_of(1, read(lambda s: ingest_batch(s, batch, now=now, key_id=1)))
    figures.append((f"    ingest of {args.batch:,} further events", seconds))
    seconds, rolled = best_of(1, read(rollup))
    figures.append(("(c') rollup grouped_totals incl. incremental refresh", seconds))
    _, raw = best_of(
        1, read(lambda s: grouped_totals_from_events(s, experiment_id, options, group=None))
    )
    check(rolled, raw)
    for label, value in figures:
        print(f"  {label:<56} {value:>8.3f} s")
    verdict = "PASS" if rolled_seconds <= floor else "MISS"
    print(f"  rollup read / floor = {rolled_seconds / floor:.2f} (target <= 1) {verdict}")
    engine.dispose()


def check(rolled: dict, raw: dict) -> None:
    """The rollup path must give the raw path's numbers (to 1e-9)."""
    assert rolled.keys() == raw.keys()
    for key, totals in raw.items():
        for field, value in vars(totals).items():
            other = vars(rolled[key])[field]
            if isinstance(value, float):
                assert abs(other - value) <= 1e-9 * max(1.0, abs(value)), (key, field)
            else:
                assert other == value, (key, field)


def run_sqlite(workdir: Path, args: argparse.Namespace) -> None:
    path = workdir / "results.db"
    measure("SQLite", f"sqlite:///{path}", lambda rows, x: load_sqlite(path, rows, x), args)


def run_postgres(args: argparse.Namespace) -> None:
    with pgcluster.running_cluster("results", durable=True) as cluster:
        url = cluster.url("results")
        measure("PostgreSQL", url, lambda rows, x: load_postgres(url, rows, x), args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--visitors", type=int, help="default: events / 5")
    parser.add_argument("--batch", type=int, default=2_000, help="events ingested afterwards")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many reads")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    args.visitors = args.visitors or max(1, args.events // 5)
    workdir = Path(tempfile.mkdtemp(prefix="offerlab-results-load-"))
    try:
        if args.only != "postgresql":
            run_sqlite(workdir, args)
        if args.only != "sqlite":
            run_postgres(args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
