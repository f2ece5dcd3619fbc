"""The frozen bucketing vectors through the service: experiments stored in the database,
snapshot built by the service, and assignment over HTTP (POST /api/v1/assign)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servicefixtures import auth

VECTORS = Path(__file__).resolve().parents[1] / "contract" / "vectors" / "bucketing-v1.json"
CASES = json.loads(VECTORS.read_text(encoding="utf-8"))["variant_cases"]


def _config(case: dict) -> tuple:
    return (case["salt"], tuple(case["weights_bp"]), case["traffic_bp"])


@pytest.fixture(scope="module")
def vector_service(tmp_path_factory, sqlite_template):  # type: ignore[no-untyped-def]
    """One running experiment per distinct (salt, weights, traffic), each alone at its placement."""
    import shutil

    from offerlab.api.app import create_app
    from offerlab.domain.model import Experiment, ExperimentStatus, OfferKind, Variant
    from offerlab.services.experiments import apply_definitions
    from offerlab.settings import Settings
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import create_key

    path = tmp_path_factory.mktemp("vectors") / "offerlab.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(Settings(database_url=f"sqlite:///{path}"), run_bandit_updates=False)
    configs = sorted({_config(case) for case in CASES})
    keys = {config: f"vector-{index}" for index, config in enumerate(configs)}
    experiments = [
        Experiment(
            key=keys[config],
            name=keys[config],
            placement=f"vector_{index}",
            offer_kind=OfferKind.UPSELL,
            status=ExperimentStatus.RUNNING,
            salt=config[0],
            traffic=config[2] / 10_000,
            control="v0",
            variants=tuple(
                Variant(key=f"v{i}", name=f"v{i}", weight=bp / 10_000)
                for i, bp in enumerate(config[1])
            ),
        )
        for index, config in enumerate(configs)
    ]
    now = datetime(2026, 11, 2, tzinfo=UTC)
    with session_scope(app.extensions["offerlab"].sessions) as session:
        plan = apply_definitions(session, experiments, now=now)
        assert not plan.refusals
        _row, secret = create_key(session, role="sdk", name="vectors", now=now)
    yield app.test_client(), keys, secret
    app.extensions["offerlab"].engine.dispose()


def test_the_service_snapshot_carries_the_vector_weights_exactly(vector_service):
    client, keys, secret = vector_service
    snapshot = client.get("/api/v1/snapshot", headers=auth(secret)).get_json()
    by_key = {e["key"]: e for e in snapshot["experiments"]}
    for (salt, weights_bp, traffic_bp), key in keys.items():
        config = by_key[key]
        assert config["salt"] == salt
        assert tuple(v["weight_bp"] for v in config["variants"]) == weights_bp
        assert config["traffic_bp"] == traffic_bp


def test_every_variant_vector_through_http_assign(vector_service):
    client, keys, secret = vector_service
    mismatches = []
    for case in CASES:
        answer = client.post(
            "/api/v1/assign",
            json={
                "experiment": keys[_config(case)],
                "visitor_id": case["visitor_id"],
                "track_impression": False,
            },
            headers=auth(secret),
        ).get_json()
        expected_index = case["variant_index"]
        if expected_index is None:
            got = (answer["in_experiment"], answer["reason"], answer["variant"])
            if got != (False, "outside_traffic", "v0"):
                mismatches.append((case, answer))
        elif (answer["in_experiment"], answer["variant"]) != (True, f"v{expected_index}"):
            mismatches.append((case, answer))
    assert not mismatches, mismatches[:3]
    assert len(CASES) >= 1000
