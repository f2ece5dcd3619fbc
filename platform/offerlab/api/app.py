"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
from flask import Flask
from sqlalchemy.exc import IntegrityError, OperationalError

from offerlab.api import openapi
from offerlab.api.auth import require
from offerlab.api.context import Services, utc_now
from offerlab.api.observability import Metrics, init_observability, metrics_view
from offerlab.api.problems import register_error_handlers
from offerlab.api.ratelimit import init_rate_limits
from offerlab.api.routes import health, results, storefront
from offerlab.services.bandits import update_allocations
from offerlab.services.monitor import enforce_guardrails
from offerlab.services.reporting import DatabaseReports
from offerlab.settings import Settings
from offerlab.storage.db import session_scope, write_scope
from offerlab.storage.rollups import refresh_rollups

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    run_bandit_updates: bool = True,
) -> Flask:
    """Build the service. Tests pass their own settings and clock."""
    settings = settings or Settings()
    app = Flask("offerlab")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.secret_key = settings.secret_key or secrets.token_hex(32)
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    ctx = Services(settings, clock=clock, metrics=Metrics())
    app.extensions["offerlab"] = ctx
    register_error_handlers(app)
    init_observability(app, ctx.metrics)
    # The metrics name experiments and variants, so they need a reader's key unless opened.
    view = metrics_view(ctx.metrics)
    app.add_url_rule(
        "/metrics", "_metrics", view if settings.metrics_public else require("read")(view)
    )
    for blueprint in (health.bp, storefront.bp, results.bp, openapi.bp):
        app.register_blueprint(blueprint)
    init_rate_limits(app, settings)
    _init_dashboards(app, DatabaseReports(ctx.sessions, clock), ctx.key_role)
    if run_bandit_updates and settings.bandit_update_check_seconds > 0:
        _start_bandit_updates_on_first_request(app, ctx)
    return app


def _init_dashboards(
    app: Flask, reports: DatabaseReports, authenticate: Callable[[str], str | None]
) -> None:
    from offerlab_dashboards import init_app

    init_app(app, reports, authenticate=authenticate)


def _start_bandit_updates_on_first_request(app: Flask, ctx: Services) -> None:
    # Started lazily, inside the serving process, so a pre-forking server never forks a thread.
    started = threading.Event()

    @app.before_request
    def _ensure_updater() -> None:
        if not started.is_set():
            started.set()
            BanditUpdater(ctx).start()


class BanditUpdater(threading.Thread):
    """The service's background work: re-weights due bandit experiments every
    `bandit_update_check_seconds`, checks the guardrails of auto-pausing experiments every
    `guardrail_check_seconds` and refreshes the per-unit rollups every `rollup_refresh_seconds`,
    so that results requests rarely find marked units left to recompute."""

    def __init__(self, ctx: Services) -> None:
        super().__init__(name="offerlab-bandit-updater", daemon=True)
        self._ctx = ctx
        self._rng = np.random.default_rng()
        self._next_guardrail_check = 0.0
        self._next_rollup_refresh = 0.0

    def run(self) -> None:
        settings = self._ctx.settings
        bandit_interval = settings.bandit_update_check_seconds
        intervals = (bandit_interval, settings.rollup_refresh_seconds)
        tick = min((interval for interval in intervals if interval > 0), default=5.0)
        next_bandit_update = 0.0
        while True:
            if bandit_interval > 0 and time.monotonic() >= next_bandit_update:
                next_bandit_update = time.monotonic() + bandit_interval
                self.run_once()
            self.check_guardrails_when_due()
            self.refresh_rollups_when_due()
            time.sleep(tick)

    def refresh_rollups_when_due(self) -> None:
        """Recompute the units marked since the last refresh, when the interval has passed."""
        interval = self._ctx.settings.rollup_refresh_seconds
        if interval <= 0 or time.monotonic() < self._next_rollup_refresh:
            return
        self._next_rollup_refresh = time.monotonic() + interval
        try:
            with write_scope(self._ctx.sessions) as session:
                refresh_rollups(session)
        except (IntegrityError, OperationalError) as error:
            log.warning("rollup refresh skipped: %s", error)

    def check_guardrails_when_due(self) -> None:
        interval = self._ctx.settings.guardrail_check_seconds
        if interval <= 0 or time.monotonic() < self._next_guardrail_check:
            return
        self._next_guardrail_check = time.monotonic() + interval
        try:
            with session_scope(self._ctx.sessions) as session:
                paused = enforce_guardrails(session, now=self._ctx.clock())
        except (IntegrityError, OperationalError) as error:
            log.warning("guardrail check skipped: %s", error)
            return
        if paused:
            self._ctx.snapshots.invalidate()
            log.warning("paused on a violated guardrail: %s", ", ".join(paused))

    def run_once(self) -> None:
        try:
            with session_scope(self._ctx.sessions) as session:
                updates = update_allocations(session, now=self._ctx.clock(), rng=self._rng)
        except IntegrityError:
            return  # another worker started the same epoch first
        except OperationalError as error:
            log.warning("bandit update skipped, database unavailable: %s", error)
            return
        if updates:
            self._ctx.snapshots.invalidate()
            for update in updates:
                log.info("allocation %s v%d: %s", update.experiment, update.version, update.weights)
