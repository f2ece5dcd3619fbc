"""Fixtures for the `offerlab` command line: run the real commands against real databases."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"

Invoke = Callable[..., Result]
_counter = itertools.count()


@pytest.fixture
def invoke(database_url: str) -> Invoke:
    """Run `offerlab ARGS...` on the test database; returns click's Result."""
    return invoke_on(database_url)


@pytest.fixture
def cli_on() -> Callable[[str], Invoke]:
    """`cli_on(url)("report", key)` runs a command on another database."""
    return invoke_on


def invoke_on(database_url: str) -> Invoke:
    from offerlab.cli import main

    def run(*args: str) -> Result:
        runner = CliRunner(env={"DATABASE_URL": database_url, "OFFERLAB_DATABASE_URL": None})
        return runner.invoke(main, [str(arg) for arg in args])

    return run


@pytest.fixture
def applied(invoke: Invoke) -> Invoke:
    """The shipped example experiments, applied with `offerlab apply experiments/`."""
    result = invoke("apply", EXPERIMENTS)
    assert result.exit_code == 0, result.output
    return invoke


@pytest.fixture
def experiments_copy(tmp_path: Path) -> Path:
    """A private copy of the example YAML files, to edit in a test."""
    target = tmp_path / "experiments"
    target.mkdir()
    for source in EXPERIMENTS.glob("*.yaml"):
        shutil.copyfile(source, target / source.name)
    return target


@pytest.fixture(params=("sqlite", "postgresql"))
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    cluster = request.getfixturevalue("postgres_template")
    if cluster is None:
        pytest.skip("PostgreSQL server binaries not found (set OFFERLAB_PG_BIN)")
    name = f"empty_{os.getpid()}_{next(_counter)}"
    admin(cluster.admin_url, f"CREATE DATABASE {name}")
    yield cluster.url(name)
    admin(cluster.admin_url, f"DROP DATABASE {name} WITH (FORCE)")


def admin(admin_url: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def table_names() -> Callable[[str], set[str]]:
    def names(database_url: str) -> set[str]:
        from sqlalchemy import create_engine, inspect

        engine = create_engine(database_url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    return names


@pytest.fixture
def database_contents() -> Callable[[str], dict[str, list[tuple]]]:
    """Every row of every table, sorted: equal before and after means nothing was written."""

    def contents(database_url: str) -> dict[str, list[tuple]]:
        from sqlalchemy import MetaData, create_engine, select

        engine = create_engine(database_url)
        try:
            metadata = MetaData()
            metadata.reflect(engine)
            with engine.connect() as connection:
                return {
                    name: sorted(
                        (tuple(map(repr, row)) for row in connection.execute(select(table))),
                    )
                    for name, table in metadata.tables.items()
                }
        finally:
            engine.dispose()

    return contents


@pytest.fixture
def create_key() -> Callable[[str, str], str]:
    """Create an API key of `role` directly in the database; returns its secret."""

    def create(database_url: str, role: str) -> str:
        from offerlab.storage.db import make_engine, make_sessionmaker, session_scope
        from offerlab.storage.keys import create_key as store_key

        engine = make_engine(database_url)
        try:
            with session_scope(make_sessionmaker(engine)) as session:
                _row, secret = store_key(
                    session, role=role, name=f"cli test {role}", now=datetime.now(UTC)
                )
            return secret
        finally:
            engine.dispose()

    return create


@pytest.fixture
def service_client() -> Iterator[Callable[[str], object]]:
    """A test client of a freshly built app (its own key cache) on `database_url`."""
    apps = []

    def make(database_url: str):  # type: ignore[no-untyped-def]
        from offerlab.api.app import create_app
        from offerlab.settings import Settings

        application = create_app(Settings(database_url=database_url), run_bandit_updates=False)
        application.config["TESTING"] = True
        apps.append(application)
        return application.test_client()

    yield make
    for application in apps:
        application.extensions["offerlab"].engine.dispose()
