"""Experiments and results for viewers; status changes for admins."""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict

from offerlab.api.auth import require
from offerlab.api.bodies import parse_body
from offerlab.api.context import services
from offerlab.domain.model import ExperimentStatus
from offerlab.errors import InvalidRequest, NotFound
from offerlab.services import reporting
from offerlab.services.experiments import set_status
from offerlab.services.report_json import experiment_to_dict, placement_to_dict, report_to_dict
from offerlab.storage import experiments as store
from offerlab.storage.db import session_scope

bp = Blueprint("results", __name__, url_prefix="/api/v1")
SEGMENT_ATTRIBUTE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_SEGMENT_ATTRIBUTES = 3


class StatusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ExperimentStatus


@bp.get("/experiments")
@require("read")
def list_experiments() -> Response:
    with session_scope(services().sessions) as session:
        experiments = store.list_experiments(session)
    return jsonify(experiments=[experiment_to_dict(e) for e in experiments])


@bp.get("/experiments/<key>")
@require("read")
def get_experiment(key: str) -> Response:
    with session_scope(services().sessions) as session:
        row = store.find_experiment_row(session, key)
        if row is None:
            raise NotFound(f"experiment {key!r} does not exist")
        return jsonify(experiment_to_dict(store.to_domain(row)))


@bp.get("/experiments/<key>/results")
@require("read")
def experiment_results(key: str) -> Response:
    segments = request.args.getlist("segment") or None
    for attribute in segments or ():
        if not SEGMENT_ATTRIBUTE.fullmatch(attribute):
            raise InvalidRequest(
                f"segment: {attribute[:64]!r} is not an attribute name "
                "(letters, digits, '_', '.', ':', '-'; at most 64)"
            )
    if segments and len(segments) > MAX_SEGMENT_ATTRIBUTES:
        raise InvalidRequest(f"segment: at most {MAX_SEGMENT_ATTRIBUTES} attributes at a time")
    ctx = services()
    with session_scope(ctx.sessions) as session:
        report = reporting.experiment_report(session, key, now=ctx.clock(), segments=segments)
    return jsonify(report_to_dict(report))


@bp.get("/placements")
@require("read")
def placements() -> Response:
    ctx = services()
    with session_scope(ctx.sessions) as session:
        reports = reporting.placement_reports(session, now=ctx.clock())
    return jsonify(placements=[placement_to_dict(r) for r in reports])


@bp.post("/experiments/<key>/status")
@require("manage")
def change_status(key: str) -> Response:
    body = parse_body(StatusRequest)
    ctx = services()
    with session_scope(ctx.sessions) as session:
        experiment = set_status(
            session, key, body.status, now=ctx.clock(), actor=f"api-key:{g.key_id}"
        )
    ctx.snapshots.invalidate()
    return jsonify(experiment_to_dict(experiment))
