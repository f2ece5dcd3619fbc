"""Capping, refunds, segments, days, CUPED, guardrails and per-epoch sample-ratio checks, through
the events API and SQL on both databases, against figures computed here from the raw events."""

from __future__ import annotations

import math
import textwrap
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from servicefixtures import auth

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _events_are_in_the_past(clock):  # type: ignore[no-untyped-def]
    clock.now = START + timedelta(days=40)


def experiment_yaml(key: str, analysis: str = "", *, allocation: str = "fixed") -> str:
    bandit = "bandit:\n  update_interval_seconds: 60\n" if allocation == "thompson" else ""
    return (
        textwrap.dedent(
            f"""\
        key: {key}
        name: Gift wrap at checkout
        placement: checkout
        kind: cross_sell
        status: running
        allocation: {allocation}
        control: none
        variants:
          - key: none
            name: No offer
            weight: 0.5
          - key: wrap
            name: Gift wrap
            weight: 0.5
            offer: {{product: Gift wrap, price: 4.0, currency: EUR}}
        """
        )
        + bandit
        + textwrap.indent(textwrap.dedent(analysis), "")
    )


def impression(key, visitor, variant, when, **fields):  # type: ignore[no-untyped-def]
    return {
        "event_id": f"i-{visitor}-{when.timestamp():.0f}",
        "type": "impression",
        "experiment": key,
        "variant": variant,
        "visitor_id": visitor,
        "timestamp": when.isoformat(),
        **fields,
    }


def order(visitor, order_id, value, when, kind="order"):  # type: ignore[no-untyped-def]
    return {
        "event_id": f"{kind}-{order_id}",
        "type": kind,
        "visitor_id": visitor,
        "order_id": order_id,
        "value": value,
        "timestamp": when.isoformat(),
    }


def send(client, key, events):  # type: ignore[no-untyped-def]
    for start in range(0, len(events), 500):
        response = client.post(
            "/api/v1/events", json={"events": events[start : start + 500]}, headers=auth(key)
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["rejected"] == []


def results(client, api_keys, key, query=""):  # type: ignore[no-untyped-def]
    response = client.get(
        f"/api/v1/experiments/{key}/results{query}", headers=auth(api_keys["viewer"])
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_order_values_are_winsorised_and_refunds_netted(client, api_keys, apply_yaml):
    apply_yaml(experiment_yaml("wrap", "analysis:\n  winsorize_percentile: 0.9\n"))
    rng = np.random.default_rng(7)
    events, orders, refunds = [], {"none": [], "wrap": []}, {"none": [], "wrap": []}
    for n in range(120):
        variant = ("none", "wrap")[n % 2]
        visitor, seen = f"v{n}", START + timedelta(minutes=n)
        events.append(impression("wrap", visitor, variant, seen))
        value = round(float(rng.lognormal(4, 1)), 2)
        events.append(order(visitor, f"o{n}", value, seen + timedelta(hours=1)))
        orders[variant].append((visitor, value))
        if n % 10 == 3:
            events.append(order(visitor, f"o{n}", value / 2, seen + timedelta(days=20), "refund"))
            refunds[variant].append(value / 2)
    # Outside the window and refunds of orders that were never attributed: not counted.
    events.append(order("v0", "late", 5000.0, START + timedelta(days=30)))
    events.append(order("v0", "late", 5000.0, START + timedelta(days=31), "refund"))
    events.append(order("stranger", "s1", 80.0, START, "refund"))
    send(client, api_keys["sdk"], events)

    body = results(client, api_keys, "wrap")

    values = sorted(v for arm in orders.values() for _, v in arm)
    cap = values[math.ceil(0.9 * len(values)) - 1]
    capping = body["capping"]
    assert capping["cap"] == pytest.approx(cap)
    assert capping["percentile"] == 0.9
    assert capping["orders_capped"] == sum(v > cap for v in values)
    assert capping["refunds"] == sum(len(r) for r in refunds.values())
    for variant in body["variants"]:
        arm = variant["variant"]
        expected = sum(min(v, cap) for _, v in orders[arm]) - sum(min(r, cap) for r in refunds[arm])
        assert variant["revenue"] == pytest.approx(expected, rel=1e-12)
        assert variant["refund_rate"] == pytest.approx(len(refunds[arm]) / 60)


def test_results_break_down_by_the_first_impressions_attribute(client, api_keys, apply_yaml):
    apply_yaml(experiment_yaml("wrap", "analysis:\n  segments: [device]\n"))
    events, expected = [], {}
    for n in range(90):
        variant, device = ("none", "wrap")[n % 2], ("mobile", "desktop", "tablet")[n % 3]
        seen = START + timedelta(minutes=n)
        events.append(impression("wrap", f"v{n}", variant, seen, attributes={"device": device}))
        # A later impression on another device does not move the visitor's segment.
        later = seen + timedelta(hours=2)
        events.append(impression("wrap", f"v{n}", variant, later, attributes={"device": "tv"}))
        expected[device, variant] = expected.get((device, variant), 0) + 1
    send(client, api_keys["sdk"], events)

    body = results(client, api_keys, "wrap")

    segments = {(s["attribute"], s["value"]): s for s in body["segments"]}
    assert set(segments) == {("device", "mobile"), ("device", "desktop"), ("device", "tablet")}
    for (_, device), segment in segments.items():
        units = {v["variant"]: v["units"] for v in segment["variants"]}
        assert units == {"none": expected[device, "none"], "wrap": expected[device, "wrap"]}

    other = results(client, api_keys, "wrap", "?segment=country")
    assert [s["value"] for s in other["segments"]] == ["(not sent)"]
    bad = client.get(
        "/api/v1/experiments/wrap/results?segment=dev%20ice", headers=auth(api_keys["viewer"])
    )
    assert bad.status_code == 400
    assert bad.headers["Content-Type"] == "application/problem+json"


def test_daily_series_counts_new_units_and_cumulates(client, api_keys, apply_yaml):
    apply_yaml(experiment_yaml("wrap"))
    per_day = [(10, 12), (0, 3), (7, 5)]
    events = []
    for day, (none, wrap) in enumerate(per_day):
        for variant, count in (("none", none), ("wrap", wrap)):
            for n in range(count):
                when = START + timedelta(days=day, minutes=n)
                events.append(impression("wrap", f"{variant}-{day}-{n}", variant, when))
    send(client, api_keys["sdk"], events)

    daily = results(client, api_keys, "wrap")["daily"]

    assert [d["day"] for d in daily] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert [d["new_units"] for d in daily] == [
        {"none": 10, "wrap": 12},
        {"none": 0, "wrap": 3},
        {"none": 7, "wrap": 5},
    ]
    assert daily[-1]["cumulative_units"] == {"none": 17, "wrap": 20}
    assert [c["metric"] for c in daily[-1]["comparisons"]] == ["conversion"]


def test_cuped_reads_the_covariate_attribute_and_narrows_intervals(
    client, api_keys, apply_yaml, sessions
):
    apply_yaml(experiment_yaml("wrap", "analysis:\n  covariate: spend_30d\n"))
    rng = np.random.default_rng(11)
    events, covariates = [], {"none": [], "wrap": []}
    for n in range(400):
        variant = ("none", "wrap")[n % 2]
        visitor, seen = f"v{n}", START + timedelta(minutes=n)
        spend = round(float(rng.gamma(2.0, 40.0)), 2)
        attributes = {"spend_30d": spend} if n % 50 else {"spend_30d": "unknown"}
        events.append(impression("wrap", visitor, variant, seen, attributes=attributes))
        value = round(max(1.0, 0.8 * spend + float(rng.normal(0, 10))), 2)
        events.append(order(visitor, f"o{n}", value, seen + timedelta(hours=1)))
        covariates[variant].append((spend if n % 50 else 0.0, value))
    send(client, api_keys["sdk"], events)

    body = results(client, api_keys, "wrap")

    reduction = body["variance_reduction"]
    assert reduction["covariate"] == "spend_30d"
    assert reduction["used"] is True
    assert reduction["units_with_covariate"] == 400 - 8
    assert 0.3 < reduction["interval_narrowing"] < 1.0
    from offerlab.storage.aggregates import AggregateOptions, grouped_totals
    from offerlab.storage.db import session_scope
    from offerlab.storage.experiments import find_experiment_id

    with session_scope(sessions) as session:
        experiment_id = find_experiment_id(session, "wrap")
        options = AggregateOptions(168, covariate="spend_30d")
        totals = grouped_totals(session, experiment_id, options, group=None)
    for (variant, _), sums in totals.items():
        x, y = np.array(covariates[variant]).T
        assert sums.covariate_sum == pytest.approx(x.sum(), rel=1e-12)
        assert sums.covariate_sum_sq == pytest.approx((x * x).sum(), rel=1e-12)
        assert sums.revenue_covariate_sum_prod == pytest.approx((x * y).sum(), rel=1e-12)


def test_a_violated_guardrail_pauses_the_experiment_with_evidence(
    client, api_keys, apply_yaml, sessions, clock
):
    analysis = "analysis:\n  guardrails: [{metric: refund_rate}]\n  auto_pause_on_guardrail: true\n"
    apply_yaml(experiment_yaml("wrap", analysis))
    events = []
    for n in range(400):
        variant = ("none", "wrap")[n % 2]
        visitor, seen = f"v{n}", START + timedelta(minutes=n)
        events.append(impression("wrap", visitor, variant, seen))
        events.append(order(visitor, f"o{n}", 50.0, seen + timedelta(hours=1)))
        refunded = n % 20 == 0 if variant == "none" else n % 4 == 1
        if refunded:
            events.append(order(visitor, f"o{n}", 50.0, seen + timedelta(days=3), "refund"))
    send(client, api_keys["sdk"], events)
    from offerlab.services.monitor import enforce_guardrails
    from offerlab.storage.db import session_scope

    before = results(client, api_keys, "wrap")
    assert before["guardrail_violated"] is True
    [guardrail] = before["guardrails"]
    assert (guardrail["metric"], guardrail["variant"], guardrail["violated"]) == (
        "refund_rate",
        "wrap",
        True,
    )
    with session_scope(sessions) as session:
        assert enforce_guardrails(session, now=clock()) == ["wrap"]
    with session_scope(sessions) as session:
        assert enforce_guardrails(session, now=clock()) == []

    after = results(client, api_keys, "wrap")
    assert after["experiment"]["status"] == "paused"
    [entry] = after["audit_log"]
    assert entry["actor"] == "guardrail-monitor"
    assert entry["details"]["from"] == "running" and entry["details"]["to"] == "paused"
    assert entry["details"]["violations"][0]["metric"] == "refund_rate"
    assign = client.post(
        "/api/v1/assign",
        json={"visitor_id": "new-visitor", "experiment": "wrap"},
        headers=auth(api_keys["sdk"]),
    )
    assert assign.get_json()["reason"] == "not_running"


def test_bandit_sample_ratio_is_checked_per_allocation_epoch(
    client, api_keys, apply_yaml, sessions, clock
):
    apply_yaml(experiment_yaml("wrap", allocation="thompson"))
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    with session_scope(sessions) as session:
        experiment_id = store.find_experiment_id(session, "wrap")
        store.add_allocation(
            session, experiment_id, {"none": 0.2, "wrap": 0.8}, now=clock(), reason="bandit"
        )
    epochs = {1: {"none": 50, "wrap": 50}, 2: {"none": 30, "wrap": 170}}
    events = []
    for version, counts in epochs.items():
        for variant, count in counts.items():
            for n in range(count):
                when = START + timedelta(days=version, minutes=n)
                visitor = f"{version}-{variant}-{n}"
                events.append(
                    impression("wrap", visitor, variant, when, allocation_version=version)
                )
    send(client, api_keys["sdk"], events)

    ratio = results(client, api_keys, "wrap")["sample_ratio"]

    assert ratio["method"] == "per_epoch"
    by_version = {epoch["version"]: epoch for epoch in ratio["epochs"]}
    first = stats.chisquare([50, 50], [50, 50]).pvalue
    second = stats.chisquare([30, 170], [40, 160]).pvalue
    assert by_version[1]["p_value"] == pytest.approx(first, rel=1e-9)
    assert by_version[2]["p_value"] == pytest.approx(second, rel=1e-9)
    assert ratio["unhealthy"] is False


def test_event_ids_are_unique_per_key(client, api_keys, apply_yaml, sessions, clock):
    apply_yaml(experiment_yaml("wrap"))
    from offerlab.storage import keys as key_store
    from offerlab.storage.db import session_scope

    with session_scope(sessions) as session:
        _, second_key = key_store.create_key(session, role="sdk", name="shop-2", now=clock())
    event = impression("wrap", "v1", "wrap", START)
    other_visitor = impression("wrap", "v2", "none", START) | {"event_id": event["event_id"]}

    def post(key, events):  # type: ignore[no-untyped-def]
        response = client.post("/api/v1/events", json={"events": events}, headers=auth(key))
        return response.get_json()

    assert post(api_keys["sdk"], [event])["accepted"] == 1
    assert post(api_keys["sdk"], [event])["duplicates"] == 1
    assert post(second_key, [other_visitor])["accepted"] == 1
    assert post(second_key, [other_visitor, other_visitor]) == {
        "accepted": 0,
        "duplicates": 2,
        "rejected": [],
    }
    units = {v["variant"]: v["units"] for v in results(client, api_keys, "wrap")["variants"]}
    assert units == {"none": 1, "wrap": 1}
