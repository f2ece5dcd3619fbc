"""Results through the whole path (events API -> SQL aggregation -> statistics) against
statsmodels and scipy computed in the test from the raw simulated data (tolerance 1e-9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from servicefixtures import auth
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

CHECKOUT = "checkout-protection-plan-upsell"
TRUE_RATES = {"price-49": 0.10, "price-39": 0.12, "price-29": 0.20}
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def simulate(rng: np.random.Generator, units_per_variant: int) -> tuple[list[dict], dict]:
    """Raw events plus, per variant, the raw per-unit arrays the reference statistics need."""
    events: list[dict] = []
    raw: dict[str, dict[str, list[float]]] = {}
    for variant, rate in TRUE_RATES.items():
        arrays = raw.setdefault(variant, {"converted": [], "revenue": [], "orders": []})
        for n in range(units_per_variant):
            visitor = f"{variant}-{n}"
            seen = START + timedelta(minutes=n)
            events.append(_event(f"i-{visitor}", "impression", visitor, seen, variant=variant))
            converted = rng.random() < rate
            if converted:
                events.append(
                    _event(f"a-{visitor}", "acceptance", visitor, seen, variant=variant, value=29.0)
                )
            order_values = [float(v) for v in rng.lognormal(4.5, 0.5, size=rng.poisson(0.6))]
            for k, value in enumerate(order_values):
                events.append(
                    _event(
                        f"o-{visitor}-{k}",
                        "order",
                        visitor,
                        seen + timedelta(hours=1 + k),
                        value=round(value, 2),
                        order_id=f"order-{visitor}-{k}",
                    )
                )
            arrays["converted"].append(float(converted))
            arrays["revenue"].append(sum(round(v, 2) for v in order_values))
            arrays["orders"].extend(round(v, 2) for v in order_values)
    return events, raw


def _event(event_id, kind, visitor, when, *, variant=None, **fields):  # type: ignore[no-untyped-def]
    body = {
        "event_id": event_id,
        "type": kind,
        "visitor_id": visitor,
        "timestamp": when.isoformat(),
        **fields,
    }
    if variant:
        body.update(experiment=CHECKOUT, variant=variant)
    return body


@pytest.fixture
def results(client, applied, api_keys):  # type: ignore[no-untyped-def]
    events, raw = simulate(np.random.default_rng(2026), units_per_variant=400)
    for start in range(0, len(events), 500):
        response = client.post(
            "/api/v1/events",
            json={"events": events[start : start + 500]},
            headers=auth(api_keys["sdk"]),
        )
        assert response.status_code == 200
        assert response.get_json()["rejected"] == []
    body = client.get(
        f"/api/v1/experiments/{CHECKOUT}/results", headers=auth(api_keys["viewer"])
    ).get_json()
    return {v["variant"]: v for v in body["variants"]}, raw


def test_counts_and_means_match_the_raw_data(results):
    variants, raw = results
    for key, arrays in raw.items():
        variant = variants[key]
        assert variant["units"] == len(arrays["converted"])
        assert variant["converted_units"] == sum(arrays["converted"])
        assert variant["orders"] == len(arrays["orders"])
        assert variant["revenue"] == pytest.approx(sum(arrays["revenue"]), rel=1e-12)
        assert variant["average_order_value"] == pytest.approx(np.mean(arrays["orders"]), rel=1e-12)
        assert variant["revenue_per_visitor"] == pytest.approx(
            np.mean(arrays["revenue"]), rel=1e-12
        )


@pytest.mark.parametrize("variant", ["price-39", "price-29"])
def test_conversion_uplift_matches_statsmodels(results, variant):
    variants, raw = results
    control, treated = raw["price-49"]["converted"], raw[variant]["converted"]
    count = [sum(treated), sum(control)]
    nobs = [len(treated), len(control)]
    _z, p_value = proportions_ztest(count, nobs)
    low, high = confint_proportions_2indep(
        count[0], nobs[0], count[1], nobs[1], compare="diff", method="wald"
    )
    comparison = variants[variant]["comparisons"]["conversion"]
    assert comparison["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-12)
    assert comparison["absolute_ci"]["low"] == pytest.approx(low, rel=1e-9)
    assert comparison["absolute_ci"]["high"] == pytest.approx(high, rel=1e-9)
    assert comparison["significant"] == (p_value < 0.05)


@pytest.mark.parametrize(
    ("metric", "array"), [("average_order_value", "orders"), ("revenue_per_visitor", "revenue")]
)
@pytest.mark.parametrize("variant", ["price-39", "price-29"])
def test_value_uplifts_match_scipy_welch(results, variant, metric, array):
    variants, raw = results
    treated, control = np.array(raw[variant][array]), np.array(raw["price-49"][array])
    reference = stats.ttest_ind(treated, control, equal_var=False)
    comparison = variants[variant]["comparisons"][metric]
    assert comparison["p_value"] == pytest.approx(reference.pvalue, rel=1e-9)
    interval = reference.confidence_interval(0.95)
    assert comparison["absolute_ci"]["low"] == pytest.approx(interval.low, rel=1e-9)
    assert comparison["absolute_ci"]["high"] == pytest.approx(interval.high, rel=1e-9)
    assert comparison["absolute_uplift"] == pytest.approx(treated.mean() - control.mean(), rel=1e-9)


def test_placements_summarise_their_experiments(client, results, api_keys):
    body = client.get("/api/v1/placements", headers=auth(api_keys["viewer"])).get_json()
    by_placement = {p["placement"]: p for p in body["placements"]}
    assert set(by_placement) == {"product_page", "cart", "checkout"}
    checkout = by_placement["checkout"]["experiments"][0]
    assert checkout["key"] == CHECKOUT
    assert checkout["units"] == 1200
    assert checkout["offer_kind"] == "upsell"
