"""The OpenAPI document is valid 3.1, lists exactly the real routes, and real bodies match it."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate
from servicefixtures import auth


@pytest.fixture
def document(client):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_the_document_lists_exactly_the_served_json_routes(app, document):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboards.") or rule.endpoint == "static":
            continue
        path = rule.rule.replace("<key>", "{key}")
        served |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == served


def check(document, name, body):  # type: ignore[no-untyped-def]
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    jsonschema.validate(body, schema)


def test_real_responses_match_their_schemas(client, applied, api_keys, document):
    assign = client.post(
        "/api/v1/assign",
        json={"experiment": "cart-accessory-cross-sell", "visitor_id": "v1"},
        headers=auth(api_keys["sdk"]),
    )
    check(document, "AssignResponse", assign.get_json())
    events = client.post(
        "/api/v1/events",
        json={"events": [{"event_id": "x", "type": "nope"}]},
        headers=auth(api_keys["sdk"]),
    )
    check(document, "IngestResponse", events.get_json())
    problem = client.post("/api/v1/assign", json={}, headers=auth(api_keys["sdk"]))
    check(document, "Problem", problem.get_json())
    with pytest.raises(jsonschema.ValidationError):
        check(document, "IngestResponse", {"accepted": "many"})
