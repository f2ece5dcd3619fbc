"""Schemathesis against the served OpenAPI document: no 5xx, and every response (status code,
content type, body) is one the document allows. Bounded and derandomised, so CI repeats it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from servicefixtures import auth

STOREFRONT_PATHS = frozenset({"/api/v1/snapshot", "/api/v1/assign", "/api/v1/events"})

# Schemathesis' default list of statuses for rejected input, plus 413: a batch over the size limit
# is refused as too large, which the document allows (4XX) and the issue asks for.
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]
CONFIG = {"checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}}}


@pytest.fixture
def unlimited_app(database_url, clock):  # type: ignore[no-untyped-def]
    """The app without rate limits: fuzzing must see the handlers, not 429s."""
    from offerlab.api.app import create_app
    from offerlab.settings import Settings

    settings = Settings(database_url=database_url, rate_limit_events="", rate_limit_assign="")
    application = create_app(settings, clock=clock, run_bandit_updates=False)
    yield application
    application.extensions["offerlab"].engine.dispose()


@pytest.fixture
def served_schema(unlimited_app, applied_to):  # type: ignore[no-untyped-def]
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", unlimited_app, config=config)


@pytest.fixture
def applied_to(unlimited_app, clock):  # type: ignore[no-untyped-def]
    """The shipped example experiments, so assign and results meet real data, not only 404s."""
    from service_data import apply_example_experiments

    apply_example_experiments(unlimited_app, clock())


@pytest.fixture
def role_keys(unlimited_app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from service_data import create_role_keys

    return create_role_keys(unlimited_app.extensions["offerlab"].sessions)


schema = schemathesis.pytest.from_fixture("served_schema")


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_its_documented_contract(case, role_keys):
    role = "sdk" if case.path in STOREFRONT_PATHS else "admin"
    case.call_and_validate(headers=auth(role_keys[role]))
