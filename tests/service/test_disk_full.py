"""A full disk: event batches get 503 problem+json with Retry-After, nothing acknowledged is lost,
and the service recovers by itself once space is back (SQLite's max_page_count stands in for the
disk: SQLite reports both as SQLITE_FULL, "database or disk is full")."""

from __future__ import annotations

import pytest
from servicefixtures import auth
from sqlalchemy import event, text

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
EXPERIMENT = "checkout-protection-plan-upsell"


def impressions(batch: int, size: int = 200) -> list[dict]:
    return [
        {
            "event_id": f"b{batch}-{i}",
            "type": "impression",
            "experiment": EXPERIMENT,
            "variant": "price-29",
            "visitor_id": f"visitor-{batch}-{i}-" + "x" * 60,
            "timestamp": "2026-11-02T09:00:00+00:00",
            "attributes": {"note": "y" * 200},
        }
        for i in range(size)
    ]


def limit_pages(engine, extra_pages: int | None) -> None:  # type: ignore[no-untyped-def]
    """Cap the database file at its current size plus `extra_pages` (None: no cap)."""
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()
    cap = 1_073_741_823 if extra_pages is None else pages + extra_pages

    def cap_pages(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count = {cap}")

    engine.dispose()
    event.listen(engine, "connect", cap_pages)


def test_a_full_disk_gets_503_and_loses_nothing_acknowledged(app, client, applied, api_keys):
    engine = app.extensions["offerlab"].engine
    key = auth(api_keys["sdk"])
    limit_pages(engine, extra_pages=300)
    acknowledged, refused = [], []
    for batch in range(40):
        response = client.post("/api/v1/events", json={"events": impressions(batch)}, headers=key)
        assert response.status_code in (200, 503), response.get_data(as_text=True)
        if response.status_code == 200:
            assert response.get_json()["accepted"] == 200
            acknowledged.append(batch)
        else:
            assert response.mimetype == "application/problem+json"
            assert response.headers["Retry-After"].isdigit()
            assert response.get_json()["status"] == 503
            refused.append(batch)
    assert len(acknowledged) >= 2 and len(refused) >= 10, (acknowledged, refused)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503

    limit_pages(engine, extra_pages=None)
    for batch in refused:
        response = client.post("/api/v1/events", json={"events": impressions(batch)}, headers=key)
        assert response.status_code == 200
        assert response.get_json()["accepted"] == 200
    assert client.get("/readyz").status_code == 200
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
        distinct = connection.execute(
            text("SELECT COUNT(DISTINCT event_id) FROM events")
        ).scalar_one()
    assert stored == distinct == 40 * 200
