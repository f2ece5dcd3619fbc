"""Idempotent event inserts: a replayed event id or order id is absorbed, never counted twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from offerlab.storage.tables import EventRow, ExposureRow


def _insert(session: Session, table: Any) -> Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert event rows in one batched statement; return the event ids actually inserted."""
    if not rows:
        return set()
    # Core, not the ORM: the ORM's bulk insert splits a mixed batch (orders carry no experiment,
    # impressions no order id) into many statements and splices their RETURNING rows together.
    table = EventRow.__table__
    statement = _insert(session, table).on_conflict_do_nothing().returning(table.c.event_id)
    columns = [column.name for column in table.columns if column.name != "id"]
    uniform = [{name: row.get(name) for name in columns} for row in rows]
    return set(session.connection().execute(statement, uniform).scalars())


def record_exposures(session: Session, exposures: Sequence[Mapping[str, Any]]) -> None:
    """Record first exposures; an earlier exposure that arrives late replaces a later one."""
    earliest: dict[tuple[int, str], Mapping[str, Any]] = {}
    for exposure in exposures:
        key = (exposure["experiment_id"], exposure["visitor_id"])
        if key not in earliest or exposure["first_ts_ms"] < earliest[key]["first_ts_ms"]:
            earliest[key] = exposure
    if not earliest:
        return
    statement = _insert(session, ExposureRow)
    statement = statement.on_conflict_do_update(
        index_elements=[ExposureRow.experiment_id, ExposureRow.visitor_id],
        set_={
            "variant_key": statement.excluded.variant_key,
            "first_ts_ms": statement.excluded.first_ts_ms,
            "allocation_version": statement.excluded.allocation_version,
            "probability": statement.excluded.probability,
            "attributes": statement.excluded.attributes,
            "eligible": statement.excluded.eligible,
            "measurement": statement.excluded.measurement,
        },
        where=statement.excluded.first_ts_ms < ExposureRow.first_ts_ms,
    )
    session.execute(statement, list(earliest.values()))


def find_exposure(session: Session, experiment_id: int, visitor_id: str) -> ExposureRow | None:
    return session.get(ExposureRow, (experiment_id, visitor_id))
