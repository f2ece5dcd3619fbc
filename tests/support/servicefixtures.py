"""Fixtures for tests of the service: a migrated database per test (SQLite and PostgreSQL),
the app, a test client and API keys of each role."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pgcluster
import pytest

DATABASES = ("sqlite", "postgresql")
_counter = itertools.count()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from offerlab.storage.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[pgcluster.PostgresCluster | None]:
    bin_dir = pgcluster.find_bin_dir()
    if bin_dir is None:
        if os.environ.get("OFFERLAB_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL server binaries not found but OFFERLAB_REQUIRE_POSTGRES=1")
        yield None
        return
    cluster = pgcluster.start_cluster(bin_dir)
    _admin(cluster, "CREATE DATABASE offerlab_template")
    from offerlab.storage.migrate import upgrade

    upgrade(cluster.url("offerlab_template"))
    try:
        yield cluster
    finally:
        cluster.stop()


def _admin(cluster: pgcluster.PostgresCluster, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A freshly migrated, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "offerlab.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    cluster = request.getfixturevalue("postgres_template")
    if cluster is None:
        pytest.skip("PostgreSQL server binaries not found (set OFFERLAB_PG_BIN)")
    name = f"test_{os.getpid()}_{next(_counter)}"
    _admin(cluster, f"CREATE DATABASE {name} TEMPLATE offerlab_template")
    yield cluster.url(name)
    _admin(cluster, f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (not migrated): a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    cluster = request.getfixturevalue("postgres_template")
    if cluster is None:
        pytest.skip("PostgreSQL server binaries not found (set OFFERLAB_PG_BIN)")
    name = f"empty_{os.getpid()}_{next(_counter)}"
    _admin(cluster, f"CREATE DATABASE {name}")
    yield cluster.url(name)
    _admin(cluster, f"DROP DATABASE {name} WITH (FORCE)")


class Clock:
    """A settable clock for the app; starts at a fixed moment."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(database_url: str, clock: Clock):  # type: ignore[no-untyped-def]
    from offerlab.api.app import create_app
    from offerlab.settings import Settings

    application = create_app(
        Settings(database_url=database_url), clock=clock, run_bandit_updates=False
    )
    application.config["TESTING"] = True
    yield application
    application.extensions["offerlab"].engine.dispose()


@pytest.fixture
def sessions(app):  # type: ignore[no-untyped-def]
    return app.extensions["offerlab"].sessions


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def api_keys(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One secret per role: {"sdk": ..., "viewer": ..., "admin": ...}."""
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import ROLES, create_key

    secrets = {}
    with session_scope(sessions) as session:
        for role in ROLES:
            _row, secret = create_key(
                session, role=role, name=f"test {role}", now=datetime(2026, 11, 1, tzinfo=UTC)
            )
            secrets[role] = secret
    return secrets


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def post_all_events(client, secret: str, events: list, *, batch: int = 500) -> None:  # type: ignore[no-untyped-def]
    """Post `events` through the events API in batches; every event must be accepted."""
    for start in range(0, len(events), batch):
        response = client.post(
            "/api/v1/events", json={"events": events[start : start + batch]}, headers=auth(secret)
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["rejected"] == []
