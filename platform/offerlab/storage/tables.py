"""Database tables (SQLAlchemy 2.0 declarative), the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT keeps PostgreSQL ids 64-bit.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    placement: Mapped[str] = mapped_column(String(64), index=True)
    offer_kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(32))
    traffic: Mapped[float] = mapped_column(Float)
    allocation: Mapped[str] = mapped_column(String(16))
    objective: Mapped[str] = mapped_column(String(16))
    attribution_window_hours: Mapped[int] = mapped_column(Integer)
    alpha: Mapped[float] = mapped_column(Float)
    control_key: Mapped[str] = mapped_column(String(64))
    bandit_update_interval_seconds: Mapped[int] = mapped_column(Integer)
    bandit_min_share: Mapped[float] = mapped_column(Float)
    # Analysis settings (corrections, sequential mode, capping, CUPED, guardrails) as one document.
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bandit_options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    variants: Mapped[list[VariantRow]] = relationship(
        back_populates="experiment", order_by="VariantRow.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"ExperimentRow(key={self.key!r}, status={self.status!r})"


class VariantRow(Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("experiment_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    experiment: Mapped[ExperimentRow] = relationship(back_populates="variants")


class AllocationRow(Base):
    """One allocation epoch: the weights in force from `started_at` until the next version."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("experiment_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(32))
    # Contextual bandits: {segment value: {variant key: weight}}; `weights` serves other visitors.
    segment_weights: Mapped[dict[str, dict[str, float]] | None] = mapped_column(JSON)


class EventRow(Base):
    """Every accepted event, exactly once (event ids are unique per API key; an order counts once).

    `key_id` is the API key that sent the event (0 for events written by the service itself).
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("key_id", "event_id", name="uq_events_key_id_event_id"),
        Index("ix_events_experiment_kind_visitor", "experiment_id", "kind", "visitor_id"),
        Index("ix_events_kind_visitor_ts", "kind", "visitor_id", "ts_ms"),
        # The results query joins a visitor's events by visitor_id alone (SQLite has no hash join).
        Index("ix_events_visitor_id", "visitor_id"),
        Index(
            "uq_events_order_id",
            "order_id",
            unique=True,
            sqlite_where=text("kind = 'order'"),
            postgresql_where=text("kind = 'order'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_id: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiments.id"))
    variant_key: Mapped[str | None] = mapped_column(String(64))
    visitor_id: Mapped[str] = mapped_column(String(128))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    order_id: Mapped[str | None] = mapped_column(String(128))
    allocation_version: Mapped[int | None] = mapped_column(Integer)
    probability: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at_ms: Mapped[int] = mapped_column(BigInteger)
    # Impressions: the variant keys eligible for the request (None: all), and whether the visitor
    # fell in the bandit's uniform measurement slice.
    eligible: Mapped[list[str] | None] = mapped_column(JSON)
    measurement: Mapped[bool | None] = mapped_column(Boolean)


class ExposureRow(Base):
    """A visitor's first exposure to an experiment: the source of truth for attribution."""

    __tablename__ = "exposures"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    visitor_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    variant_key: Mapped[str] = mapped_column(String(64))
    first_ts_ms: Mapped[int] = mapped_column(BigInteger)
    allocation_version: Mapped[int | None] = mapped_column(Integer)
    probability: Mapped[float | None] = mapped_column(Float)
    # The attributes of the first impression: segments and the CUPED covariate are read from here.
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Of the first impression as well: eligible variants (None: all) and the measurement slice.
    eligible: Mapped[list[str] | None] = mapped_column(JSON)
    measurement: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class AuditRow(Base):
    """Decisions taken on an experiment (guardrail pauses, roll-outs) with their evidence."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_experiment_at", "experiment_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class ApiKeyRow(Base):
    """An API key; only a SHA-256 hash of its secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UnitRollupRow(Base):
    """One exposed unit: its first exposure and the uncapped per-unit values of the results query.

    A copy of `exposures` (without the attributes, to keep the table narrow) plus the per-unit
    sums, products and indicators that the results query adds up, refreshed from the raw events
    by `storage.rollups` so that results read one row per unit and sum plain columns.
    """

    __tablename__ = "unit_rollups"
    # SQLite: stored in primary-key order, so one experiment's units are one contiguous range.
    __table_args__ = (
        Index("ix_unit_rollups_visitor_id", "visitor_id"),
        {"sqlite_with_rowid": False},
    )

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    visitor_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    variant_key: Mapped[str] = mapped_column(String(64))
    first_ts_ms: Mapped[int] = mapped_column(BigInteger)
    allocation_version: Mapped[int | None] = mapped_column(Integer)
    probability: Mapped[float | None] = mapped_column(Float)
    measurement: Mapped[bool] = mapped_column(Boolean)
    impressions: Mapped[int] = mapped_column(Integer)
    # 1 when the unit accepted the offer at least once.
    converted: Mapped[int] = mapped_column(Integer)
    acceptances: Mapped[int] = mapped_column(Integer)
    acceptance_value: Mapped[float] = mapped_column(Float)
    acceptance_value_sq: Mapped[float] = mapped_column(Float)
    orders: Mapped[int] = mapped_column(Integer)
    orders_sq: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[float] = mapped_column(Float)
    revenue_sq: Mapped[float] = mapped_column(Float)
    revenue_orders: Mapped[float] = mapped_column(Float)
    # The sum of the squared order values (not the square of the sum).
    order_value_sq: Mapped[float] = mapped_column(Float)
    # 1 when at least one of the unit's attributed orders was refunded.
    refunded: Mapped[int] = mapped_column(Integer)
    refunds: Mapped[int] = mapped_column(Integer)
    refund_value: Mapped[float] = mapped_column(Float)


class RollupMarkRow(Base):
    """A visitor whose events changed since the last rollup refresh (written with the events).

    `experiment_id` is None for orders and refunds: they touch every unit of the visitor.
    Append-only, never upserted, so a refresh deletes exactly the marks it has read.
    """

    __tablename__ = "rollup_marks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int | None] = mapped_column(Integer)
    visitor_id: Mapped[str] = mapped_column(String(128))


class RollupPendingRow(Base):
    """Units claimed by the refresh in progress (empty between refreshes)."""

    __tablename__ = "rollup_pending"

    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visitor_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class RollupStateRow(Base):
    """An experiment whose rollup rows are complete, with the attribution window they used."""

    __tablename__ = "rollup_state"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    window_ms: Mapped[int] = mapped_column(BigInteger)
