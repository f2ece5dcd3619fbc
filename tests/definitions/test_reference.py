import json
from pathlib import Path

from offerlab.definitions import experiment_json_schema
from offerlab.definitions.reference import render_field_reference, render_json_schema

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate with `offerlab schema --output experiments/schema.json`"


def test_schema_json_is_not_stale() -> None:
    stored = (ROOT / "experiments" / "schema.json").read_text(encoding="utf-8")

    assert stored == render_json_schema(), REGENERATE


def test_readme_field_reference_is_not_stale() -> None:
    readme = (ROOT / "experiments" / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- fields:start -->\n")[1].split("<!-- fields:end -->")[0]

    assert section == render_field_reference(), (
        "regenerate with `offerlab schema --format markdown`"
    )


def test_schema_documents_every_field() -> None:
    schema = experiment_json_schema()
    models = [schema, *schema["$defs"].values()]

    for model in models:
        for name, spec in model.get("properties", {}).items():
            assert spec.get("description"), name
    assert schema["additionalProperties"] is False
    assert schema["properties"]["variants"]["minItems"] == 2
    assert set(schema["required"]) == {"key", "name", "placement", "kind", "control", "variants"}


def test_rendered_schema_is_json() -> None:
    assert json.loads(render_json_schema()) == experiment_json_schema()
