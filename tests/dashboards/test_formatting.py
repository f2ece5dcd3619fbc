"""Table-driven checks of every text format the dashboards show."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from offerlab.domain.reports import Interval
from offerlab_dashboards import formatting as fmt

DASH = fmt.NO_VALUE


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (7, "7"), (12_345, "12,345"), (1_000_000, "1,000,000"), (None, DASH)],
)
def test_format_count(value: int | None, expected: str) -> None:
    assert fmt.format_count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1234, "12.3%"),
        (0.0, "0.0%"),
        (1.0, "100.0%"),
        (0.00049, "0.0%"),
        (0.1235001, "12.4%"),
        (None, DASH),
        (math.nan, DASH),
        (math.inf, DASH),
    ],
)
def test_format_percent(value: float | None, expected: str) -> None:
    assert fmt.format_percent(value) == expected


def test_format_percent_with_other_precision() -> None:
    assert fmt.format_percent(0.5, decimals=0) == "50%"
    assert fmt.format_percent(0.12345, decimals=2) == "12.35%"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.123, "+12.3%"),
        (-0.041, "-4.1%"),
        (0.0, "+0.0%"),
        (2.5, "+250.0%"),
        (None, DASH),
        (math.nan, DASH),
    ],
)
def test_format_signed_percent(value: float | None, expected: str) -> None:
    assert fmt.format_signed_percent(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (52.0, "52.00"),
        (1234.5, "1,234.50"),
        (0.005, "0.01"),
        (-3.2, "-3.20"),
        (127_600, "127,600.00"),
        (None, DASH),
        (math.inf, DASH),
    ],
)
def test_format_money(value: float | None, expected: str) -> None:
    assert fmt.format_money(value) == expected


@pytest.mark.parametrize(
    ("uplift", "interval", "expected"),
    [
        (0.123, Interval(0.041, 0.205), "+12.3% [+4.1%, +20.5%]"),
        (-0.05, Interval(-0.134, 0.032), "-5.0% [-13.4%, +3.2%]"),
        (0.18, None, "+18.0%"),
        (0.18, Interval(math.nan, 0.2), "+18.0%"),
        (None, Interval(0.0, 0.1), DASH),
    ],
)
def test_format_uplift(uplift: float | None, interval: Interval | None, expected: str) -> None:
    assert fmt.format_uplift(uplift, interval) == expected


def test_format_interval_uses_the_given_number_format() -> None:
    assert fmt.format_interval(Interval(0.094, 0.106), fmt.format_percent) == "[9.4%, 10.6%]"
    assert fmt.format_interval(Interval(1.5, 20.25), fmt.format_money) == "[1.50, 20.25]"
    assert fmt.format_interval(None, fmt.format_money) == DASH


@pytest.mark.parametrize(
    ("p_value", "expected"),
    [
        (0.0, "p < 0.001"),
        (0.0004, "p < 0.001"),
        (0.001, "p = 0.001"),
        (0.0031, "p = 0.003"),
        (0.0125, "p = 0.013"),
        (0.049, "p = 0.049"),
        (0.072, "p = 0.072"),
        (0.42, "p = 0.42"),
        (1.0, "p = 1.00"),
        (None, DASH),
        (math.nan, DASH),
        (-0.1, DASH),
        (1.5, DASH),
    ],
)
def test_format_p_value(p_value: float | None, expected: str) -> None:
    assert fmt.format_p_value(p_value) == expected


@pytest.mark.parametrize(
    ("alpha", "expected"),
    [(0.05, "95%"), (0.1, "90%"), (0.01, "99%"), (0.025, "97.5%"), (0.2, "80%")],
)
def test_format_confidence(alpha: float, expected: str) -> None:
    assert fmt.format_confidence(alpha) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2025, 3, 1, 14, 5, 59, tzinfo=UTC), "2025-03-01 14:05 UTC"),
        (datetime(2025, 3, 1, 14, 5), "2025-03-01 14:05"),
        (
            datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1), "CET")),
            "2025-03-01 09:00 CET",
        ),
    ],
)
def test_format_timestamp(moment: datetime, expected: str) -> None:
    assert fmt.format_timestamp(moment) == expected


@pytest.mark.parametrize(
    ("function", "key", "expected"),
    [
        (fmt.placement_label, "product_page", "Product page"),
        (fmt.placement_label, "post_purchase", "Post-purchase"),
        (fmt.placement_label, "gift_finder", "Gift finder"),
        (fmt.offer_kind_label, "cross_sell", "Cross-sell"),
        (fmt.offer_kind_label, "upsell", "Upsell"),
        (fmt.allocation_label, "fixed", "Fixed split"),
        (fmt.allocation_label, "thompson", "Bandit (Thompson sampling)"),
        (fmt.objective_label, "revenue", "Revenue per visitor"),
        (fmt.objective_label, "conversion", "Offer conversion"),
        (fmt.status_label, "running", "Running"),
    ],
)
def test_labels(function: object, key: str, expected: str) -> None:
    assert function(key) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.2, "+1.20"), (-3.0, "-3.00"), (0.0, "+0.00"), (1234.5, "+1,234.50"), (None, DASH)],
)
def test_format_signed_money(value: float | None, expected: str) -> None:
    assert fmt.format_signed_money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.044, "+4.4 pp"), (-0.0051, "-0.5 pp"), (0.0, "+0.0 pp"), (math.nan, DASH), (None, DASH)],
)
def test_format_signed_points(value: float | None, expected: str) -> None:
    assert fmt.format_signed_points(value) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (99, "99th"),
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (11, "11th"),
        (12, "12th"),
        (22, "22nd"),
        (99.5, "99.5th"),
        (95, "95th"),
        (101, "101st"),
        (113, "113th"),
    ],
)
def test_format_ordinal(number: float, expected: str) -> None:
    assert fmt.format_ordinal(number) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0.2, "1 day"),
        (1.0, "1 day"),
        (11.3, "12 days"),
        (None, DASH),
        (-1.0, DASH),
        (math.inf, DASH),
    ],
)
def test_format_days(days: float | None, expected: str) -> None:
    assert fmt.format_days(days) == expected


@pytest.mark.parametrize(
    ("level", "expected"), [(0.95, "95%"), (0.975, "97.5%"), (0.99375, "99.4%"), (0.9, "90%")]
)
def test_format_level(level: float, expected: str) -> None:
    assert fmt.format_level(level) == expected


@pytest.mark.parametrize(
    ("value", "plain", "signed"),
    [
        (0.1234, "0.123", "+0.123"),
        (-0.02, "-0.020", "-0.020"),
        (None, DASH, DASH),
        (math.nan, DASH, DASH),
    ],
)
def test_format_decimal(value: float | None, plain: str, signed: str) -> None:
    assert fmt.format_decimal(value) == plain
    assert fmt.format_signed_decimal(value) == signed
