"""`offerlab report` in its three formats, and `offerlab status`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

CART = "cart-accessory-cross-sell"
CHECKOUT = "checkout-protection-plan-upsell"


def cart_events() -> list[dict]:
    """A few visitors of the cart experiment: units, acceptances and orders per variant known."""
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    events: list[dict] = []

    def add(kind: str, visitor: str, **fields: object) -> None:
        events.append(
            {"event_id": f"e{len(events)}", "type": kind, "visitor_id": visitor, "timestamp": at}
            | fields
        )

    for visitor, variant in [
        ("n1", "no-offer"),
        ("n2", "no-offer"),
        ("c1", "case"),
        ("c2", "case"),
        ("c3", "case"),
        ("f1", "fast-charger"),
    ]:
        add("impression", visitor, experiment=CART, variant=variant)
    add("acceptance", "c1", experiment=CART, variant="case", value=17.91, currency="EUR")
    add("acceptance", "f1", experiment=CART, variant="fast-charger", value=21.17, currency="EUR")
    add("order", "n1", order_id="o1", value=100.0, currency="EUR")
    add("order", "c1", order_id="o2", value=117.91, currency="EUR")
    add("order", "c2", order_id="o3", value=50.0, currency="EUR")
    return events


EXPECTED = {
    # variant: (units, acceptances, converted units, orders, revenue)
    "no-offer": (2, 0, 0, 1, 100.0),
    "case": (3, 1, 1, 2, 167.91),
    "fast-charger": (1, 1, 1, 0, 0.0),
}


@pytest.fixture
def with_events(applied, database_url, create_key, service_client):  # type: ignore[no-untyped-def]
    """The examples applied, and the cart events above sent through POST /api/v1/events."""
    client = service_client(database_url)
    sdk_key = create_key(database_url, "sdk")
    events = cart_events()
    response = client.post(
        "/api/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {sdk_key}"}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["accepted"] == len(events)
    return applied


def test_report_json_has_the_experiment_its_variants_and_the_allocation_history(with_events):
    result = with_events("report", CART, "--format", "json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"experiment", "variants", "allocation_history"} <= set(report)
    assert report["experiment"]["key"] == CART
    assert report["experiment"]["status"] == "running"
    variants = {v["variant"]: v for v in report["variants"] if v["units"]}
    assert set(variants) == set(EXPECTED)
    for key, (units, acceptances, converted, orders, revenue) in EXPECTED.items():
        variant = variants[key]
        assert variant["units"] == units
        assert variant["acceptances"] == acceptances
        assert variant["converted_units"] == converted
        assert variant["conversion_rate"] == pytest.approx(converted / units)
        assert variant["orders"] == orders
        assert variant["revenue"] == pytest.approx(revenue)
    assert variants["no-offer"]["is_control"] is True
    assert variants["case"]["is_control"] is False
    assert [epoch["version"] for epoch in report["allocation_history"]] == [1]
    assert report["allocation_history"][0]["weights"] == {
        "no-offer": 0.25,
        "case": 0.25,
        "screen-protector": 0.25,
        "fast-charger": 0.25,
    }


def test_report_csv_has_one_row_per_variant_with_its_counts(with_events):
    result = with_events("report", CART, "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    by_variant = {row["variant"]: row for row in rows}
    assert set(EXPECTED) <= set(by_variant)
    for key, (units, acceptances, _converted, orders, _revenue) in EXPECTED.items():
        row = by_variant[key]
        assert int(row["units"]) == units
        assert int(row["acceptances"]) == acceptances
        assert int(row["orders"]) == orders
    assert float(by_variant["case"]["conversion_rate"]) == pytest.approx(1 / 3)
    assert {"conversion_uplift", "conversion_p_value", "conversion_significant"} <= set(rows[0])
    assert by_variant["no-offer"]["conversion_p_value"] == ""  # the control compares to nothing


def test_report_table_names_the_experiment_and_lists_each_variant(with_events):
    result = with_events("report", CART)

    assert result.exit_code == 0, result.output
    title, header, *rows = result.stdout.splitlines()
    assert title.startswith(f"Accessory next to a new phone in the cart ({CART}) - running, cart")
    assert header.split()[:3] == ["variant", "units", "accepted"]
    cells = {row.split()[0]: row.split() for row in rows}
    assert cells["no-offer"][1] == "(control)"
    assert cells["no-offer"][2] == "2"
    assert cells["case"][1:4] == ["3", "1", "33.33%"]
    assert cells["fast-charger"][1:4] == ["1", "1", "100.00%"]


def test_report_of_an_empty_experiment_prints_zero_units(applied):
    result = applied("report", CHECKOUT, "--format", "json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(v["variant"], v["units"], v["orders"]) for v in report["variants"]] == [
        ("price-49", 0, 0),
        ("price-39", 0, 0),
        ("price-29", 0, 0),
    ]


def test_report_of_an_unknown_key_fails_with_a_clear_message(applied):
    for output_format in ("table", "json", "csv"):
        result = applied("report", "no-such-experiment", "--format", output_format)

        assert result.exit_code != 0
        assert result.stdout == ""
        assert result.stderr == "Error: experiment 'no-such-experiment' does not exist\n"


def test_status_paused_is_visible_in_the_report(applied):
    result = applied("status", CHECKOUT, "paused")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{CHECKOUT}: paused\n"
    report = json.loads(applied("report", CHECKOUT, "--format", "json").stdout)
    assert report["experiment"]["status"] == "paused"
    other = json.loads(applied("report", CART, "--format", "json").stdout)
    assert other["experiment"]["status"] == "running"


def test_status_of_an_unknown_key_fails(applied):
    result = applied("status", "no-such-experiment", "paused")

    assert result.exit_code != 0
    assert "experiment 'no-such-experiment' does not exist" in result.stderr


def test_status_rejects_an_unknown_status_before_touching_the_database(applied):
    result = applied("status", CHECKOUT, "finished")

    assert result.exit_code == 2
    assert "'finished' is not one of" in result.stderr


def test_a_stopped_experiment_cannot_run_again(applied):
    assert applied("status", CHECKOUT, "stopped").exit_code == 0

    result = applied("status", CHECKOUT, "running")

    assert result.exit_code != 0
    assert "stopped experiment cannot run again" in result.stderr
    report = json.loads(applied("report", CHECKOUT, "--format", "json").stdout)
    assert report["experiment"]["status"] == "stopped"
