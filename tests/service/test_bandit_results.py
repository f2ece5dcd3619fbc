"""Bandit results through the whole path on both databases: impressions with their allocation
epoch, propensity and measurement slice posted to the events API, SQL totals, the report's
epoch-weighted and IPW (Hajek) estimates against numpy on the raw simulated units (1e-9), their
intervals against the normal closed form, and the measurement-slice gain against scipy's Welch
test.

The simulation: two epochs with different weights and a drop in every acceptance rate in the
second, so the pooled comparison (mostly first-epoch control against mostly second-epoch upgrade)
is biased (Simpson) while both corrected estimators are not.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from servicefixtures import auth, post_all_events

KEY = "cart-upgrade-bandit"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECOND_EPOCH = START + timedelta(days=1)
ARMS = ("basic", "upgrade", "bundle")
OFFER_VALUES = {"basic": 10.0, "upgrade": 25.0, "bundle": 15.0}
RATES = {
    1: {"basic": 0.50, "upgrade": 0.56, "bundle": 0.30},
    2: {"basic": 0.08, "upgrade": 0.14, "bundle": 0.08},
}
WEIGHTS = {
    1: {"basic": 0.7, "upgrade": 0.15, "bundle": 0.15},
    2: {"basic": 0.15, "upgrade": 0.7, "bundle": 0.15},
}
MEASUREMENT_SHARE = 0.2
UNITS_PER_EPOCH = 1500
TOLERANCE = 1e-9
Z = stats.norm.ppf(0.975)

YAML = textwrap.dedent(
    f"""\
    key: {KEY}
    name: Upgrade or bundle
    placement: cart
    kind: upsell
    status: running
    allocation: thompson
    objective: offer_revenue
    control: basic
    variants:
      - key: basic
        name: Cable
        weight: 0.7
        offer: {{product: Cable, price: 10.0, currency: EUR}}
      - key: upgrade
        name: Premium upgrade
        weight: 0.15
        offer: {{product: Upgrade, price: 25.0, currency: EUR}}
      - key: bundle
        name: Bundle
        weight: 0.15
        offer: {{product: Bundle, price: 15.0, currency: EUR}}
    bandit:
      update_interval_seconds: 86400000
    """
)


@dataclass
class Units:
    """The raw simulated units: what numpy computes the reference figures from."""

    arm: list[str] = field(default_factory=list)
    epoch: list[int | None] = field(default_factory=list)
    propensity: list[float | None] = field(default_factory=list)
    measurement: list[bool] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "arm": np.array(self.arm),
            "epoch": np.array([e if e is not None else 0 for e in self.epoch]),
            "propensity": np.array([p if p is not None else np.nan for p in self.propensity]),
            "measurement": np.array(self.measurement),
            "reward": np.array(self.reward),
        }


def propensity(epoch: int, arm: str) -> float:
    """The overall chance of `arm`: the learning weights plus the uniform measurement slice."""
    if epoch == 1:
        return WEIGHTS[1][arm]
    return (1.0 - MEASUREMENT_SHARE) * WEIGHTS[2][arm] + MEASUREMENT_SHARE / len(ARMS)


def simulate(rng: np.random.Generator) -> tuple[list[dict], Units]:
    """Epoch 1: every 15th unit sends no probability (old SDK), every 150th not even the epoch.
    Epoch 2: a uniform measurement slice of 20%."""
    events: list[dict] = []
    units = Units()
    for epoch, started in ((1, START), (2, SECOND_EPOCH)):
        for n in range(UNITS_PER_EPOCH):
            measured = epoch == 2 and rng.random() < MEASUREMENT_SHARE
            shares = [1 / 3] * 3 if measured else [WEIGHTS[epoch][a] for a in ARMS]
            arm = ARMS[int(rng.choice(3, p=shares))]
            accepted = rng.random() < RATES[epoch][arm]
            recorded = None if epoch == 1 and n % 15 == 0 else propensity(epoch, arm)
            version = None if epoch == 1 and n % 150 == 0 else epoch
            visitor = f"v{epoch}-{n}"
            seen = started + timedelta(seconds=n)
            events.append(_impression(visitor, arm, seen, version, recorded, measured))
            if accepted:
                events.append(_acceptance(visitor, arm, seen + timedelta(minutes=1)))
            units.arm.append(arm)
            units.epoch.append(version)
            units.propensity.append(recorded)
            units.measurement.append(measured)
            units.reward.append(OFFER_VALUES[arm] if accepted else 0.0)
    return events, units


def _impression(visitor, arm, seen, version, probability, measured):  # type: ignore[no-untyped-def]
    event = {
        "event_id": f"i-{visitor}",
        "type": "impression",
        "experiment": KEY,
        "variant": arm,
        "visitor_id": visitor,
        "timestamp": seen.isoformat(),
    }
    if version is not None:
        event["allocation_version"] = version
    if probability is not None:
        event["probability"] = probability
    if measured:
        event["measurement"] = True
    return event


def _acceptance(visitor, arm, when):  # type: ignore[no-untyped-def]
    return {
        "event_id": f"a-{visitor}",
        "type": "acceptance",
        "experiment": KEY,
        "variant": arm,
        "visitor_id": visitor,
        "timestamp": when.isoformat(),
        "value": OFFER_VALUES[arm],
        "currency": "EUR",
    }


@pytest.fixture
def posted(client, api_keys, apply_yaml, sessions, clock):  # type: ignore[no-untyped-def]
    """The experiment with its second epoch, the events posted; returns (report, raw units)."""
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    clock.now = START - timedelta(hours=1)
    apply_yaml(YAML)
    with session_scope(sessions) as session:
        experiment_id = store.find_experiment_id(session, KEY)
        store.add_allocation(session, experiment_id, WEIGHTS[2], now=SECOND_EPOCH, reason="test")
    events, units = simulate(np.random.default_rng(20261102))
    clock.now = SECOND_EPOCH + timedelta(days=2)
    post_all_events(client, api_keys["sdk"], events)
    response = client.get(f"/api/v1/experiments/{KEY}/results", headers=auth(api_keys["viewer"]))
    assert response.status_code == 200
    return response.get_json(), units.arrays()


def epoch_weighted_reference(raw: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Mean and variance per arm: per-epoch means with the epochs' shares of units as weights."""
    with_epoch = raw["epoch"] > 0
    sizes = {e: int(np.sum(raw["epoch"] == e)) for e in (1, 2)}
    result = {}
    for arm in ARMS:
        mean = variance = 0.0
        for epoch, size in sizes.items():
            y = raw["reward"][with_epoch & (raw["epoch"] == epoch) & (raw["arm"] == arm)]
            weight = size / sum(sizes.values())
            mean += weight * y.mean()
            variance += weight**2 * y.var(ddof=1) / y.size
        result[arm] = (mean, variance)
    return result


def hajek_reference(raw: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Sum(y / p) / sum(1 / p) and its linearised variance; the missing probabilities are the
    epoch's served weight, units without an epoch are left out."""
    served = np.array([WEIGHTS[1][arm] for arm in raw["arm"]])
    p = np.where(np.isnan(raw["propensity"]), served, raw["propensity"])
    usable = raw["epoch"] > 0
    result = {}
    for arm in ARMS:
        mask = usable & (raw["arm"] == arm)
        y, w = raw["reward"][mask], 1.0 / p[mask]
        mean = np.sum(w * y) / np.sum(w)
        result[arm] = (mean, np.sum((w * (y - mean)) ** 2) / np.sum(w) ** 2)
    return result


def true_uplift() -> float:
    """The upgrade's expected gain per unit over the control, both epochs equally large."""
    return float(
        np.mean(
            [
                RATES[e]["upgrade"] * OFFER_VALUES["upgrade"]
                - RATES[e]["basic"] * OFFER_VALUES["basic"]
                for e in (1, 2)
            ]
        )
    )


def assert_interval(estimate: dict, mean: float, variance: float) -> None:
    se = float(np.sqrt(variance))
    assert estimate["estimate"] == pytest.approx(mean, rel=TOLERANCE, abs=TOLERANCE)
    assert estimate["standard_error"] == pytest.approx(se, rel=TOLERANCE)
    assert estimate["ci"]["low"] == pytest.approx(mean - Z * se, rel=TOLERANCE, abs=TOLERANCE)
    assert estimate["ci"]["high"] == pytest.approx(mean + Z * se, rel=TOLERANCE, abs=TOLERANCE)


def test_arm_estimates_match_numpy_on_the_raw_units(posted):
    report, raw = posted
    bandit = report["bandit"]
    weighted, hajek = epoch_weighted_reference(raw), hajek_reference(raw)
    arms = {arm["variant"]: arm for arm in bandit["arms"]}

    assert [arm["variant"] for arm in bandit["arms"]] == list(ARMS)
    for name in ARMS:
        assert_interval(arms[name]["epoch_weighted"], *weighted[name])
        assert_interval(arms[name]["ipw"], *hajek[name])
        pooled = raw["reward"][raw["arm"] == name].mean()
        assert arms[name]["pooled"] == pytest.approx(pooled, rel=TOLERANCE)
        assert arms[name]["units"] == int(np.sum(raw["arm"] == name))
    assert bandit["epochs_used"] == [1, 2]
    assert bandit["reward"] == "offer_revenue"
    assert bandit["interval_level"] == pytest.approx(0.95)


def test_uplift_of_the_best_arm_is_corrected_while_the_pooled_one_is_biased(posted):
    report, raw = posted
    bandit = report["bandit"]
    weighted, hajek = epoch_weighted_reference(raw), hajek_reference(raw)
    uplift = bandit["uplift"]

    assert (bandit["headline"], bandit["best_variant"]) == ("ipw", "upgrade")
    assert (uplift["variant"], uplift["control"]) == ("upgrade", "basic")
    for estimate, reference in ((uplift["ipw"], hajek), (uplift["epoch_weighted"], weighted)):
        mean = reference["upgrade"][0] - reference["basic"][0]
        assert_interval(estimate, mean, reference["upgrade"][1] + reference["basic"][1])
    se = uplift["ipw"]["standard_error"]
    z = uplift["ipw"]["estimate"] / se
    assert uplift["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=TOLERANCE)
    assert uplift["significant"] is True
    pooled = {a: raw["reward"][raw["arm"] == a].mean() for a in ARMS}
    assert uplift["pooled"] == pytest.approx(pooled["upgrade"] - pooled["basic"], rel=TOLERANCE)
    # The pooled difference misses the truth by several standard errors; the corrected ones not.
    truth = true_uplift()
    assert truth - uplift["pooled"] > 4 * se
    assert abs(uplift["ipw"]["estimate"] - truth) < 3 * se
    assert abs(uplift["epoch_weighted"]["estimate"] - truth) < 3 * se


def test_units_without_a_propensity_are_counted(posted):
    report, raw = posted
    bandit = report["bandit"]
    no_probability = np.isnan(raw["propensity"])

    assert bandit["units_left_out"] == int(np.sum(no_probability & (raw["epoch"] == 0)))
    assert bandit["units_with_served_weight"] == int(np.sum(no_probability & (raw["epoch"] > 0)))
    assert bandit["units_left_out"] == 10
    assert bandit["units_with_served_weight"] == 90


def test_measurement_slice_gain_matches_a_welch_test(posted):
    report, raw = posted
    gain = report["bandit"]["measurement"]
    learning = raw["reward"][~raw["measurement"]]
    measured = raw["reward"][raw["measurement"]]

    assert (gain["learning_units"], gain["measurement_units"]) == (learning.size, measured.size)
    comparison = gain["gain"]
    assert_welch(comparison, control=measured, variant=learning)
    assert gain["best_variant"] == "upgrade"
    in_slice = {a: raw["reward"][raw["measurement"] & (raw["arm"] == a)] for a in ARMS}
    assert_welch(gain["best_vs_control"], control=in_slice["basic"], variant=in_slice["upgrade"])


def assert_welch(comparison: dict, *, control: np.ndarray, variant: np.ndarray) -> None:
    """Difference, p-value (scipy) and the Welch-Satterthwaite interval (closed form)."""
    v_c, v_v = control.var(ddof=1) / control.size, variant.var(ddof=1) / variant.size
    df = (v_c + v_v) ** 2 / (v_c**2 / (control.size - 1) + v_v**2 / (variant.size - 1))
    half = stats.t.ppf(0.975, df) * np.sqrt(v_c + v_v)
    difference = variant.mean() - control.mean()
    reference = stats.ttest_ind(variant, control, equal_var=False)

    assert comparison["absolute_uplift"] == pytest.approx(difference, rel=TOLERANCE)
    assert comparison["absolute_ci"]["low"] == pytest.approx(difference - half, rel=TOLERANCE)
    assert comparison["absolute_ci"]["high"] == pytest.approx(difference + half, rel=TOLERANCE)
    assert comparison["p_value"] == pytest.approx(reference.pvalue, rel=1e-7)


def test_the_dashboard_shows_the_bandit_results_and_the_slice_gain(posted, client, api_keys):
    page = client.get(f"/dashboards/experiments/{KEY}", headers=auth(api_keys["viewer"]))
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert 'id="bandit-results"' in html
    assert 'id="measurement-gain"' in html
    assert "inverse-propensity" in html.lower()


def _csrf(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_an_admin_applies_the_recommendation_from_the_dashboard(
    client, api_keys, apply_yaml, sessions, clock
):
    """The form rolls out through the service: a `rollout` epoch, audit-logged as manual."""
    from offerlab.storage import audit
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    apply_yaml(YAML)
    with session_scope(sessions) as session:
        experiment_id = store.find_experiment_id(session, KEY)
        evidence = {"winner": "upgrade", "chance_to_be_best": {"upgrade": 0.99}}
        audit.record(
            session,
            experiment_id=experiment_id,
            at=clock(),
            actor="bandit",
            action="winner_recommended",
            details=evidence,
        )
    form = client.get("/dashboards/login").get_data(as_text=True)
    client.post("/dashboards/login", data={"key": api_keys["admin"], "csrf_token": _csrf(form)})
    page = client.get(f"/dashboards/experiments/{KEY}").get_data(as_text=True)
    assert "Recommended: roll out Premium upgrade" in page

    response = client.post(
        f"/dashboards/experiments/{KEY}/rollout", data={"csrf_token": _csrf(page)}
    )
    again = client.post(f"/dashboards/experiments/{KEY}/rollout", data={"csrf_token": _csrf(page)})

    assert response.status_code == 303
    assert again.status_code == 409
    with session_scope(sessions) as session:
        current = store.current_allocation(session, experiment_id)
        entries = audit.entries(session, experiment_id)
        assert (current.reason, current.weights) == (
            "rollout",
            {"basic": 0.0, "upgrade": 1.0, "bundle": 0.0},
        )
        latest = entries[0]
        assert (latest.action, latest.actor) == ("rollout", "dashboard admin")
        assert latest.details["manual"] is True
        assert latest.details["recommendation"] == evidence
    page = client.get(f"/dashboards/experiments/{KEY}").get_data(as_text=True)
    assert "Rolled out to Premium upgrade on" in page
