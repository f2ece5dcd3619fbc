"""The OpenAPI 3.1 document of the JSON API, built from the pydantic models the handlers use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from offerlab import __version__
from offerlab.api.routes.results import StatusRequest
from offerlab.api.routes.storefront import AssignRequest
from offerlab.services.ingest import AnyEvent

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")
REF = "#/components/schemas/{model}"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class AssignResponse(BaseModel):
    experiment: str | None
    variant: str | None
    payload: dict[str, Any] | None
    in_experiment: bool
    reason: str = Field(
        description="in_experiment, sticky, outside_traffic, other_experiment, not_running, "
        "not_eligible"
    )
    allocation_version: int | None
    probability: float | None = Field(
        description="The probability with which this variant was chosen for this request."
    )
    measurement: bool = Field(
        description="True when the visitor is in the bandit's uniform measurement slice."
    )
    eligible: list[str] | None = Field(
        description="The eligible variant keys when the request narrowed them, else null."
    )


class Rejection(BaseModel):
    index: int
    event_id: str | None
    reason: str


class EventBatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "Each event is validated on its own: bad ones are listed in `rejected`, "
            "the good ones are stored."
        }
    )

    # `Any` last: an item of no known event type still belongs to a valid batch; it comes back in
    # `rejected` while the good events are stored (partial acceptance).
    events: list[AnyEvent | Any] = Field(max_length=1000)


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    role: str | None
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    media_type: str = "application/json"
    not_modified: bool = False


OPERATIONS = (
    Operation(
        "/api/v1/snapshot", "get", "Config snapshot for SDKs (ETag, 304)", "sdk", not_modified=True
    ),
    Operation(
        "/api/v1/assign",
        "post",
        "Assign a visitor and record the exposure",
        "sdk",
        AssignRequest,
        AssignResponse,
    ),
    Operation(
        "/api/v1/events",
        "post",
        "Ingest a batch of events, idempotently",
        "sdk",
        EventBatch,
        IngestResponse,
    ),
    Operation("/api/v1/experiments", "get", "List experiments", "viewer"),
    Operation("/api/v1/experiments/{key}", "get", "One experiment's definition", "viewer"),
    Operation("/api/v1/experiments/{key}/results", "get", "Results of an experiment", "viewer"),
    Operation(
        "/api/v1/experiments/{key}/status",
        "post",
        "Change an experiment's status",
        "admin",
        StatusRequest,
    ),
    Operation("/api/v1/placements", "get", "Results per placement", "viewer"),
    Operation("/api/v1/openapi.json", "get", "This document", None),
    Operation("/healthz", "get", "Liveness", None),
    Operation("/readyz", "get", "Readiness: database reachable, migrations current", None),
    Operation("/metrics", "get", "Prometheus metrics", "viewer", media_type="text/plain"),
)


def openapi_document() -> dict[str, Any]:
    models = [Problem, AssignResponse, IngestResponse, EventBatch, AssignRequest, StatusRequest]
    _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "offerlab",
            "version": __version__,
            "description": "Offer experiments and bandits for online stores.",
        },
        "paths": _paths(),
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return paths


def _operation(op: Operation) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": op.summary,
        "operationId": _operation_id(op),
        "responses": _responses(op),
    }
    parameters = _parameters(op)
    if parameters:
        operation["parameters"] = parameters
    if op.request:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=op.request.__name__)}}
            },
        }
    if op.role:
        operation["security"] = [{"apiKey": []}]
        operation["description"] = f"Needs a `{op.role}` key (or `admin`)."
    return operation


def _responses(op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "object" if op.media_type == "application/json" else "string"}
    if op.response:
        body = {"$ref": REF.format(model=op.response.__name__)}
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {op.media_type: {"schema": body}}},
        "4XX": {"description": "Problem", "content": problem},
        "503": {"description": "Database unavailable", "content": problem},
    }
    if op.not_modified:
        responses["304"] = {"description": "Not modified since the ETag sent in If-None-Match"}
    return responses


def _parameters(op: Operation) -> list[dict[str, Any]]:
    parameters = []
    if "{key}" in op.path:
        parameters.append(
            {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    if op.not_modified:
        etag = {"name": "If-None-Match", "in": "header", "required": False}
        parameters.append({**etag, "schema": {"type": "string"}})
    return parameters


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", op.path.removeprefix("/api/v1").lower()).strip("_")
    return f"{op.method}_{words}"


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())
