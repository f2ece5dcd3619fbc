"""Event ingest: validate each event, keep the good ones, absorb replays, then acknowledge."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy.orm import Session, sessionmaker

from offerlab.storage.db import session_scope, write_scope
from offerlab.storage.events import (
    EncodedEvents,
    encode_events,
    experiment_variants,
    store_encoded,
)
from offerlab.validation import describe_validation_error

MAX_FUTURE_SKEW = timedelta(hours=24)
EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
VisitorId = Annotated[str, Field(min_length=1, max_length=128)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
AttributeValue = str | int | float | bool | None


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)

    event_id: EventId
    visitor_id: VisitorId
    timestamp: datetime
    attributes: dict[Annotated[str, Field(max_length=64)], AttributeValue] | None = Field(
        default=None, max_length=50
    )

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class _ExperimentEvent(_EventBase):
    experiment: Annotated[str, Field(min_length=1, max_length=64)]
    variant: Annotated[str, Field(min_length=1, max_length=64)]
    allocation_version: int | None = Field(default=None, ge=0)
    probability: float | None = Field(default=None, gt=0, le=1)


class ImpressionEvent(_ExperimentEvent):
    """The offer was shown. `eligible`: the variants the storefront allowed for this request
    (absent: all); `measurement`: the visitor fell in the bandit's uniform measurement slice."""

    type: Literal["impression"]
    eligible: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    measurement: bool | None = None


class AcceptanceEvent(_ExperimentEvent):
    type: Literal["acceptance"]
    value: float = Field(ge=0, allow_inf_nan=False)
    currency: Currency | None = None


class OrderEvent(_EventBase):
    type: Literal["order"]
    order_id: Annotated[str, Field(min_length=1, max_length=128)]
    value: float = Field(ge=0, allow_inf_nan=False)
    currency: Currency | None = None


class RefundEvent(_EventBase):
    """Money given back on an earlier order (`value` is the positive amount refunded)."""

    type: Literal["refund"]
    order_id: Annotated[str, Field(min_length=1, max_length=128)]
    value: float = Field(ge=0, allow_inf_nan=False)
    currency: Currency | None = None


AnyEvent = ImpressionEvent | AcceptanceEvent | OrderEvent | RefundEvent
Event = Annotated[AnyEvent, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)
# One call for a whole batch; any error sends the batch through _EVENT event by event, whose
# messages name the field without the batch index.
_EVENTS = TypeAdapter(list[Event])


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str | None
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def ingest_batch(
    session: Session, raw_events: Sequence[Any], *, now: datetime, key_id: int = 0
) -> IngestResult:
    """Store the valid events of a batch once each; report every rejected one with its reason.

    Event ids are unique per sending key (`key_id`): a replay from the same key is a duplicate.
    """
    prepared = prepare_batch(raw_events, experiment_variants(session), now=now, key_id=key_id)
    return store_batch(session, prepared)


def ingest_events(
    sessions: sessionmaker[Session], raw_events: Sequence[Any], *, now: datetime, key_id: int = 0
) -> IngestResult:
    """`ingest_batch` for the events endpoint: the experiments are read and the batch prepared
    outside the write transaction, which then only stores it (`storage.db.write_scope`)."""
    with session_scope(sessions) as session:
        experiments = experiment_variants(session)
    prepared = prepare_batch(raw_events, experiments, now=now, key_id=key_id)
    with write_scope(sessions) as session:
        return store_batch(session, prepared)


@dataclass(frozen=True)
class PreparedBatch:
    """A batch validated and turned into rows, ready to store; no database work yet."""

    rows: EncodedEvents
    valid: int
    rejected: list[Rejection]


def prepare_batch(
    raw_events: Sequence[Any],
    experiments: Mapping[str, tuple[int, frozenset[str]]],
    *,
    now: datetime,
    key_id: int = 0,
) -> PreparedBatch:
    """Validate a batch against the experiments (`storage.events.experiment_variants`) and build
    the rows of its valid events. Done before the write transaction, so a SQLite writer holds
    the database's one write lock only for the inserts."""
    rejected: list[Rejection] = []
    rows: list[dict[str, Any]] = []
    received_at_ms = to_ms(now)
    for index, (raw, parsed) in enumerate(zip(raw_events, _parse(raw_events), strict=True)):
        event, reason = _validate(raw, parsed, experiments, now)
        if event is None:
            rejected.append(Rejection(index, _event_id_of(raw), reason))
        else:
            rows.append(_to_row(event, experiments, received_at_ms, key_id))
    return PreparedBatch(encode_events(_first_of_each_event_id(rows)), len(rows), rejected)


def store_batch(session: Session, prepared: PreparedBatch) -> IngestResult:
    """Store a prepared batch; replayed event ids count as duplicates."""
    inserted = store_encoded(session.connection(), prepared.rows)
    return IngestResult(len(inserted), prepared.valid - len(inserted), prepared.rejected)


def _first_of_each_event_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["event_id"] not in seen:
            seen.add(row["event_id"])
            unique.append(row)
    return unique


def _parse(raw_events: Sequence[Any]) -> Sequence[AnyEvent | None]:
    """Every event parsed in one call, or None for each when any of them is malformed."""
    try:
        return _EVENTS.validate_python(raw_events)
    except ValidationError:
        return [None] * len(raw_events)


def _validate(
    raw: Any,
    parsed: AnyEvent | None,
    experiments: Mapping[str, tuple[int, frozenset[str]]],
    now: datetime,
) -> tuple[AnyEvent | None, str]:
    try:
        event = parsed if parsed is not None else _EVENT.validate_python(raw)
    except ValidationError as error:
        return None, describe_validation_error(error)
    if event.timestamp - now > MAX_FUTURE_SKEW:
        return None, "timestamp: more than 24 hours in the future"
    if isinstance(event, OrderEvent | RefundEvent):
        return event, ""
    experiment = experiments.get(event.experiment)
    if experiment is None:
        return None, f"experiment: unknown experiment {event.experiment!r}"
    variants = experiment[1]
    if event.variant not in variants:
        return None, f"variant: {event.variant!r} is not a variant of {event.experiment!r}"
    if isinstance(event, ImpressionEvent) and event.eligible is not None:
        unknown = sorted(set(event.eligible) - variants)
        if unknown:
            return None, f"eligible: {unknown[0]!r} is not a variant of {event.experiment!r}"
        if event.variant not in event.eligible:
            return None, f"eligible: the shown variant {event.variant!r} is not in the list"
    return event, ""


def _event_id_of(raw: Any) -> str | None:
    if isinstance(raw, Mapping) and isinstance(raw.get("event_id"), str):
        return raw["event_id"][:64]
    return None


def _to_row(
    event: AnyEvent,
    experiments: Mapping[str, tuple[int, frozenset[str]]],
    received_at_ms: int,
    key_id: int,
) -> dict[str, Any]:
    # The row `event_row` builds, written out in one literal: this runs for every event. The
    # fields are read from the model's __dict__: a missing attribute costs pydantic an exception.
    fields = event.__dict__
    experiment = fields.get("experiment")
    eligible = fields.get("eligible")
    return {
        "key_id": key_id,
        "event_id": event.event_id,
        "kind": event.type,
        "experiment_id": None if experiment is None else experiments[experiment][0],
        "variant_key": fields.get("variant"),
        "visitor_id": event.visitor_id,
        "ts_ms": to_ms(event.timestamp),
        "value": fields.get("value"),
        "currency": fields.get("currency"),
        "order_id": fields.get("order_id"),
        "allocation_version": fields.get("allocation_version"),
        "probability": fields.get("probability"),
        "attributes": event.attributes or None,
        "received_at_ms": received_at_ms,
        "eligible": None if eligible is None else sorted(set(eligible)),
        "measurement": fields.get("measurement"),
    }


def event_row(
    *,
    event_id: str,
    kind: str,
    visitor_id: str,
    timestamp: datetime,
    received_at: datetime,
    attributes: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A complete events-table row; `fields` sets experiment_id, variant_key, value and the rest."""
    row: dict[str, Any] = {
        "key_id": 0,
        "event_id": event_id,
        "kind": kind,
        "experiment_id": None,
        "variant_key": None,
        "visitor_id": visitor_id,
        "ts_ms": to_ms(timestamp),
        "value": None,
        "currency": None,
        "order_id": None,
        "allocation_version": None,
        "probability": None,
        "attributes": dict(attributes) if attributes else None,
        "received_at_ms": to_ms(received_at),
        "eligible": None,
        "measurement": None,
    }
    row.update(fields)
    return row


def to_ms(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)
