"""Bandit experiments through the real service on both databases: YAML settings in, events
through the API, aggregates in SQL, the allocation life cycle, new epochs, the audit log and the
SDK snapshot."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from servicefixtures import auth, post_all_events

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
VARIANTS = ("none", "cheap", "premium")


@pytest.fixture(autouse=True)
def _events_are_in_the_past(clock):  # type: ignore[no-untyped-def]
    clock.now = START + timedelta(days=10)


def bandit_yaml(
    key: str, bandit: str, *, allocation: str = "thompson", objective: str = "offer_revenue"
) -> str:
    """Three variants: no offer (the control), a cheap accessory and a premium upgrade."""
    head = textwrap.dedent(
        f"""\
        key: {key}
        name: Accessory or upgrade
        placement: cart
        kind: cross_sell
        status: running
        allocation: {allocation}
        objective: {objective}
        control: none
        variants:
          - key: none
            name: No offer
            weight: 0.34
          - key: cheap
            name: Cable
            weight: 0.33
            offer: {{product: Cable, price: 5.0, currency: EUR, margin: 0.5}}
          - key: premium
            name: Upgrade
            weight: 0.33
            offer: {{product: Upgrade, price: 40.0, currency: EUR, margin: 0.1}}
        bandit:
          update_interval_seconds: 60
        """
    )
    return head + textwrap.indent(textwrap.dedent(bandit), "  ")


def arm_events(key: str, variant: str, units: int, accepted: int, value: float) -> list[dict]:
    """`units` visitors shown `variant`, the first `accepted` of them taking it at `value`."""
    events = []
    for n in range(units):
        visitor, seen = f"{key}-{variant}-{n}", START + timedelta(seconds=n)
        common = {"experiment": key, "variant": variant, "visitor_id": visitor}
        events.append(
            {"event_id": f"i-{visitor}", "type": "impression", "timestamp": seen.isoformat()}
            | common
        )
        if n < accepted:
            taken = (seen + timedelta(minutes=1)).isoformat()
            events.append(
                {"event_id": f"a-{visitor}", "type": "acceptance", "timestamp": taken}
                | common
                | {"value": value, "currency": "EUR"}
            )
    return events


def order_events(key: str, variant: str, orders: list[float]) -> list[dict]:
    """One order per visitor of `arm_events` (the first len(orders) visitors)."""
    events = []
    for n, value in enumerate(orders):
        visitor = f"{key}-{variant}-{n}"
        when = START + timedelta(seconds=n, hours=1)
        events.append(
            {
                "event_id": f"o-{visitor}",
                "type": "order",
                "visitor_id": visitor,
                "order_id": f"order-{visitor}",
                "value": value,
                "currency": "EUR",
                "timestamp": when.isoformat(),
            }
        )
    return events


def send(client, api_keys, events):  # type: ignore[no-untyped-def]
    post_all_events(client, api_keys["sdk"], events)


def send_arms(client, api_keys, key, arms):  # type: ignore[no-untyped-def]
    """arms: variant -> (units, accepted, value)."""
    events = [e for variant, arm in arms.items() for e in arm_events(key, variant, *arm)]
    send(client, api_keys, events)


def update(sessions, clock, seed=1):  # type: ignore[no-untyped-def]
    from offerlab.services.bandits import update_allocations
    from offerlab.storage.db import session_scope

    clock.now += timedelta(minutes=5)
    with session_scope(sessions) as session:
        return update_allocations(session, now=clock(), rng=np.random.default_rng(seed))


def audit_actions(sessions, key):  # type: ignore[no-untyped-def]
    from offerlab.storage import audit
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    with session_scope(sessions) as session:
        entries = audit.entries(session, store.find_experiment_id(session, key))
        return [(entry.action, entry.details) for entry in entries if entry.actor == "bandit"]


# The cheap cable is taken twice as often; the upgrade earns 4x as much per impression.
REVENUE_ARMS = {"none": (300, 0, 0.0), "cheap": (300, 90, 5.0), "premium": (300, 45, 40.0)}


def test_a_revenue_bandit_favours_the_higher_value_per_impression_not_the_most_taken(
    client, api_keys, apply_yaml, sessions, clock
):
    apply_yaml(bandit_yaml("by-revenue", "burn_in_units: 50\nmin_share: 0.05\n"))
    apply_yaml(
        bandit_yaml("by-taking", "burn_in_units: 50\nmin_share: 0.05\n", objective="conversion")
    )
    send_arms(client, api_keys, "by-revenue", REVENUE_ARMS)
    send_arms(client, api_keys, "by-taking", REVENUE_ARMS)

    updates = {u.experiment: u for u in update(sessions, clock)}

    by_revenue, by_taking = updates["by-revenue"].weights, updates["by-taking"].weights
    assert by_revenue["premium"] > 0.85
    assert by_revenue["cheap"] == pytest.approx(0.05, abs=0.01)
    assert by_taking["cheap"] > 0.85
    assert updates["by-revenue"].phase == "winner"
    assert sum(by_revenue.values()) == pytest.approx(1.0, abs=1e-9)


def test_margin_scales_offer_values_by_each_offer_margin(
    client, api_keys, apply_yaml, sessions, clock
):
    # Margins 0.5 on the cable and 0.1 on the upgrade: 0.3 x 2.5 = 0.75 beats 0.15 x 4 = 0.6.
    arms = {"none": (400, 0, 0.0), "cheap": (400, 120, 5.0), "premium": (400, 60, 40.0)}
    apply_yaml(bandit_yaml("by-margin", "burn_in_units: 50\n", objective="margin"))
    send_arms(client, api_keys, "by-margin", arms)

    (result,) = update(sessions, clock)

    assert result.weights["cheap"] > result.weights["premium"]


def test_order_value_counts_units_with_an_order_and_their_revenue(
    client, api_keys, apply_yaml, sessions
):
    from offerlab.domain.bandits import ArmStats
    from offerlab.services.bandits import arm_stats
    from offerlab.storage import experiments as store
    from offerlab.storage.aggregates import ordering_units, variant_totals
    from offerlab.storage.db import session_scope

    apply_yaml(bandit_yaml("by-order", "burn_in_units: 5\n", objective="revenue"))
    send_arms(client, api_keys, "by-order", {"none": (10, 0, 0.0), "cheap": (10, 3, 5.0)})
    send(client, api_keys, order_events("by-order", "none", [100.0, 60.0]))
    send(client, api_keys, order_events("by-order", "cheap", [80.0, 20.0, 30.0, 50.0]))

    with session_scope(sessions) as session:
        row = store.find_experiment_row(session, "by-order")
        totals = variant_totals(session, row.id, attribution_window_hours=168)
        ordering = ordering_units(session, row.id, attribution_window_hours=168)
        stats = arm_stats(store.to_domain(row), totals, ordering)

    assert stats == [
        ArmStats("none", 10, 2, 160.0, 100.0**2 + 60.0**2),
        ArmStats("cheap", 10, 4, 180.0, 80.0**2 + 20.0**2 + 30.0**2 + 50.0**2),
        ArmStats("premium", 0, 0, 0.0, 0.0),
    ]


def test_burn_in_keeps_the_even_split_until_every_arm_has_its_units(
    client, api_keys, apply_yaml, sessions, clock
):
    apply_yaml(bandit_yaml("burn", "burn_in_units: 100\nmin_share: 0.05\n"))
    send_arms(client, api_keys, "burn", {"none": (99, 0, 0.0), "cheap": (100, 60, 5.0)})
    send_arms(client, api_keys, "burn", {"premium": (100, 30, 40.0)})

    (during,) = update(sessions, clock)
    assert during.phase == "burn_in"
    assert list(during.weights.values()) == pytest.approx([1 / 3] * 3, abs=1e-12)

    send(client, api_keys, arm_events("burn", "none", 100, 0, 0.0)[-1:])
    (after,) = update(sessions, clock)
    assert after.phase != "burn_in"
    assert after.weights["premium"] > 0.8


def test_floors_holdout_and_cap_hold_on_every_served_epoch(
    client, api_keys, apply_yaml, sessions, clock
):
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    settings = "burn_in_units: 20\nmin_share: 0.1\nholdout_share: 0.2\nmax_weight_change: 0.1\n"
    apply_yaml(bandit_yaml("bounded", settings))
    send_arms(client, api_keys, "bounded", REVENUE_ARMS)

    for seed in range(4):
        update(sessions, clock, seed=seed)

    with session_scope(sessions) as session:
        history = store.allocation_history(session, store.find_experiment_id(session, "bounded"))
    served = [[epoch.weights[v] for v in VARIANTS] for epoch in history]
    assert served[0] == pytest.approx([0.34, 0.33, 0.33])  # the definition's weights
    # The cap applies from the previous weights given the holdout: 0.2 and 0.8 split 1:1.
    previous = [[0.2, 0.4, 0.4], *served[1:-1]]
    for before, after in zip(previous, served[1:], strict=True):
        assert sum(after) == pytest.approx(1.0, abs=1e-9)
        assert min(after) >= 0.1 - 1e-9
        assert after[0] == pytest.approx(0.2, abs=1e-9)
        assert max(abs(a - b) for a, b in zip(after, before, strict=True)) <= 0.1 + 1e-9
    premium = [weights[2] for weights in served[1:]]
    # Up 0.1 a step to the premium's ceiling 1 - 0.2 (holdout) - 0.1 (the cable's floor).
    assert premium == pytest.approx([0.5, 0.6, 0.7, 0.7], abs=1e-6)


def test_auto_rollout_serves_the_winner_with_the_holdout_and_audits_once(
    client, api_keys, apply_yaml, sessions, clock
):
    from offerlab_sdk.evaluate import evaluate
    from offerlab_sdk.snapshot import parse_snapshot

    settings = (
        "burn_in_units: 50\nholdout_share: 0.1\nauto_rollout: true\n"
        "chance_to_be_best_threshold: 0.9\nexpected_loss_threshold: 0.05\n"
    )
    apply_yaml(bandit_yaml("rollout", settings))
    send_arms(client, api_keys, "rollout", REVENUE_ARMS)

    (rolled,) = update(sessions, clock)
    assert rolled.winner == "premium"
    assert rolled.weights == {"none": 0.1, "cheap": 0.0, "premium": 0.9}
    assert update(sessions, clock, seed=2) == []  # the rollout epoch stays in force

    entries = audit_actions(sessions, "rollout")
    assert [action for action, _ in entries] == ["rollout"]
    evidence = entries[0][1]
    assert evidence["winner"] == "premium"
    assert evidence["chance_to_be_best"]["premium"] >= 0.9
    assert evidence["expected_loss"]["premium"] <= 0.05
    assert evidence["units"] == {"none": 300, "cheap": 300, "premium": 300}

    app_snapshot = client.get("/api/v1/snapshot", headers=auth(api_keys["sdk"])).get_json()
    experiment = parse_snapshot(app_snapshot).experiment_by_key["rollout"]
    served = [evaluate(experiment, f"shopper-{n}").variant for n in range(4000)]
    assert set(served) == {"none", "premium"}
    # Binomial(4000, 0.1): sd 0.0047, so 0.03 is more than 6 sd.
    assert served.count("none") / len(served) == pytest.approx(0.1, abs=0.03)


def test_without_auto_rollout_the_winner_is_recommended_once_and_learning_goes_on(
    client, api_keys, apply_yaml, sessions, clock
):
    settings = "burn_in_units: 50\nchance_to_be_best_threshold: 0.9\n"
    apply_yaml(bandit_yaml("recommend", settings + "expected_loss_threshold: 0.05\n"))
    send_arms(client, api_keys, "recommend", REVENUE_ARMS)

    first = update(sessions, clock)
    second = update(sessions, clock, seed=2)

    assert [u.winner for u in first + second] == ["premium", "premium"]
    assert min(second[0].weights.values()) >= 0.05 - 1e-9  # the floor still holds
    entries = audit_actions(sessions, "recommend")
    assert [action for action, _ in entries] == ["winner_recommended"]
    assert entries[0][1]["winner"] == "premium"


@pytest.mark.parametrize("policy", ["epsilon_greedy", "ucb1"])
def test_epsilon_greedy_and_ucb1_run_through_the_service(
    client, api_keys, apply_yaml, sessions, clock, policy
):
    settings = "burn_in_units: 50\nepsilon: 0.3\n" if policy == "epsilon_greedy" else ""
    apply_yaml(bandit_yaml(f"by-{policy}", settings or "burn_in_units: 50\n", allocation=policy))
    send_arms(client, api_keys, f"by-{policy}", REVENUE_ARMS)

    (result,) = update(sessions, clock)

    weights = result.weights
    assert max(weights, key=weights.__getitem__) == "premium"
    if policy == "epsilon_greedy":
        # 0.7 to the greedy arm plus 0.3 split evenly over three arms.
        assert weights == pytest.approx({"none": 0.1, "cheap": 0.1, "premium": 0.8}, abs=1e-9)


def test_bandit_settings_survive_the_database(apply_yaml, sessions):
    from offerlab.domain.model import AllocationKind, BanditSettings, Objective
    from offerlab.storage import experiments as store
    from offerlab.storage.db import session_scope

    settings = (
        "min_share: 0.1\nburn_in_units: 7\nholdout_share: 0.2\nmax_weight_change: 0.15\n"
        "epsilon: 0.2\nepsilon_decay: 3.0\nchance_to_be_best_threshold: 0.99\n"
        "expected_loss_threshold: 0.002\nauto_rollout: true\n"
    )
    apply_yaml(bandit_yaml("stored", settings, allocation="epsilon_greedy", objective="margin"))

    with session_scope(sessions) as session:
        experiment = store.to_domain(store.find_experiment_row(session, "stored"))

    assert experiment.allocation is AllocationKind.EPSILON_GREEDY
    assert experiment.objective is Objective.MARGIN
    assert experiment.bandit == BanditSettings(
        update_interval_seconds=60,
        min_share=0.1,
        burn_in_units=7,
        holdout_share=0.2,
        max_weight_change=0.15,
        epsilon=0.2,
        epsilon_decay=3.0,
        chance_to_be_best_threshold=0.99,
        expected_loss_threshold=0.002,
        auto_rollout=True,
    )
    assert experiment.variant("premium").payload["margin"] == 0.1


@pytest.mark.parametrize(
    ("bandit", "objective", "expected"),
    [
        (
            "holdout_share: 0.05\nmin_share: 0.1\n",
            "conversion",
            ":23: bandit.holdout_share: must be 0",
        ),
        (
            "holdout_share: 0.9\nmin_share: 0.1\n",
            "conversion",
            ":23: bandit.holdout_share: leaves 0.1",
        ),
        ("epsilon: 1.5\n", "conversion", ":23: bandit.epsilon:"),
        ("auto_rollout: yes please\n", "conversion", ":23: bandit.auto_rollout:"),
        ("burn_in_units: 5\n", "margin", ":16: variants[1].offer.margin: is required"),
    ],
)
def test_invalid_bandit_settings_are_reported_with_file_and_line(
    tmp_path: Path, bandit, objective, expected
):
    from offerlab.definitions import load_definitions

    text = bandit_yaml("bad", bandit, objective=objective)
    if objective == "margin":
        text = text.replace(", margin: 0.5", "")
    (tmp_path / "bad.yaml").write_text(text)

    problems = [str(problem) for problem in load_definitions(tmp_path).problems]

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'bad.yaml'}:")
    assert expected in problems[0]
