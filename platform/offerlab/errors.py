"""Typed errors raised by the service layers; each boundary maps them once (HTTP, CLI)."""

from __future__ import annotations


class OfferlabError(Exception):
    """Base class: invalid input or state that the caller can fix."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(OfferlabError):
    status = 404
    title = "Not found"


class Conflict(OfferlabError):
    status = 409
    title = "Conflict"


class Unauthorized(OfferlabError):
    status = 401
    title = "Unauthorized"


class Forbidden(OfferlabError):
    status = 403
    title = "Forbidden"


class InvalidRequest(OfferlabError):
    status = 400
    title = "Invalid request"


class UnprocessableRequest(OfferlabError):
    status = 422
    title = "Unprocessable request"


class PayloadTooLarge(OfferlabError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(OfferlabError):
    status = 415
    title = "Unsupported media type"
