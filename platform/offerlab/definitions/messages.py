"""Short, analyst-facing wording for pydantic validation errors."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

from offerlab.definitions.fields import CURRENCY_PATTERN, KEY_PATTERN, SALT_PATTERN

_PATTERN_WORDS = {
    KEY_PATTERN: "must be lowercase letters, digits, '-' or '_', starting with a letter or digit",
    SALT_PATTERN: "must be letters, digits, '-' or '_'",
    CURRENCY_PATTERN: "must be a three-letter ISO 4217 code such as EUR",
}

_FIXED_WORDS = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "finite_number": "must be a finite number",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}

_BOUND_WORDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def describe_error(error: ErrorDetails, *, source_text: str | None = None) -> str:
    """Turn one pydantic error into a message such as "must be > 0"."""
    kind = error["type"]
    context: dict[str, Any] = dict(error.get("ctx") or {})
    if kind in _FIXED_WORDS:
        return _FIXED_WORDS[kind]
    if kind in _BOUND_WORDS:
        name, symbol = _BOUND_WORDS[kind]
        return f"must be {symbol} {_number(context[name])}"
    if kind == "string_type":
        return _string_type_words(error["input"], source_text)
    if kind in ("enum", "literal_error"):
        return f"must be {context['expected']}, not {_shown(error['input'], source_text)}"
    return _sized_words(kind, context) or _fallback_words(error, context)


def _sized_words(kind: str, context: dict[str, Any]) -> str | None:
    if kind == "string_pattern_mismatch":
        pattern = context["pattern"]
        return _PATTERN_WORDS.get(pattern, f"must match {pattern}")
    if kind == "string_too_long":
        return f"must be at most {context['max_length']} characters"
    if kind == "string_too_short":
        return f"must be at least {context['min_length']} characters"
    if kind == "too_short":
        return f"must have at least {context['min_length']} items"
    if kind == "too_long":
        return f"must have at most {context['max_length']} items"
    return None


def _fallback_words(error: ErrorDetails, context: dict[str, Any]) -> str:
    if error["type"] == "value_error" and "error" in context:
        return str(context["error"])
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _string_type_words(value: Any, source_text: str | None) -> str:
    if isinstance(value, bool | int | float) and source_text is not None:
        # YAML reads unquoted 012 as the number 12; say so, or the error looks absurd.
        return f'must be a string; quote the value: "{source_text}"'
    return "must be a string"


def _shown(value: Any, source_text: str | None) -> str:
    if source_text is not None:
        return source_text
    return repr(value)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
