"""The frozen contract vectors through the service: experiments stored in the database,
snapshot built by the service, and assignment over HTTP (POST /api/v1/assign).

- ``bucketing-v1.json``: every variant case over HTTP (SQLite).
- ``serving-v1.json`` (segment weights, per-request eligibility, the measurement slice): every
  case through ``offerlab.domain.assignment.evaluate``, on the vectors' own snapshot and on the
  snapshot the service builds from the database, and a subset over HTTP with ``attributes`` and
  ``ineligible``, with the recorded exposures checked (SQLite and PostgreSQL).

HTTP assign cannot set a bandit's serving context: ``measurement_bp`` comes from the stored
bandit options (``measurement_share``), the segment attribute likewise, and the weights, segment
weights and allocation version from the current allocation epoch. So the experiments are written
with ``apply_definitions`` (bandit settings on the domain objects) and their epochs up to the
vectors' version with ``storage.experiments.add_allocation`` (weights and ``segment_weights``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from assignment_answers import answer_of
from servicefixtures import auth

VECTORS_DIR = Path(__file__).resolve().parents[1] / "contract" / "vectors"
VECTORS = VECTORS_DIR / "bucketing-v1.json"
CASES = json.loads(VECTORS.read_text(encoding="utf-8"))["variant_cases"]
SERVING = json.loads((VECTORS_DIR / "serving-v1.json").read_text(encoding="utf-8"))
SERVING_CASES = SERVING["cases"]
SERVING_SNAPSHOT = SERVING["snapshots"]["serving"]


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


# --- serving-v1.json ---------------------------------------------------------------------------

HTTP_SUBSET = 100
# A second running experiment at the checkout, created after the bandit, halves its placement
# range to the vectors' [0, 5000).
CHECKOUT_NEIGHBOUR = "checkout-neighbour"


def serving_experiments() -> list:
    """The vector snapshot's experiments as domain objects, plus the checkout neighbour."""
    from offerlab.domain.model import (
        AllocationKind,
        BanditSettings,
        Experiment,
        ExperimentStatus,
        OfferKind,
        Variant,
    )

    experiments = []
    for config in [*SERVING_SNAPSHOT["experiments"], _neighbour_config()]:
        contextual = "measurement_bp" in config or config.get("segment_attribute")
        variants = config["variants"]
        experiments.append(
            Experiment(
                key=config["key"],
                name=config["key"],
                placement=config["placement"],
                offer_kind=OfferKind(config["offer_kind"]),
                status=ExperimentStatus(config["status"]),
                salt=config["salt"],
                traffic=config["traffic_bp"] / 10_000,
                control=config["control"],
                variants=tuple(
                    Variant(
                        key=v["key"], name=v["name"], weight=1 / len(variants), payload=v["payload"]
                    )
                    for v in variants
                ),
                allocation=AllocationKind.THOMPSON if contextual else AllocationKind.FIXED,
                bandit=BanditSettings(
                    measurement_share=config.get("measurement_bp", 0) / 10_000,
                    segment_attribute=config.get("segment_attribute"),
                ),
            )
        )
    return experiments


def _neighbour_config() -> dict[str, Any]:
    variant = {"key": "control", "name": "control", "weight_bp": 10_000, "payload": {}}
    return {
        "key": CHECKOUT_NEIGHBOUR,
        "salt": CHECKOUT_NEIGHBOUR,
        "status": "running",
        "placement": "checkout",
        "offer_kind": "upsell",
        "traffic_bp": 10_000,
        "control": "control",
        "variants": [variant],
        "allocation_version": 1,
    }


def _store_epochs(session, now) -> None:  # type: ignore[no-untyped-def]
    """Epochs up to each experiment's vector version, the last with its (segment) weights."""
    from offerlab.storage import experiments as store

    for config in SERVING_SNAPSHOT["experiments"]:
        experiment_id = store.find_experiment_id(session, config["key"])
        keys = [v["key"] for v in config["variants"]]
        weights = {v["key"]: v["weight_bp"] / 10_000 for v in config["variants"]}
        segments = {
            value: {key: bp / 10_000 for key, bp in zip(keys, shares, strict=True)}
            for value, shares in config.get("segment_weights_bp", {}).items()
        }
        while (
            store.current_allocation(session, experiment_id).version < config["allocation_version"]
        ):
            store.add_allocation(
                session,
                experiment_id,
                weights,
                now=now,
                reason="update",
                segment_weights=segments or None,
            )


@pytest.fixture(scope="module", params=("sqlite", "postgresql"))
def serving_service(request, tmp_path_factory, sqlite_template):  # type: ignore[no-untyped-def]
    """The vector experiments stored in a fresh database; (app, test client, sdk secret)."""
    import shutil

    from offerlab.api.app import create_app
    from offerlab.services.experiments import apply_definitions
    from offerlab.settings import Settings
    from offerlab.storage.db import session_scope
    from offerlab.storage.keys import create_key

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("serving") / "offerlab.db"
        shutil.copyfile(sqlite_template, path)
        url, drop = f"sqlite:///{path}", None
    else:
        cluster = request.getfixturevalue("postgres_template")
        if cluster is None:
            pytest.skip("PostgreSQL server binaries not found (set OFFERLAB_PG_BIN)")
        url, drop = _postgres_copy(cluster, "serving_vectors")
    app = create_app(Settings(database_url=url), run_bandit_updates=False)
    created = datetime(2026, 11, 2, tzinfo=UTC)
    with session_scope(app.extensions["offerlab"].sessions) as session:
        plan = apply_definitions(session, serving_experiments(), now=created)
        assert not plan.refusals
        _store_epochs(session, created)
        _row, secret = create_key(session, role="sdk", name="vectors", now=created)
    yield app, app.test_client(), secret
    app.extensions["offerlab"].engine.dispose()
    if drop is not None:
        drop()


def _postgres_copy(cluster, name: str):  # type: ignore[no-untyped-def]
    """A new database from the migrated template; returns its URL and a function dropping it."""
    import os

    from sqlalchemy import create_engine, text

    database = f"{name}_{os.getpid()}"

    def admin(statement: str) -> None:
        engine = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(statement))
        engine.dispose()

    admin(f"CREATE DATABASE {database} TEMPLATE offerlab_template")
    return cluster.url(database), lambda: admin(f"DROP DATABASE {database} WITH (FORCE)")


def served_snapshot(client, secret: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/snapshot", headers=auth(secret))
    assert response.status_code == 200
    return response.get_json()


def _evaluation_fields(config: dict[str, Any]) -> dict[str, Any]:
    """What evaluation reads from an experiment's snapshot entry, absent fields as defaults."""
    running = config["status"] == "running"
    return {
        "salt": config["salt"],
        "status": config["status"],
        "placement": config["placement"],
        "traffic_bp": config["traffic_bp"],
        "placement_range_bp": list(config["placement_range_bp"]) if running else None,
        "allocation_version": config["allocation_version"],
        "control": config["control"],
        "variants": [(v["key"], v["weight_bp"], v["payload"]) for v in config["variants"]],
        "measurement_bp": config.get("measurement_bp", 0),
        "segment_attribute": config.get("segment_attribute"),
        "segment_weights_bp": config.get("segment_weights_bp", {}),
    }


def test_the_service_snapshot_serves_the_vector_experiments_exactly(serving_service):
    _app, client, secret = serving_service
    served = {e["key"]: e for e in served_snapshot(client, secret)["experiments"]}
    for config in SERVING_SNAPSHOT["experiments"]:
        assert _evaluation_fields(served[config["key"]]) == _evaluation_fields(config)


def expected_answer(case: dict[str, Any]) -> dict[str, Any]:
    expected = dict(case["expected"])
    expected.pop("probability_fraction")
    return expected


def evaluation_mismatches(documents: dict[str, dict[str, Any]]) -> list:
    """Every serving case through the service's evaluate on the named snapshot documents."""
    from offerlab.domain.assignment import evaluate
    from offerlab_sdk.snapshot import parse_snapshot

    parsed = {name: parse_snapshot(document) for name, document in documents.items()}
    mismatches = []
    for case in SERVING_CASES:
        experiment = parsed[case["snapshot"]].experiment_by_key[case["experiment"]]
        assignment = evaluate(
            experiment,
            case["visitor_id"],
            attributes=case["attributes"],
            ineligible=case["ineligible"],
        )
        fraction = case["expected"]["probability_fraction"]
        exact = fraction is None or assignment.probability == float(Fraction(fraction))
        if answer_of(assignment) != expected_answer(case) or not exact:
            mismatches.append((case, answer_of(assignment)))
    return mismatches


def test_every_serving_vector_through_the_services_evaluate():
    assert len(SERVING_CASES) == 875
    assert not evaluation_mismatches(SERVING["snapshots"])


def test_every_serving_vector_on_the_snapshot_the_service_builds(serving_service):
    _app, client, secret = serving_service
    mismatches = evaluation_mismatches({"serving": served_snapshot(client, secret)})
    assert not mismatches, mismatches[:3]


def http_subset(size: int = HTTP_SUBSET) -> list[dict[str, Any]]:
    """Each serving rule, then each request context of the contextual cart bandit, then a spread."""
    chosen: list[dict[str, Any]] = []
    for group in (_rule_group, _cart_context_group):
        covered = {group(case) for case in chosen}
        for case in SERVING_CASES:
            if group(case) not in covered and len(chosen) < size:
                covered.add(group(case))
                chosen.append(case)
    for index in sorted(range(len(SERVING_CASES)), key=lambda i: (i % 7, i)):
        if len(chosen) < size and SERVING_CASES[index] not in chosen:
            chosen.append(SERVING_CASES[index])
    return chosen


def tracked(subset: list[dict[str, Any]]) -> list[bool]:
    """Record the impression of only the last request of each (experiment, visitor).

    An exposure recorded earlier would make a later request of the same visitor a sticky read.
    """
    last = {(case["experiment"], case["visitor_id"]): i for i, case in enumerate(subset)}
    return [last[(case["experiment"], case["visitor_id"])] == i for i, case in enumerate(subset)]


def _rule_group(case: dict[str, Any]) -> tuple:
    expected = case["expected"]
    return (
        case["experiment"],
        expected["reason"],
        expected["measurement"],
        expected["eligible"] is not None,
        bool(case["ineligible"]),
        expected["probability_fraction"],
    )


def _cart_context_group(case: dict[str, Any]) -> tuple:
    if case["experiment"] != "cart-bandit":
        return ()
    return (json.dumps(case["attributes"], sort_keys=True), tuple(case["ineligible"]))


def known_ineligible(case: dict[str, Any]) -> list[str]:
    """The request's ineligible keys that are variants (HTTP refuses unknown keys, see below)."""
    config = next(e for e in SERVING_SNAPSHOT["experiments"] if e["key"] == case["experiment"])
    keys = {v["key"] for v in config["variants"]}
    return [key for key in case["ineligible"] if key in keys]


def test_the_http_subset_covers_every_reason_and_both_fields():
    subset = http_subset()
    expected = [case["expected"] for case in subset]
    assert len(subset) == HTTP_SUBSET
    assert {_rule_group(case) for case in subset} == {_rule_group(case) for case in SERVING_CASES}
    assert {e["reason"] for e in expected} == {e["expected"]["reason"] for e in SERVING_CASES}
    counted = [e for e in expected if e["in_experiment"]]
    assert {(e["measurement"], e["eligible"] is not None) for e in counted} == {
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    }
    assert {"4/5", "3334/6667", "1/1"} <= {e["probability_fraction"] for e in counted}
    attribute_values = {
        repr(value) for case in subset for value in (case["attributes"] or {}).values()
    }
    assert {"1", "True", "False", "1.0", "None", "'1'"} <= attribute_values
    assert any("not-a-variant" in case["ineligible"] for case in subset)


def test_serving_vectors_over_http_assign_and_the_exposures_they_record(serving_service):
    from offerlab.storage import experiments as store
    from offerlab.storage.tables import ExposureRow

    app, client, secret = serving_service
    subset = http_subset()
    mismatches = []
    for case, track in zip(subset, tracked(subset), strict=True):
        body = {"experiment": case["experiment"], "visitor_id": case["visitor_id"]}
        body |= {"attributes": case["attributes"], "ineligible": known_ineligible(case)}
        response = client.post(
            "/api/v1/assign", json=body | {"track_impression": track}, headers=auth(secret)
        )
        assert response.status_code == 200, response.get_json()
        if response.get_json() != expected_answer(case):
            mismatches.append((case, response.get_json()))
    assert not mismatches, mismatches[:3]

    with app.extensions["offerlab"].sessions() as session:
        ids = store.experiment_ids(session)
        rows = session.query(ExposureRow).all()
    recorded = {(row.experiment_id, row.visitor_id): row for row in rows}
    shown = [
        case
        for case, track in zip(subset, tracked(subset), strict=True)
        if track and case["expected"]["in_experiment"]
    ]
    assert len(rows) == len(recorded) == len(shown) > 50
    for case in shown:
        expected = case["expected"]
        row = recorded[(ids[case["experiment"]], case["visitor_id"])]
        eligible = None if expected["eligible"] is None else sorted(expected["eligible"])
        assert (row.variant_key, row.allocation_version) == (expected["variant"], 5)
        assert (row.probability, row.measurement) == (
            expected["probability"],
            expected["measurement"],
        )
        assert row.eligible == eligible
        assert row.attributes == (case["attributes"] or None), case  # {} is stored as none


def test_http_assign_refuses_an_ineligible_key_the_sdk_would_ignore(serving_service):
    _app, client, secret = serving_service
    case = next(c for c in SERVING_CASES if "not-a-variant" in c["ineligible"])
    body = {"experiment": case["experiment"], "visitor_id": case["visitor_id"]}
    response = client.post(
        "/api/v1/assign", json=body | {"ineligible": case["ineligible"]}, headers=auth(secret)
    )
    assert response.status_code == 400
    assert "'not-a-variant' is not a variant" in response.get_json()["detail"]
