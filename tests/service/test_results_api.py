"""Results through the whole path (events API -> SQL aggregation -> analysis engine) against
statsmodels, scipy and a numpy delta method computed in the test from the raw simulated data
(tolerance 1e-9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from servicefixtures import auth
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

CHECKOUT = "checkout-protection-plan-upsell"
TRUE_RATES = {"price-49": 0.10, "price-39": 0.12, "price-29": 0.20}
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def simulate(rng: np.random.Generator, units_per_variant: int) -> tuple[list[dict], dict]:
    """Raw events plus, per variant, the raw per-unit arrays the reference statistics need."""
    events: list[dict] = []
    raw: dict[str, dict[str, list[float]]] = {}
    for variant, rate in TRUE_RATES.items():
        arrays = raw.setdefault(
            variant,
            {
                "converted": [],
                "revenue": [],
                "orders": [],
                "order_count": [],
                "acceptance_value": [],
            },
        )
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
            arrays["acceptance_value"].append(29.0 if converted else 0.0)
            arrays["order_count"].append(float(len(order_values)))
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
        assert variant["revenue_per_unit"] == pytest.approx(np.mean(arrays["revenue"]), rel=1e-12)
        assert variant["orders_per_unit"] == pytest.approx(
            np.mean(arrays["order_count"]), rel=1e-12
        )


def raw_p_values(raw: dict) -> dict[tuple[str, str], float]:
    """Every (variant, metric) p-value, computed here from the raw per-unit data."""
    control = raw["price-49"]
    p_values = {}
    for variant in ("price-39", "price-29"):
        treated = raw[variant]
        count = [sum(treated["converted"]), sum(control["converted"])]
        nobs = [len(treated["converted"]), len(control["converted"])]
        p_values[variant, "conversion"] = proportions_ztest(count, nobs)[1]
        for metric, array in WELCH_METRICS.items():
            p_values[variant, metric] = stats.ttest_ind(
                treated[array], control[array], equal_var=False
            ).pvalue
        p_values[variant, "average_order_value"] = delta_method_aov(control, treated)[2]
    return p_values


WELCH_METRICS = {
    "revenue_per_unit": "revenue",
    "orders_per_unit": "order_count",
    "acceptance_value_per_unit": "acceptance_value",
}


def delta_method_aov(control: dict, treated: dict) -> tuple[float, float, float]:
    """Difference of average order values, its delta-method variance and two-sided p-value,
    from per-visitor revenue and order counts (Deng et al. 2018), with numpy covariances."""

    def ratio_and_variance(arm: dict) -> tuple[float, float]:
        y, x = np.array(arm["revenue"]), np.array(arm["order_count"])
        cov = np.cov(y, x, ddof=1)
        ratio = y.mean() / x.mean()
        variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / x.mean() ** 2
        return ratio, variance / len(y)

    rc, vc = ratio_and_variance(control)
    rt, vt = ratio_and_variance(treated)
    difference = rt - rc
    return difference, vc + vt, 2 * stats.norm.sf(abs(difference) / np.sqrt(vc + vt))


def test_every_p_value_and_its_holm_adjustment_match_the_references(results):
    variants, raw = results
    references = raw_p_values(raw)
    adjusted = dict(
        zip(references, multipletests(list(references.values()), method="holm")[1], strict=True)
    )
    for (variant, metric), p_value in references.items():
        comparison = variants[variant]["comparisons"][metric]
        assert comparison["p_value"] == pytest.approx(p_value, rel=1e-9, abs=1e-12), metric
        assert comparison["adjusted_p_value"] == pytest.approx(
            adjusted[variant, metric], rel=1e-9, abs=1e-12
        )
        assert comparison["significant"] == (adjusted[variant, metric] < 0.05)


@pytest.mark.parametrize("variant", ["price-39", "price-29"])
def test_conversion_interval_matches_statsmodels_at_the_level_shown(results, variant):
    variants, raw = results
    control, treated = raw["price-49"]["converted"], raw[variant]["converted"]
    comparison = variants[variant]["comparisons"]["conversion"]
    low, high = confint_proportions_2indep(
        sum(treated),
        len(treated),
        sum(control),
        len(control),
        compare="diff",
        method="wald",
        alpha=1 - comparison["interval_level"],
    )
    assert comparison["absolute_ci"]["low"] == pytest.approx(low, rel=1e-9)
    assert comparison["absolute_ci"]["high"] == pytest.approx(high, rel=1e-9)
    excludes_zero = low > 0 or high < 0
    assert excludes_zero == comparison["significant"]


@pytest.mark.parametrize("metric", sorted(WELCH_METRICS))
@pytest.mark.parametrize("variant", ["price-39", "price-29"])
def test_per_visitor_means_match_scipy_welch(results, variant, metric):
    variants, raw = results
    array = WELCH_METRICS[metric]
    treated, control = np.array(raw[variant][array]), np.array(raw["price-49"][array])
    reference = stats.ttest_ind(treated, control, equal_var=False)
    comparison = variants[variant]["comparisons"][metric]
    interval = reference.confidence_interval(comparison["interval_level"])
    assert comparison["absolute_ci"]["low"] == pytest.approx(interval.low, rel=1e-9)
    assert comparison["absolute_ci"]["high"] == pytest.approx(interval.high, rel=1e-9)
    assert comparison["absolute_uplift"] == pytest.approx(treated.mean() - control.mean(), rel=1e-9)


@pytest.mark.parametrize("variant", ["price-39", "price-29"])
def test_average_order_value_uses_the_delta_method_over_visitors(results, variant):
    variants, raw = results
    difference, variance, _ = delta_method_aov(raw["price-49"], raw[variant])
    comparison = variants[variant]["comparisons"]["average_order_value"]
    half_width = stats.norm.isf((1 - comparison["interval_level"]) / 2) * np.sqrt(variance)
    assert comparison["absolute_uplift"] == pytest.approx(difference, rel=1e-9)
    assert comparison["absolute_ci"]["low"] == pytest.approx(difference - half_width, rel=1e-9)
    assert comparison["absolute_ci"]["high"] == pytest.approx(difference + half_width, rel=1e-9)


def test_placements_summarise_their_experiments(client, results, api_keys):
    body = client.get("/api/v1/placements", headers=auth(api_keys["viewer"])).get_json()
    by_placement = {p["placement"]: p for p in body["placements"]}
    assert set(by_placement) == {"product_page", "cart", "checkout"}
    checkout = by_placement["checkout"]["experiments"][0]
    assert checkout["key"] == CHECKOUT
    assert checkout["units"] == 1200
    assert checkout["offer_kind"] == "upsell"
