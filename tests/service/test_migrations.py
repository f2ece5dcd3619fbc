"""The migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect


def test_migrated_schema_matches_the_declared_tables(database_url):
    from offerlab.storage.tables import Base

    engine = create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_the_database_reports_the_newest_revision(database_url):
    from offerlab.storage.migrate import is_current

    engine = create_engine(database_url)
    assert is_current(engine)
    assert "ix_events_visitor_id" in {i["name"] for i in inspect(engine).get_indexes("events")}
    engine.dispose()
