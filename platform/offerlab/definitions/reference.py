"""Render the schema for people: the JSON Schema file and the Markdown field reference."""

from __future__ import annotations

import json
from typing import Any

from offerlab.definitions.bandit import BanditDefinition
from offerlab.definitions.schema import (
    AnalysisDefinition,
    ExperimentDefinition,
    GuardrailDefinition,
    OfferDefinition,
    PlacementDefinition,
    PowerDefinition,
    VariantDefinition,
    experiment_json_schema,
)

_SECTIONS = (
    ("Experiment (top level)", ExperimentDefinition),
    ("`variants[]`", VariantDefinition),
    ("`variants[].offer`", OfferDefinition),
    ("`bandit`", BanditDefinition),
    ("`analysis`", AnalysisDefinition),
    ("`analysis.guardrails[]`", GuardrailDefinition),
    ("`analysis.power`", PowerDefinition),
    ("`placements[]` in placements.yaml", PlacementDefinition),
)
_BOUNDS = (
    ("exclusiveMinimum", ">"),
    ("minimum", ">="),
    ("exclusiveMaximum", "<"),
    ("maximum", "<="),
)


def render_json_schema() -> str:
    """The experiment JSON Schema as written to experiments/schema.json."""
    return json.dumps(experiment_json_schema(), indent=2, ensure_ascii=False) + "\n"


def render_field_reference() -> str:
    """Markdown tables describing every field of the YAML format."""
    return "\n".join(_section(title, model.model_json_schema()) for title, model in _SECTIONS)


def _section(title: str, schema: dict[str, Any]) -> str:
    required = set(schema.get("required", ()))
    rows = [
        f"### {title}",
        "",
        schema.get("description", ""),
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, spec in schema["properties"].items():
        default = "required" if name in required else _show_default(spec.get("default"))
        kind = _describe_type(spec, schema.get("$defs", {}))
        rows.append(f"| `{name}` | {kind} | {default} | {spec.get('description', '')} |")
    if schema.get("additionalProperties") is True:
        rows.append("| *other* | any | | Extra fields are passed to the storefront unchanged. |")
    return "\n".join(rows) + "\n"


def _describe_type(spec: dict[str, Any], definitions: dict[str, Any]) -> str:
    options = [option for option in spec.get("anyOf", [spec]) if option.get("type") != "null"]
    option = options[0]
    if "$ref" in option:
        option = definitions[option["$ref"].rsplit("/", 1)[-1]]
    if "enum" in option:
        return " \\| ".join(f"`{value}`" for value in option["enum"])
    if "const" in option:
        return f"`{option['const']}`"
    if option.get("type") == "array":
        return f"list (at least {option.get('minItems', 0)})"
    if option.get("type") == "object" or "properties" in option:
        return "mapping"
    return _with_constraints(option)


def _with_constraints(option: dict[str, Any]) -> str:
    words = [str(option.get("type", "any"))]
    words.extend(f"{symbol} {option[name]}" for name, symbol in _BOUNDS if name in option)
    if "pattern" in option:
        words.append(f"`{option['pattern']}`")
    if "maxLength" in option:
        words.append(f"max {option['maxLength']} chars")
    return ", ".join(words)


def _show_default(value: Any) -> str:
    if value is None:
        return ""
    return f"`{json.dumps(value)}`"
