"""What storefronts call: the config snapshot, assignment over HTTP, and event batches."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offerlab.api.auth import require
from offerlab.api.context import services
from offerlab.errors import InvalidRequest, OfferlabError
from offerlab.services.assignment import assign_visitor
from offerlab.services.ingest import ingest_batch
from offerlab.services.report_json import plain
from offerlab.storage.db import session_scope
from offerlab.validation import describe_validation_error

bp = Blueprint("storefront", __name__, url_prefix="/api/v1")


class UnsupportedMediaType(OfferlabError):
    status = 415
    title = "Unsupported media type"


class PayloadTooLarge(OfferlabError):
    status = 413
    title = "Payload too large"


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(min_length=1, max_length=64)
    visitor_id: str = Field(min_length=1, max_length=128)
    attributes: dict[str, str | int | float | bool | None] | None = None
    track_impression: bool = True


def json_body() -> Any:
    if not request.is_json:
        raise UnsupportedMediaType("the request body must be application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidRequest("the request body is not valid JSON")
    return body


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
    response.headers["Cache-Control"] = (
        f"private, max-age={ctx.settings.snapshot_max_age_seconds}"
    )
    return response


@bp.post("/assign")
@require("assign")
def assign() -> Response:
    try:
        body = AssignRequest.model_validate(json_body())
    except ValidationError as error:
        raise InvalidRequest(describe_validation_error(error)) from error
    ctx = services()
    with session_scope(ctx.sessions) as session:
        assignment = assign_visitor(
            session,
            ctx.snapshots.get(),
            body.experiment,
            body.visitor_id,
            now=ctx.clock(),
            track_impression=body.track_impression,
            attributes=body.attributes,
        )
    return jsonify(
        experiment=assignment.experiment,
        variant=assignment.variant,
        payload=plain(assignment.payload),
        in_experiment=assignment.in_experiment,
        reason=str(assignment.reason),
        allocation_version=assignment.allocation_version,
        probability=assignment.probability,
    )


@bp.post("/events")
@require("events")
def events() -> Response:
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidRequest('the body must be an object with an "events" list')
    batch = body["events"]
    limit = services().settings.max_batch_events
    if len(batch) > limit:
        raise PayloadTooLarge(f"a batch holds at most {limit} events; this one has {len(batch)}")
    ctx = services()
    with session_scope(ctx.sessions) as session:
        result = ingest_batch(session, batch, now=ctx.clock())
    return jsonify(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[
            {"index": r.index, "event_id": r.event_id, "reason": r.reason} for r in result.rejected
        ],
    )
