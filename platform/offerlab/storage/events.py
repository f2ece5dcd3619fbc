"""Idempotent event inserts: a replayed event id or order id is absorbed, never counted twice.

Every insert also marks the visitors it touched for the rollup refresh (`storage.rollups`), in
the same transaction, so the marks commit exactly when the events do.

The batch statements are written in SQL and sent to the driver with plain values: SQLAlchemy's
per-row parameter processing (type processors, JSON encoding through the column type) cost more
than the insert itself, so the JSON columns are encoded here. SQLite gets multi-row VALUES lists;
PostgreSQL one array per column through `unnest` (psycopg's parsing of a statement with
thousands of placeholders cost more than the insert).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.orm import Session

from offerlab.storage.tables import Base, EventRow, ExperimentRow, ExposureRow, VariantRow

EVENT_COLUMNS = tuple(column.name for column in EventRow.__table__.columns if column.name != "id")
_EVENT_JSON = frozenset({"attributes", "eligible"})
EXPOSURE_COLUMNS = (
    "experiment_id",
    "visitor_id",
    "variant_key",
    "first_ts_ms",
    "allocation_version",
    "probability",
    "attributes",
    "eligible",
    "measurement",
)
_REPLACED_BY_EARLIER = ", ".join(f"{column} = excluded.{column}" for column in EXPOSURE_COLUMNS[2:])
# SQLite binds at most 32,766 parameters per statement.
_MAX_SQLITE_PARAMETERS = 30_000


@dataclass(frozen=True)
class EncodedEvents:
    """Event rows encoded for the driver (column order, JSON as text), with the exposure row of
    every impression and the rollup mark of every event. Built before the write transaction
    (`encode_events`), so a SQLite writer holds the database's one write lock only for the
    statements (`store_encoded`)."""

    events: list[tuple[Any, ...]]
    exposures: list[tuple[Any, ...]]  # EXPOSURE_COLUMNS, then the event id
    marks: list[tuple[Any, str, str]]  # experiment id, visitor id, event id


def encode_events(rows: Sequence[Mapping[str, Any]]) -> EncodedEvents:
    """Encode complete events-table rows (`services.ingest.event_row`) for `store_encoded`."""
    events = _tuples(rows, EVENT_COLUMNS, _EVENT_JSON, _JsonCache())
    exposures = []
    marks = []
    for values in events:
        event_id, visitor_id = values[_EVENT_ID], values[_VISITOR_ID]
        marks.append((values[_EXPERIMENT_ID], visitor_id, event_id))
        if values[_KIND] == "impression":
            exposures.append((*_exposure_of(values), bool(values[_MEASUREMENT]), event_id))
    return EncodedEvents(events, exposures, marks)


def store_encoded(connection: Connection, encoded: EncodedEvents) -> set[str]:
    """Insert the events, their first exposures and rollup marks in batched statements, in the
    connection's transaction; returns the event ids actually inserted (replays are absorbed by
    the unique key)."""
    if not encoded.events:
        return set()
    inserted: set[str] = set()
    for returned in _insert_values(
        connection,
        "events",
        EVENT_COLUMNS,
        encoded.events,
        " ON CONFLICT DO NOTHING RETURNING event_id",
    ):
        inserted.update(value for (value,) in returned)
    everything = len(inserted) == len(encoded.events)
    marks = {
        (experiment_id, visitor_id)
        for experiment_id, visitor_id, event_id in encoded.marks
        if everything or event_id in inserted
    }
    _insert_values(connection, "rollup_marks", ("experiment_id", "visitor_id"), list(marks), "")
    _record_exposures(
        connection,
        [row[:-1] for row in encoded.exposures if everything or row[-1] in inserted],
    )
    return inserted


_FIRST_TS = EXPOSURE_COLUMNS.index("first_ts_ms")
_EVENT_ID, _VISITOR_ID, _EXPERIMENT_ID, _KIND, _MEASUREMENT = map(
    EVENT_COLUMNS.index, ("event_id", "visitor_id", "experiment_id", "kind", "measurement")
)
# An impression's exposure row, bar its measurement flag, is a selection of its event values.
_exposure_of = itemgetter(
    *(EVENT_COLUMNS.index("ts_ms" if c == "first_ts_ms" else c) for c in EXPOSURE_COLUMNS[:-1])
)


def _record_exposures(connection: Connection, exposures: list[tuple[Any, ...]]) -> None:
    """Record first exposures; an earlier exposure that arrives late replaces a later one."""
    earliest: dict[tuple[int, str], tuple[Any, ...]] = {}
    for exposure in exposures:
        key = (exposure[0], exposure[1])
        found = earliest.get(key)
        if found is None or exposure[_FIRST_TS] < found[_FIRST_TS]:
            earliest[key] = exposure
    _insert_values(
        connection,
        "exposures",
        EXPOSURE_COLUMNS,
        list(earliest.values()),
        " ON CONFLICT (experiment_id, visitor_id) DO UPDATE SET "
        + _REPLACED_BY_EARLIER
        + " WHERE excluded.first_ts_ms < exposures.first_ts_ms",
    )


@dataclass(frozen=True)
class FirstExposure:
    """What sticky assignment needs of a visitor's first exposure."""

    variant_key: str
    allocation_version: int | None
    probability: float | None
    measurement: bool


class ExposureLookup:
    """Reads a visitor's first exposure on the assign path. The select is compiled once for the
    engine's dialect and sent through a pooled connection: a Session's set-up and the ORM's
    statement handling cost about six times the query itself (~450 us against ~80 us on SQLite).
    """

    def __init__(self, engine: Engine) -> None:
        statement = select(
            ExposureRow.variant_key,
            ExposureRow.allocation_version,
            ExposureRow.probability,
            ExposureRow.measurement,
        ).where(
            ExposureRow.experiment_id == bindparam("experiment_id"),
            ExposureRow.visitor_id == bindparam("visitor_id"),
        )
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = compiled.string
        self._positions = compiled.positiontup if compiled.positional else None

    def __call__(self, experiment_id: int, visitor_id: str) -> FirstExposure | None:
        values = {"experiment_id": experiment_id, "visitor_id": visitor_id}
        parameters: Any = values
        if self._positions is not None:
            parameters = tuple(values[name] for name in self._positions)
        with self._engine.connect() as connection:
            row = connection.exec_driver_sql(self._sql, parameters).first()
        if row is None:
            return None
        variant_key, allocation_version, probability, measurement = row
        return FirstExposure(variant_key, allocation_version, probability, bool(measurement))


def experiment_variants(session: Session) -> dict[str, tuple[int, frozenset[str]]]:
    """Every experiment's id and variant keys by experiment key, in one query (for ingest)."""
    rows = session.execute(
        select(ExperimentRow.key, ExperimentRow.id, VariantRow.key).outerjoin(
            VariantRow, VariantRow.experiment_id == ExperimentRow.id
        )
    )
    keys: dict[str, tuple[int, set[str]]] = {}
    for experiment_key, experiment_id, variant_key in rows:
        variants = keys.setdefault(experiment_key, (experiment_id, set()))[1]
        if variant_key is not None:
            variants.add(variant_key)
    return {key: (ids, frozenset(variants)) for key, (ids, variants) in keys.items()}


def _tuples(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    json_columns: frozenset[str],
    encode: _JsonCache,
) -> list[tuple[Any, ...]]:
    """The rows' values in column order, with the JSON columns encoded."""
    json_indices = [index for index, column in enumerate(columns) if column in json_columns]
    pick = itemgetter(*columns)
    tuples = []
    for row in rows:
        try:
            picked = pick(row)
        except KeyError:
            picked = tuple(row.get(column) for column in columns)
        if all(picked[index] is None for index in json_indices):
            tuples.append(picked)
            continue
        values = list(picked)
        for index in json_indices:
            if values[index] is not None:
                values[index] = encode(values[index])
        tuples.append(tuple(values))
    return tuples


class _JsonCache:
    """json.dumps, remembered per batch: most events of a batch share their attributes."""

    def __init__(self) -> None:
        self._encoded: dict[Any, str] = {}

    def __call__(self, value: Any) -> str:
        # Types are part of the key: True == 1 == 1.0 must not share an encoding.
        if isinstance(value, dict):
            key: Any = (dict, tuple(value.items()), tuple(map(type, value.values())))
        else:
            key = (type(value), tuple(value), tuple(map(type, value)))
        try:
            encoded = self._encoded.get(key)
        except TypeError:  # an unhashable value inside
            return json.dumps(value)
        if encoded is None:
            encoded = self._encoded[key] = json.dumps(value)
        return encoded


def _insert_values(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    values: list[tuple[Any, ...]],
    suffix: str,
) -> list[list[tuple[Any, ...]]]:
    """INSERT the rows in as few statements as possible; returns the rows each one returned."""
    if not values:
        return []
    head = f"INSERT INTO {table} ({', '.join(columns)}) "
    if connection.dialect.name == "postgresql":
        # One array per column: a short statement psycopg parses once, whatever the row count.
        types = [_sql_type(connection, table, column) for column in columns]
        arrays = ", ".join(f"CAST(%b AS {sql_type}[])" for sql_type in types)
        columns_of_values = tuple(map(list, zip(*values, strict=True)))
        sql = head + f"SELECT * FROM unnest({arrays})" + suffix
        result = connection.exec_driver_sql(sql, columns_of_values)
        return [[tuple(row) for row in result] if result.returns_rows else []]
    one_row = "(" + ", ".join(["?"] * len(columns)) + ")"
    per_statement = max(1, _MAX_SQLITE_PARAMETERS // len(columns))
    returned = []
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        sql = head + "VALUES " + ", ".join([one_row] * len(chunk)) + suffix
        result = connection.exec_driver_sql(sql, tuple(_flatten(chunk)))
        returned.append([tuple(row) for row in result] if result.returns_rows else [])
    return returned


def _sql_type(connection: Connection, table: str, column: str) -> str:
    return Base.metadata.tables[table].c[column].type.compile(dialect=connection.dialect)


def _flatten(rows: Iterable[tuple[Any, ...]]) -> Iterable[Any]:
    for row in rows:
        yield from row
