"""Data that service tests put into a database: the shipped experiments and API keys per role."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
KEY_CREATED_AT = datetime(2026, 11, 1, tzinfo=UTC)


def apply_example_experiments(app: Any, now: datetime) -> dict[str, Any]:
    """Apply the shipped example experiments through `app`'s sessions; returns them by key."""
    from offerlab.definitions import load_definitions
    from offerlab.services.experiments import apply_definitions
    from offerlab.storage.db import session_scope

    loaded = load_definitions(EXPERIMENTS)
    assert loaded.ok, loaded.problems
    with session_scope(app.extensions["offerlab"].sessions) as session:
        apply_definitions(session, loaded.experiments, now=now)
    app.extensions["offerlab"].snapshots.invalidate()
    return {experiment.key: experiment for experiment in loaded.experiments}


def create_role_keys(sessions: Any) -> dict[str, str]:
    """One fresh secret per role: {"sdk": ..., "viewer": ..., "admin": ...}."""
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import ROLES, create_key

    secrets = {}
    with session_scope(sessions) as session:
        for role in ROLES:
            _row, secret = create_key(session, role=role, name=f"{role} key", now=KEY_CREATED_AT)
            secrets[role] = secret
    return secrets


def create_revoked_key(sessions: Any, role: str = "admin") -> str:
    """The secret of a key that existed with `role` and has been revoked."""
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import create_key, revoke_key

    with session_scope(sessions) as session:
        row, secret = create_key(session, role=role, name="revoked key", now=KEY_CREATED_AT)
        assert revoke_key(session, row.prefix, now=KEY_CREATED_AT)
    return secret


def create_key_in(database_url: str, role: str) -> str:
    """A new key of `role` written straight into the database at `database_url`."""
    from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
    from offerlab.storage.keys import create_key

    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            _row, secret = create_key(session, role=role, name=f"{role} key", now=KEY_CREATED_AT)
    finally:
        engine.dispose()
    return secret
