"""Per-unit rollups: results read one row per exposed unit instead of every raw event.

`unit_rollups` holds, per (experiment, visitor) of `exposures`, a copy of the first exposure
(without its attributes: segment and covariate reads join `exposures`, which keeps the hot table
narrow) and the uncapped per-unit values the results query sums (`storage.unit_sums`, the same
SQL the raw path runs, products and squares included, so reading it is plain SUMs). The rows
are never updated incrementally by arithmetic: a unit's row is always recomputed from all of its
raw events, so late and out-of-order events (an order before the impression, an earlier
impression replacing the first exposure, refunds, replays) give the same numbers as the raw
path.

Keeping it exact under concurrency:

- Every event insert writes a mark in the same transaction (`events.store_encoded`): (experiment,
  visitor) for impressions and acceptances, (None, visitor) for orders and refunds, which are
  attributed by visitor to every experiment the visitor is exposed to. Marks are append-only.
- A refresh (`refresh_rollups`) runs serialised (PostgreSQL: a transaction-scoped advisory lock;
  SQLite: its single writer lock, taken by the first statement). It claims the marks it can see
  in one statement (PostgreSQL: `DELETE ... RETURNING` inside an `INSERT`, one snapshot), fans
  visitor marks out to the visitor's rolled-up units, then recomputes the claimed units with
  later statements. An event is either visible to the claim (and so to the recompute, which
  reads a later snapshot) or committed after it, in which case its mark survives for the next
  refresh. A unit that is not rolled up yet is reached through its own impression's mark.
- An experiment without a `rollup_state` row (new, or present before migration 0005) or whose
  attribution window changed is rebuilt in full.

Capping stays exact by not using the rollup: a per-order cap needs each order's value, so
`storage.aggregates` takes the raw path when a cap is configured (and for percentiles).

Results queries call `refresh_rollups` first, so they see every committed event. Its cost is the
raw per-unit SQL restricted to the units touched since the last refresh (a visitor with many
events costs all of them at each refresh that touches it); calling it on a timer in the
background keeps that work off the results request.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from offerlab.storage.unit_sums import (
    UNCAPPED,
    UNIT_EVENTS_JOIN,
    UNIT_SUMS,
    UNIT_VALUE_COLUMNS,
    UNIT_VALUES_SQL,
)

# An arbitrary constant naming the refresh's PostgreSQL advisory lock.
REFRESH_LOCK_KEY = 0x6F66_6C72

_EXPOSURE_COLUMNS = (
    "variant_key",
    "first_ts_ms",
    "allocation_version",
    "probability",
    "measurement",
)
_ROLLUP_COLUMNS = ", ".join(
    ("experiment_id", "visitor_id", *_EXPOSURE_COLUMNS, *UNIT_VALUE_COLUMNS)
)

# `{source}` yields exposures as `x`; the units of experiments without a state row are skipped.
_RECOMPUTE = f"""
INSERT INTO unit_rollups ({_ROLLUP_COLUMNS})
SELECT x.experiment_id, x.visitor_id, {", ".join("x." + c for c in _EXPOSURE_COLUMNS)},
{UNIT_VALUES_SQL}
FROM (
    SELECT x.experiment_id, x.visitor_id,{
    UNIT_SUMS.format(experiment="x.experiment_id", **UNCAPPED)
}
    FROM {{source}}
    JOIN rollup_state s ON s.experiment_id = x.experiment_id{
    UNIT_EVENTS_JOIN.format(experiment="x.experiment_id", window="s.window_ms")
}
    {{where}}
    GROUP BY x.experiment_id, x.visitor_id
) u
JOIN exposures x ON x.experiment_id = u.experiment_id AND x.visitor_id = u.visitor_id
WHERE 1 = 1
ON CONFLICT (experiment_id, visitor_id) DO UPDATE SET
    {", ".join(f"{c} = excluded.{c}" for c in _EXPOSURE_COLUMNS + UNIT_VALUE_COLUMNS)}
"""

_PENDING_SOURCE = (
    "rollup_pending p JOIN exposures x"
    " ON x.experiment_id = p.experiment_id AND x.visitor_id = p.visitor_id"
)

_CLAIMED_UNITS = """
SELECT experiment_id, visitor_id FROM {marks} WHERE experiment_id IS NOT NULL
UNION
SELECT r.experiment_id, r.visitor_id
FROM {marks} c JOIN unit_rollups r ON r.visitor_id = c.visitor_id
WHERE c.experiment_id IS NULL
"""

_CLAIM_POSTGRESQL = (
    "WITH claimed AS (DELETE FROM rollup_marks RETURNING experiment_id, visitor_id) "
    "INSERT INTO rollup_pending (experiment_id, visitor_id) "
    + _CLAIMED_UNITS.format(marks="claimed")
    + " ON CONFLICT DO NOTHING"
)
_CLAIM_SQLITE = (
    "INSERT OR IGNORE INTO rollup_pending (experiment_id, visitor_id) "
    + _CLAIMED_UNITS.format(marks="rollup_marks")
)

_STALE_EXPERIMENTS = """
SELECT e.id, CAST(e.attribution_window_hours AS BIGINT) * 3600000 AS window_ms
FROM experiments e LEFT JOIN rollup_state s ON s.experiment_id = e.id
WHERE s.experiment_id IS NULL
   OR s.window_ms <> CAST(e.attribution_window_hours AS BIGINT) * 3600000
"""


def refresh_rollups(session: Session) -> int:
    """Bring every experiment's rollup up to date with the committed events; returns the units
    recomputed (-1 when there was nothing to do).

    Runs in its own short transaction, except on SQLite when the session already holds the
    write lock (a second connection would wait for it), where it joins the session's.
    """
    if not _has_work(session):
        return -1
    connection = session.connection()
    if connection.dialect.name == "sqlite" and _holds_write_lock(connection):
        return _refresh(connection)
    bind = session.get_bind()
    if isinstance(bind, Connection):
        return _refresh(bind)
    with bind.begin() as own:
        return _refresh(own)


def rolled_up_window_ms(session: Session, experiment_id: int) -> int | None:
    """The attribution window of the experiment's rollup rows (None: not built)."""
    value = session.scalar(
        text("SELECT window_ms FROM rollup_state WHERE experiment_id = :experiment_id"),
        {"experiment_id": experiment_id},
    )
    return None if value is None else int(value)


def rollup_ready(session: Session, experiment_id: int, window_ms: int) -> bool:
    """Refresh the rollups; True when the experiment's rows use this attribution window."""
    refresh_rollups(session)
    return rolled_up_window_ms(session, experiment_id) == window_ms


def _holds_write_lock(connection: Connection) -> bool:
    # pysqlite opens a transaction only before the first write, so this means "has written".
    return bool(connection.connection.dbapi_connection.in_transaction)


def _has_work(session: Session) -> bool:
    if session.scalar(text("SELECT 1 FROM rollup_marks LIMIT 1")) is not None:
        return True
    return session.execute(text(_STALE_EXPERIMENTS)).first() is not None


def _refresh(connection: Connection) -> int:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK_KEY})
        connection.execute(text(_CLAIM_POSTGRESQL))
    else:
        # The first statement is a write, so SQLite's write lock is held from here on.
        connection.execute(text(_CLAIM_SQLITE))
        connection.execute(text("DELETE FROM rollup_marks"))
    recomputed = 0
    for experiment_id, window_ms in connection.execute(text(_STALE_EXPERIMENTS)).all():
        recomputed += _rebuild(connection, int(experiment_id), int(window_ms))
    statement = _RECOMPUTE.format(source=_PENDING_SOURCE, where="")
    recomputed += connection.execute(text(statement)).rowcount
    connection.execute(text("DELETE FROM rollup_pending"))
    return recomputed


def _rebuild(connection: Connection, experiment_id: int, window_ms: int) -> int:
    parameters = {"experiment_id": experiment_id, "window_ms": window_ms}
    for table in ("unit_rollups", "rollup_pending", "rollup_state"):
        connection.execute(
            text(f"DELETE FROM {table} WHERE experiment_id = :experiment_id"), parameters
        )
    connection.execute(
        text("INSERT INTO rollup_state VALUES (:experiment_id, :window_ms)"), parameters
    )
    statement = _RECOMPUTE.format(
        source="exposures x", where="WHERE x.experiment_id = :experiment_id"
    )
    return connection.execute(text(statement), parameters).rowcount
