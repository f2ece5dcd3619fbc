"""Reading JSON request bodies, with one wording for every problem."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from offerlab.errors import InvalidRequest, UnsupportedMediaType
from offerlab.validation import describe_validation_error

Model = TypeVar("Model", bound=BaseModel)
NOT_JSON = "the request body is not valid JSON"


def json_body() -> Any:
    """The decoded JSON body; 415 for another content type, 400 for broken JSON."""
    _require_json_content_type()
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidRequest(NOT_JSON)
    return body


def parse_body(model: type[Model]) -> Model:
    """The JSON body validated as `model`; 415 for another content type, 400 for broken JSON or
    naming every invalid field. Parsed and validated in one pass by pydantic (the assign path)."""
    _require_json_content_type()
    try:
        return model.model_validate_json(request.get_data())
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors(include_url=False)):
            raise InvalidRequest(NOT_JSON) from error
        raise InvalidRequest(describe_validation_error(error)) from error


def _require_json_content_type() -> None:
    if not request.is_json:
        raise UnsupportedMediaType("the request body must be application/json")
