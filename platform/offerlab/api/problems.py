"""The one mapping from errors to RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from offerlab.errors import OfferlabError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(OfferlabError)
    def _offerlab_error(error: OfferlabError) -> Response:
        response = problem(error.status, error.title, error.detail)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="offerlab"'
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        response = problem(error.code or 500, error.name, error.description or error.name)
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_unavailable(error: Exception) -> Response:
        # The driver's message only: the statement's parameters would put visitor ids in the log.
        log.warning(
            "database unavailable: %s", getattr(error, "orig", None) or type(error).__name__
        )
        if "offerlab" in current_app.extensions:
            current_app.extensions["offerlab"].note_database_failure()
        response = problem(503, "Service unavailable", "The database is unavailable; retry later.")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal server error", "An unexpected error occurred.")
