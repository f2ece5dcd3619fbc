"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from offerlab.api.context import services
from offerlab.api.problems import problem
from offerlab.storage.migrate import is_current

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    engine = services().engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = is_current(engine)
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        response = problem(503, "Not ready", f"database unreachable: {type(error).__name__}")
        response.headers["Retry-After"] = "5"
        return response
    if services().database_failed_recently():
        response = problem(
            503, "Not ready", "a recent database write failed (disk full?); retrying shortly"
        )
        response.headers["Retry-After"] = "5"
        return response
    if not current:
        return problem(
            503, "Not ready", "database migrations are not current: run `offerlab db upgrade`"
        )
    return jsonify(status="ready")
