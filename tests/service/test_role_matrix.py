"""Every route, called with no key, a revoked key and a key of each role, answers exactly as the
role matrix says: sdk may read the config, assign and send events; viewer reads experiments,
results and dashboards; admin does everything; no key or a revoked key gets 401 (dashboards send
the caller to sign in), a key of the wrong role 403."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from servicefixtures import auth

EXPERIMENT = "cart-accessory-cross-sell"
CALLERS = ("none", "revoked", "sdk", "viewer", "admin")
READERS = frozenset({"viewer", "admin"})
SIGN_IN = "/dashboards/login"


@dataclass(frozen=True)
class Call:
    """One request to a route and the status every caller must get."""

    path: str
    expect: dict[str, int]
    body: dict | None = field(default=None)


def api(path: str, *, allowed: set[str], body: dict | None = None) -> Call:
    """A JSON API route open to the roles in `allowed` (a keyless or revoked caller gets 401)."""
    expect = {caller: 200 if caller in allowed else 403 for caller in ("sdk", "viewer", "admin")}
    return Call(path, {"none": 401, "revoked": 401, **expect}, body)


def public(path: str, status: int = 200, body: dict | None = None) -> Call:
    """A route every caller gets the same answer from, key or not."""
    return Call(path, dict.fromkeys(CALLERS, status), body)


def page(path: str, *, reader_status: int = 200) -> Call:
    """A dashboard route: readers get `reader_status`, anyone else the sign-in redirect (302)."""
    return Call(path, {c: reader_status if c in READERS else 302 for c in CALLERS})


SDK = {"sdk", "admin"}
VIEWER = {"viewer", "admin"}
ADMIN = {"admin"}

# (endpoint, method) -> the call. A route served by the app but missing here fails the test.
MATRIX: dict[tuple[str, str], Call] = {
    ("storefront.snapshot", "GET"): api("/api/v1/snapshot", allowed=SDK),
    ("storefront.assign", "POST"): api(
        "/api/v1/assign", allowed=SDK, body={"experiment": EXPERIMENT, "visitor_id": "shopper-1"}
    ),
    ("storefront.events", "POST"): api("/api/v1/events", allowed=SDK, body={"events": []}),
    ("results.list_experiments", "GET"): api("/api/v1/experiments", allowed=VIEWER),
    ("results.get_experiment", "GET"): api(f"/api/v1/experiments/{EXPERIMENT}", allowed=VIEWER),
    ("results.experiment_results", "GET"): api(
        f"/api/v1/experiments/{EXPERIMENT}/results", allowed=VIEWER
    ),
    ("results.placements", "GET"): api("/api/v1/placements", allowed=VIEWER),
    ("results.change_status", "POST"): api(
        f"/api/v1/experiments/{EXPERIMENT}/status", allowed=ADMIN, body={"status": "paused"}
    ),
    ("openapi.openapi_json", "GET"): public("/api/v1/openapi.json"),
    ("health.healthz", "GET"): public("/healthz"),
    ("health.readyz", "GET"): public("/readyz"),
    ("_metrics", "GET"): api("/metrics", allowed=VIEWER),
    ("static", "GET"): public("/static/no-such-file.css", 404),
    ("dashboards.static", "GET"): public("/dashboards/static/dashboards.css"),
    ("dashboards.login", "GET"): public(SIGN_IN),
    # A form post without its CSRF token is refused whoever sends it.
    ("dashboards.login", "POST"): public(SIGN_IN, 400),
    ("dashboards.logout", "POST"): page("/dashboards/logout", reader_status=400),
    ("dashboards.index", "GET"): page("/dashboards/"),
    ("dashboards.experiment", "GET"): page(f"/dashboards/experiments/{EXPERIMENT}"),
    ("dashboards.experiment_csv", "GET"): page(f"/dashboards/experiments/{EXPERIMENT}.csv"),
    # Admin-only in effect, but the CSRF check comes first (tests/dashboards covers the roles).
    ("dashboards.apply_rollout", "POST"): page(
        f"/dashboards/experiments/{EXPERIMENT}/rollout", reader_status=400
    ),
}


def served_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


@pytest.fixture
def callers(app, sessions, applied) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    from service_data import create_revoked_key, create_role_keys

    secrets = {**create_role_keys(sessions), "revoked": create_revoked_key(sessions)}
    return {"none": {}, **{caller: auth(secret) for caller, secret in secrets.items()}}


def test_the_matrix_names_every_served_route(app):
    served = served_routes(app)
    assert served - MATRIX.keys() == set(), "every route needs an entry in the role matrix"
    assert MATRIX.keys() - served == set(), "the matrix names no route that is not served"


@pytest.mark.parametrize("route", sorted(MATRIX), ids="{0[0]}-{0[1]}".format)
def test_each_caller_gets_the_status_of_its_role(app, callers, route):
    _endpoint, method = route
    call = MATRIX[route]
    answered = {}
    for caller in CALLERS:
        # A fresh client per caller: no session cookie carries over from another caller.
        client = app.test_client()
        response = client.open(call.path, method=method, json=call.body, headers=callers[caller])
        answered[caller] = response.status_code
        if response.status_code == 302:
            assert response.headers["Location"].startswith(SIGN_IN)
        if response.status_code in (401, 403) and call.path.startswith("/api/"):
            assert response.mimetype == "application/problem+json"
    assert answered == call.expect


def test_refused_dashboard_callers_see_no_experiment_data(app, callers):
    allowed = app.test_client().get(
        f"/dashboards/experiments/{EXPERIMENT}.csv", headers=callers["viewer"]
    )
    assert b"screen-protector" in allowed.data, "a viewer sees the data the others must not"
    for caller in ("none", "revoked", "sdk"):
        response = app.test_client().get(
            f"/dashboards/experiments/{EXPERIMENT}.csv",
            headers=callers[caller],
            follow_redirects=True,
        )
        assert response.request.path == SIGN_IN
        # The sign-in form carries the requested path back (`next`), but nothing of the experiment.
        for variant in (b"screen-protector", b"fast-charger", b"no-offer"):
            assert variant not in response.data
