"""A database created at the first migration and filled with a running experiment, its traffic and
API keys upgrades to the newest migration without losing or changing a row, and the service then
serves that experiment's results from it, to a key stored before the upgrade."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

FIRST_REVISION = "0001"
EXPERIMENT = "checkout-protection-plan-upsell"
VARIANTS = ("price-49", "price-39", "price-29")
VISITORS_PER_VARIANT = (30, 25, 20)
STARTED = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
START_MS = int(STARTED.timestamp() * 1000)
VIEWER_PREFIX = "ol_viewer_0a1b2c3d"
VIEWER_SECRET = f"{VIEWER_PREFIX}_{'5e' * 24}"
REVOKED_SDK_PREFIX = "ol_sdk_99aa88bb"
REVOKED_SDK_SECRET = f"{REVOKED_SDK_PREFIX}_{'7c' * 24}"
ORIGINAL_TABLES = ("api_keys", "experiments", "variants", "allocations", "events", "exposures")


def insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    """Plain SQL against the first revision's schema: the ORM already knows newer columns."""
    columns = list(rows[0])
    statement = text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    with engine.begin() as connection:
        connection.execute(statement, rows)


def experiment_row() -> dict[str, Any]:
    return {
        "id": 1,
        "key": EXPERIMENT,
        "salt": "protection-plan-2026",
        "name": "Protection plan price at checkout",
        "description": "Which price of the two-year protection plan earns the most per visitor?",
        "placement": "checkout",
        "offer_kind": "upsell",
        "status": "running",
        "unit": "visitor",
        "traffic": 1.0,
        "allocation": "fixed",
        "objective": "conversion",
        "attribution_window_hours": 24,
        "alpha": 0.05,
        "control_key": VARIANTS[0],
        "bandit_update_interval_seconds": 3600,
        "bandit_min_share": 0.05,
        "created_at": STARTED,
        "updated_at": STARTED,
    }


def variant_rows() -> list[dict[str, Any]]:
    prices = (49, 39, 29)
    return [
        {
            "id": position + 1,
            "experiment_id": 1,
            "position": position,
            "key": key,
            "name": f"Protection plan at {price}",
            "weight": 1 / 3,
            "payload": json.dumps({"price": price, "currency": "EUR", "years": 2}),
        }
        for position, (key, price) in enumerate(zip(VARIANTS, prices, strict=True))
    ]


def allocation_row() -> dict[str, Any]:
    weights = json.dumps(dict.fromkeys(VARIANTS, 1 / 3))
    return {
        "id": 1,
        "experiment_id": 1,
        "version": 1,
        "started_at": STARTED,
        "weights": weights,
        "reason": "initial",
    }


def api_key_rows() -> list[dict[str, Any]]:
    digest = hashlib.sha256(VIEWER_SECRET.encode()).hexdigest()
    return [
        {
            "id": 1,
            "name": "analytics team",
            "role": "viewer",
            "prefix": VIEWER_PREFIX,
            "secret_hash": digest,
            "created_at": STARTED,
            "revoked_at": None,
        },
        {
            "id": 2,
            "name": "old storefront",
            "role": "sdk",
            "prefix": REVOKED_SDK_PREFIX,
            "secret_hash": hashlib.sha256(REVOKED_SDK_SECRET.encode()).hexdigest(),
            "created_at": STARTED,
            "revoked_at": STARTED + timedelta(days=3),
        },
    ]


def traffic() -> tuple[list[dict], list[dict], dict[str, dict[str, float]]]:
    """Exposures and events of every visitor, and the figures each variant must report."""
    exposures, events = [], []
    expected = {
        key: dict.fromkeys(("units", "acceptances", "orders", "revenue"), 0) for key in VARIANTS
    }
    for variant, visitors in zip(VARIANTS, VISITORS_PER_VARIANT, strict=True):
        for n in range(visitors):
            visitor, seen = f"{variant}-shopper-{n}", START_MS + n * 60_000
            exposures.append(exposure(visitor, variant, seen))
            events.append(event(f"imp-{visitor}", "impression", visitor, variant, seen))
            expected[variant]["units"] += 1
            if n % 4 == 0:
                events.append(
                    event(f"acc-{visitor}", "acceptance", visitor, variant, seen + 30_000, 39.0)
                )
                expected[variant]["acceptances"] += 1
            if n % 3 == 0:
                value = 80.0 + n
                order = event(f"ord-{visitor}", "order", visitor, None, seen + 300_000, value)
                events.append({**order, "order_id": f"order-{visitor}", "experiment_id": None})
                expected[variant]["orders"] += 1
                expected[variant]["revenue"] += value
    return exposures, events, expected


def exposure(visitor: str, variant: str, seen_ms: int) -> dict[str, Any]:
    return {
        "experiment_id": 1,
        "visitor_id": visitor,
        "variant_key": variant,
        "first_ts_ms": seen_ms,
        "allocation_version": 1,
        "probability": 1 / 3,
    }


def event(
    event_id: str,
    kind: str,
    visitor: str,
    variant: str | None,
    ts_ms: int,
    value: float | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": kind,
        "experiment_id": 1,
        "variant_key": variant,
        "visitor_id": visitor,
        "ts_ms": ts_ms,
        "value": value,
        "currency": "EUR" if value is not None else None,
        "order_id": None,
        "allocation_version": 1 if variant else None,
        "probability": 1 / 3 if variant else None,
        "attributes": json.dumps({"device": "mobile", "returning": True}),
        "received_at_ms": ts_ms + 150,
    }


def seed() -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, float]]]:
    """The rows to insert, by table, and the figures each variant must report."""
    exposures, events, expected = traffic()
    rows = {
        "api_keys": api_key_rows(),
        "experiments": [experiment_row()],
        "variants": variant_rows(),
        "allocations": [allocation_row()],
        "exposures": exposures,
        "events": events,
    }
    return rows, expected


def snapshot(engine: Engine, seeded: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple]]:
    """Every row of the first revision's tables, in the columns that were seeded (and event ids)."""
    found = {}
    with engine.connect() as connection:
        for table, rows in seeded.items():
            columns = (["id"] if table == "events" else []) + list(rows[0])
            result = connection.execute(
                text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2, 3")
            )
            found[table] = [tuple(_comparable(value) for value in row) for row in result]
    return found


def _comparable(value: Any) -> Any:
    # JSON comes back as text from SQLite and decoded from PostgreSQL: compare the decoded value.
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


@pytest.fixture
def seeded(empty_database_url) -> dict[str, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The database at the first revision, holding the seeded rows."""
    from offerlab.storage.migrate import upgrade

    upgrade(empty_database_url, FIRST_REVISION)
    rows, _expected = seed()
    engine = create_engine(empty_database_url)
    for table in ORIGINAL_TABLES:
        insert(engine, table, rows[table])
    engine.dispose()
    return rows


def test_upgrading_to_head_keeps_every_row_and_value(empty_database_url, seeded):
    from offerlab.storage.migrate import is_current, upgrade

    engine = create_engine(empty_database_url)
    before = snapshot(engine, seeded)
    assert not is_current(engine)
    upgrade(empty_database_url)
    assert is_current(engine)
    after = snapshot(engine, seeded)
    engine.dispose()
    assert {table: len(rows) for table, rows in before.items()} == {
        table: len(rows) for table, rows in seeded.items()
    }
    assert after == before


def test_the_upgraded_database_serves_results_to_a_key_stored_before(empty_database_url, seeded):
    from offerlab.api.app import create_app
    from offerlab.settings import Settings
    from offerlab.storage.migrate import upgrade

    upgrade(empty_database_url)
    settings = Settings(database_url=empty_database_url)
    app = create_app(settings, clock=lambda: STARTED + timedelta(days=2), run_bandit_updates=False)
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        results = client.get(
            f"/api/v1/experiments/{EXPERIMENT}/results", headers=bearer(VIEWER_SECRET)
        )
        revoked = client.get("/api/v1/snapshot", headers=bearer(REVOKED_SDK_SECRET))
    finally:
        app.extensions["offerlab"].engine.dispose()
    assert ready.status_code == 200
    assert revoked.status_code == 401, "a key revoked before the upgrade stays revoked"
    assert results.status_code == 200, results.get_data(as_text=True)
    report = results.get_json()
    served = {
        v["variant"]: {
            figure: v[figure] for figure in ("units", "acceptances", "orders", "revenue")
        }
        for v in report["variants"]
    }
    assert served == seed()[1]  # sums of whole amounts: exact in floating point
    assert [v["variant"] for v in report["variants"]] == list(VARIANTS)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
