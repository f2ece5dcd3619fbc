"""What the request handlers share: settings, the database, caches and the clock."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from offerlab.api.observability import Metrics
from offerlab.services.snapshots import Snapshot, SnapshotCache, build_snapshot
from offerlab.settings import Settings
from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
from offerlab.storage.keys import find_active_key

KEY_CACHE_ENTRIES = 10_000
# After a failed database call, readiness fails this long unless a write succeeds sooner, so a
# load balancer steers traffic away from a full disk but sends it back to retry soon.
DATABASE_FAILURE_HOLD_SECONDS = 10.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Built once per process by create_app; connections are opened lazily (fork-safe)."""

    def __init__(
        self, settings: Settings, *, clock: Callable[[], datetime] = utc_now, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.engine: Engine = make_engine(
            settings.database_url, sqlite_cache_mib=settings.sqlite_cache_mib
        )
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.snapshots = SnapshotCache(self._build_snapshot, ttl_seconds=1.0)
        self._key_roles: dict[str, tuple[tuple[str, int] | None, float]] = {}
        self._key_lock = threading.Lock()
        self._database_failed_at: float | None = None

    def note_database_failure(self) -> None:
        self._database_failed_at = time.monotonic()

    def note_database_write(self) -> None:
        self._database_failed_at = None

    def database_failed_recently(self) -> bool:
        """Whether a database call failed (e.g. disk full) and no write has succeeded since."""
        failed_at = self._database_failed_at
        return (
            failed_at is not None and time.monotonic() - failed_at < DATABASE_FAILURE_HOLD_SECONDS
        )

    def _build_snapshot(self) -> Snapshot:
        with session_scope(self.sessions) as session:
            return build_snapshot(session, now=self.clock())

    def key_role(self, secret: str) -> str | None:
        """The role of an active key, cached briefly so a request costs no key lookup."""
        identity = self.key_identity(secret)
        return None if identity is None else identity[0]

    def key_identity(self, secret: str) -> tuple[str, int] | None:
        """(role, key id) of an active key, or None; cached like `key_role`."""
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
        with self._key_lock:
            cached = self._key_roles.get(digest)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        identity = self._look_up_key(secret)
        if self.settings.key_cache_seconds > 0:
            self._remember_key(digest, identity)
        return identity

    def _look_up_key(self, secret: str) -> tuple[str, int] | None:
        with session_scope(self.sessions) as session:
            row = find_active_key(session, secret)
            return None if row is None else (row.role, row.id)

    def _remember_key(self, digest: str, identity: tuple[str, int] | None) -> None:
        expires = time.monotonic() + self.settings.key_cache_seconds
        with self._key_lock:
            if len(self._key_roles) >= KEY_CACHE_ENTRIES:
                self._key_roles.clear()  # bounded: unknown keys sent in bulk cannot grow it
            self._key_roles[digest] = (identity, expires)

    def forget_keys(self) -> None:
        with self._key_lock:
            self._key_roles.clear()


def services() -> Services:
    return current_app.extensions["offerlab"]  # type: ignore[no-any-return]
