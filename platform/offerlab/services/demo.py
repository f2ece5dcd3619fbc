"""`offerlab demo`: a fresh SQLite database, the shipped experiments, the service, and simulated
shoppers sent through the real SDK with known true acceptance rates (one variant clearly best)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from werkzeug.serving import make_server

from offerlab.definitions import load_definitions
from offerlab.errors import InvalidRequest
from offerlab.services.bandits import update_allocations
from offerlab.services.experiments import apply_definitions
from offerlab.settings import Settings
from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
from offerlab.storage.keys import create_key
from offerlab.storage.migrate import upgrade
from offerlab_sdk import Client
from offerlab_sdk.assignment import Assignment

# True acceptance rates of the shipped examples; any other variant accepts at DEFAULT_RATE.
TRUE_ACCEPTANCE: Mapping[str, Mapping[str, float]] = {
    "product-page-premium-upsell": {
        "no-prompt": 0.0,
        "storage-message": 0.07,
        "upgrade-discount": 0.13,
    },
    "cart-accessory-cross-sell": {
        "no-offer": 0.0,
        "case": 0.06,
        "screen-protector": 0.05,
        "fast-charger": 0.13,
    },
    "checkout-protection-plan-upsell": {"price-49": 0.10, "price-39": 0.13, "price-29": 0.21},
}
DEFAULT_RATE = 0.05
FUNNEL = (("product_page", 1.0), ("cart", 0.6), ("checkout", 0.45), ("post_purchase", 0.36))
ORDER_RATE_AT_CHECKOUT = 0.8


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_demo(
    *,
    database: Path,
    experiments_path: Path,
    port: int,
    visitors: int,
    keep_serving: bool,
    echo: Callable[[str], None],
) -> None:
    """Set everything up, serve, drive the traffic, and keep serving until interrupted."""
    database_url = _fresh_database(database)
    secrets = _seed(database_url, experiments_path)
    server, url = _start_service(database_url, port)
    echo(f"offerlab is serving on {url}")
    echo(f"dashboard: {url}/dashboards/   sign in with the viewer key: {secrets['viewer']}")
    echo(f"admin key: {secrets['admin']}   sdk key: {secrets['sdk']}")
    _print_truth(echo)
    try:
        drive_traffic(url, secrets["sdk"], database_url, visitors=visitors, echo=echo)
        echo(f"traffic done: open {url}/dashboards/ to see the winners")
        if keep_serving:
            echo("serving until Ctrl-C")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        server.shutdown()


def _fresh_database(database: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database_url = f"sqlite:///{database.resolve()}"
    upgrade(database_url)
    return database_url


def _seed(database_url: str, experiments_path: Path) -> dict[str, str]:
    loaded = load_definitions(experiments_path)
    if loaded.problems:
        raise InvalidRequest("\n".join(str(problem) for problem in loaded.problems))
    engine = make_engine(database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        apply_definitions(session, loaded.experiments, now=utc_now())
        secrets = {
            role: create_key(session, role=role, name=f"demo {role}", now=utc_now())[1]
            for role in ("sdk", "viewer", "admin")
        }
    engine.dispose()
    return secrets


def _start_service(database_url: str, port: int) -> tuple[Any, str]:
    from offerlab.api.app import create_app

    app = create_app(Settings(database_url=database_url), run_bandit_updates=False)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="offerlab-demo-server", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _print_truth(echo: Callable[[str], None]) -> None:
    echo("true acceptance rates of the simulated shoppers:")
    for experiment, rates in TRUE_ACCEPTANCE.items():
        echo(f"  {experiment}: " + ", ".join(f"{k} {v:.0%}" for k, v in rates.items()))


def drive_traffic(
    url: str,
    sdk_key: str,
    database_url: str,
    *,
    visitors: int,
    echo: Callable[[str], None],
    seed: int = 7,
    wave_size: int = 1000,
) -> None:
    """Simulate `visitors` shoppers in waves through the SDK; re-weight bandits after each wave.

    A wave stands for a stretch of shop time, so the bandits get a new allocation epoch per wave
    (the service's own updater would wait for each experiment's update interval).
    """
    rng = np.random.default_rng(seed)
    client = Client(url, sdk_key, refresh_interval=1.0, batch_size=500, flush_interval=0.2)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        for start in range(0, visitors, wave_size):
            for number in range(start, min(start + wave_size, visitors)):
                simulate_shopper(client, f"shopper-{number:06d}", rng)
            client.flush(timeout=30)
            with session_scope(sessions) as session:
                update_allocations(session, now=utc_now(), rng=rng, force=True)
            echo(f"  {min(start + wave_size, visitors):>7,} shoppers sent")
    finally:
        client.close(timeout=30)
        engine.dispose()


DEVICES = (("mobile", 0.6), ("desktop", 0.35), ("tablet", 0.05))
RETURNING_SHARE = 0.4
REFUND_RATE = 0.04


def shopper_attributes(rng: np.random.Generator) -> dict[str, Any]:
    """Device, new or returning, and spend in the 30 days before the visit (CUPED's covariate)."""
    device = str(rng.choice([name for name, _ in DEVICES], p=[share for _, share in DEVICES]))
    returning = bool(rng.random() < RETURNING_SHARE)
    spend = round(float(rng.gamma(2.0, 60.0)), 2) if returning else 0.0
    return {"device": device, "customer": "returning" if returning else "new", "spend_30d": spend}


def simulate_shopper(client: Client, visitor_id: str, rng: np.random.Generator) -> None:
    """One shopper's way through the funnel: offers seen, offers taken, maybe an order, and
    now and then a refund."""
    attributes = shopper_attributes(rng)
    reach = rng.random()
    taken = 0.0
    for placement, share in FUNNEL:
        if reach >= share:
            break
        assignment = client.offer_for(placement, visitor_id, attributes)
        if client.track_impression(assignment, visitor_id, attributes):
            taken += _maybe_accept(client, assignment, visitor_id, rng)
    # Shoppers who spent more before order more often and buy more: the covariate CUPED uses.
    loyal = rng.random() < min(0.5, attributes["spend_30d"] / 400.0)
    if reach < FUNNEL[2][1] * ORDER_RATE_AT_CHECKOUT or loyal:
        basket = float(rng.lognormal(mean=4.1, sigma=0.55)) + 0.8 * attributes["spend_30d"]
        order_id = f"order-{uuid.uuid4().hex[:16]}"
        value = round(basket + taken, 2)
        client.track_order(visitor_id, order_id, value)
        if rng.random() < REFUND_RATE:
            client.track_refund(visitor_id, order_id, round(value * rng.uniform(0.2, 1.0), 2))


def _maybe_accept(
    client: Client, assignment: Assignment, visitor_id: str, rng: np.random.Generator
) -> float:
    payload = assignment.payload or {}
    price = float(payload.get("price", 0.0)) * (1.0 - float(payload.get("discount", 0.0)))
    rate = TRUE_ACCEPTANCE.get(assignment.experiment or "", {}).get(
        assignment.variant or "", DEFAULT_RATE
    )
    if price <= 0 or rng.random() >= rate:
        return 0.0
    client.track_acceptance(assignment, visitor_id, round(price, 2))
    return round(price, 2)
