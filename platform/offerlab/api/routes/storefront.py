"""What storefronts call: the config snapshot, assignment over HTTP, and event batches."""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from offerlab.api.auth import require
from offerlab.api.bodies import json_body, parse_body
from offerlab.api.context import Services, services
from offerlab.domain.plain import plain
from offerlab.errors import InvalidRequest, PayloadTooLarge
from offerlab.services.assignment import AssignmentRequest, HttpAssignment
from offerlab.services.ingest import ingest_events

bp = Blueprint("storefront", __name__, url_prefix="/api/v1")
_ASSIGNMENT = "offerlab.assignment"


AttributeName = Annotated[str, Field(max_length=64)]
VariantKey = Annotated[str, Field(min_length=1, max_length=64)]


class AssignRequest(BaseModel):
    """A visitor asking for its variant of one experiment, with this request's context."""

    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(min_length=1, max_length=64)
    visitor_id: str = Field(min_length=1, max_length=128)
    attributes: dict[AttributeName, str | int | float | bool | None] | None = Field(
        default=None,
        max_length=50,
        description="Visitor attributes; a contextual bandit reads its segment attribute here. "
        "Recorded with the impression.",
    )
    ineligible: list[VariantKey] = Field(
        default_factory=list,
        max_length=50,
        description="Variant keys that must not be served to this request (e.g. the accessory "
        "is already in the cart); the pick is made among the others.",
    )
    track_impression: bool = Field(
        default=True,
        description="Record this answer's impression (committed before the answer). Send false "
        "and report the impression as an event when the offer is shown, at high volume or when "
        "the offer may not be shown.",
    )


@bp.get("/snapshot")
@require("config")
def snapshot() -> Response:
    ctx = services()
    current = ctx.snapshots.get()
    if request.if_none_match.contains(current.etag):
        response = Response(status=304)
    else:
        response = jsonify(current.body)
    response.set_etag(current.etag)
    response.headers["Cache-Control"] = f"private, max-age={ctx.settings.snapshot_max_age_seconds}"
    return response


@bp.post("/assign")
@require("assign")
def assign() -> Response:
    body = parse_body(AssignRequest)
    ctx = services()
    request_data = AssignmentRequest(
        experiment=body.experiment,
        visitor_id=body.visitor_id,
        attributes=body.attributes,
        ineligible=frozenset(body.ineligible),
        track_impression=body.track_impression,
    )
    snapshot = ctx.snapshots.get()
    assignment = _http_assignment(ctx).assign(snapshot, request_data, now=ctx.clock())
    payload = snapshot.json_payload(assignment.experiment or "", assignment.variant or "")
    ctx.metrics.count_assignment(
        assignment.experiment or "", assignment.variant or "", str(assignment.reason)
    )
    return jsonify(
        experiment=assignment.experiment,
        variant=assignment.variant,
        payload=plain(assignment.payload) if payload is None else payload,
        in_experiment=assignment.in_experiment,
        reason=str(assignment.reason),
        allocation_version=assignment.allocation_version,
        probability=assignment.probability,
        measurement=assignment.measurement,
        eligible=None if assignment.eligible is None else list(assignment.eligible),
    )


def _http_assignment(ctx: Services) -> HttpAssignment:
    """The app's assignment service, built on first use in the serving process."""
    extensions = current_app.extensions
    found = extensions.get(_ASSIGNMENT)
    if found is None:
        found = extensions.setdefault(_ASSIGNMENT, HttpAssignment(ctx.engine, ctx.sessions))
    return found  # type: ignore[no-any-return]


@bp.post("/events")
@require("events")
def events() -> Response:
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidRequest('the body must be an object with an "events" list')
    batch = body["events"]
    ctx = services()
    limit = ctx.settings.max_batch_events
    if len(batch) > limit:
        raise PayloadTooLarge(f"a batch holds at most {limit} events; this one has {len(batch)}")
    result = ingest_events(ctx.sessions, batch, now=ctx.clock(), key_id=g.key_id)
    ctx.note_database_write()
    ctx.metrics.events.labels("accepted").inc(result.accepted)
    ctx.metrics.events.labels("duplicate").inc(result.duplicates)
    ctx.metrics.events.labels("rejected").inc(len(result.rejected))
    return jsonify(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[
            {"index": r.index, "event_id": r.event_id, "reason": r.reason} for r in result.rejected
        ],
    )
