"""Report fixtures built from the real domain dataclasses, a fake report source and a Flask app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from offerlab.domain.model import (
    AllocationKind,
    Experiment,
    ExperimentStatus,
    Objective,
    OfferKind,
    Variant,
)
from offerlab.domain.reports import (
    AllocationEpoch,
    Comparison,
    ExperimentReport,
    ExperimentSummary,
    Interval,
    PlacementReport,
    ResultError,
    VariantResult,
)
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab_dashboards import init_app

HOSTILE = "<script>alert(1)</script>"
QUOTES = '"quotes" & ampersands'
GENERATED_AT = datetime(2025, 3, 1, 14, 5, tzinfo=UTC)


def make_totals(
    variant: str, *, units: int, converted: int, orders: int, revenue: float
) -> VariantTotals:
    """Totals with one acceptance per converted unit and two impressions per unit."""
    return VariantTotals(
        variant=variant,
        units=units,
        impressions=2 * units,
        converted_units=converted,
        acceptances=converted,
        acceptance_value_sum=39.0 * converted,
        orders=orders,
        order_value_sum=revenue,
        order_value_sum_sq=revenue * revenue / max(orders, 1),
        revenue_sum_sq=revenue * revenue / max(orders, 1),
        orders_sum_sq=float(orders),
        revenue_orders_sum_prod=revenue,
    )


def warranty_experiment() -> Experiment:
    return Experiment(
        key="checkout-warranty",
        name=f"Warranty price {HOSTILE} {QUOTES}",
        description=f"Which warranty price sells best? {HOSTILE} {QUOTES}",
        placement="checkout",
        offer_kind=OfferKind.UPSELL,
        variants=(
            Variant("control", "No offer", 0.34),
            Variant("w39", "Warranty at 39", 0.33, {"price": 39, "title": "2-year warranty"}),
            Variant("hostile", HOSTILE, 0.33, {"title": HOSTILE, "note": QUOTES}),
        ),
        control="control",
        status=ExperimentStatus.RUNNING,
        alpha=0.05,
    )


def warranty_report() -> ExperimentReport:
    control = VariantResult(
        variant="control",
        name="No offer",
        is_control=True,
        totals=make_totals(
            "control", units=10_000, converted=1_000, orders=1_200, revenue=60_000.0
        ),
        conversion_rate=0.1,
        conversion_ci=Interval(0.0942, 0.1060),
        average_order_value=50.0,
        revenue_per_visitor=6.0,
    )
    better = VariantResult(
        variant="w39",
        name="Warranty at 39",
        is_control=False,
        totals=make_totals("w39", units=10_000, converted=1_180, orders=1_300, revenue=67_600.0),
        conversion_rate=0.118,
        conversion_ci=Interval(0.1118, 0.1245),
        average_order_value=52.0,
        revenue_per_visitor=6.76,
        comparisons={
            "conversion": Comparison(
                "conversion",
                0.1,
                0.118,
                0.018,
                Interval(0.0093, 0.0267),
                0.18,
                Interval(0.0812, 0.2788),
                0.0001,
                True,
            ),
            "average_order_value": Comparison(
                "average_order_value",
                50.0,
                52.0,
                2.0,
                Interval(-0.5, 4.5),
                0.04,
                Interval(-0.01, 0.09),
                0.117,
                False,
            ),
            "revenue_per_visitor": Comparison(
                "revenue_per_visitor",
                6.0,
                6.76,
                0.76,
                Interval(0.2, 1.32),
                0.1267,
                Interval(0.0333, 0.22),
                0.0031,
                True,
            ),
        },
    )
    hostile = VariantResult(
        variant="hostile",
        name=HOSTILE,
        is_control=False,
        totals=make_totals("hostile", units=9_900, converted=940, orders=0, revenue=0.0),
        conversion_rate=0.0949,
        conversion_ci=Interval(0.0893, 0.1008),
        average_order_value=None,
        revenue_per_visitor=0.0,
        comparisons={
            "conversion": Comparison(
                "conversion",
                0.1,
                0.0949,
                -0.0051,
                Interval(-0.0134, 0.0032),
                -0.051,
                Interval(-0.134, 0.032),
                0.2291,
                False,
            ),
            "average_order_value": Comparison(
                "average_order_value", 50.0, None, error=ResultError.NO_ORDERS
            ),
        },
    )
    return ExperimentReport(
        experiment=warranty_experiment(),
        variants=(better, control, hostile),
        allocation_history=(),
        generated_at=GENERATED_AT,
    )


def bundle_report() -> ExperimentReport:
    experiment = Experiment(
        key="cart-console-bundle",
        name="Console bundle",
        placement="cart",
        offer_kind=OfferKind.CROSS_SELL,
        variants=(
            Variant("control", "Controller only", 0.5),
            Variant("bundle", "Controller + case", 0.5, {"items": ["controller", "case"]}),
        ),
        control="control",
        status=ExperimentStatus.RUNNING,
        allocation=AllocationKind.THOMPSON,
        objective=Objective.REVENUE,
    )
    control = VariantResult(
        "control",
        "Controller only",
        True,
        make_totals("control", units=800, converted=80, orders=90, revenue=4_500.0),
        0.1,
        Interval(0.081, 0.122),
        50.0,
        5.625,
    )
    bundle = VariantResult(
        "bundle",
        "Controller + case",
        False,
        make_totals("bundle", units=2_400, converted=300, orders=330, revenue=16_000.0),
        0.125,
        Interval(0.112, 0.139),
        48.48,
        6.67,
        comparisons={
            "revenue_per_visitor": Comparison(
                "revenue_per_visitor",
                5.625,
                6.67,
                1.04,
                Interval(-0.1, 2.2),
                0.185,
                Interval(-0.02, 0.39),
                0.072,
                False,
            ),
        },
    )
    history = (
        AllocationEpoch(1, datetime(2025, 3, 1, 8, 0), {"control": 0.5, "bundle": 0.5}),
        AllocationEpoch(3, datetime(2025, 3, 1, 12, 0), {"control": 0.2, "bundle": 0.8}),
        AllocationEpoch(2, datetime(2025, 3, 1, 10, 0), {"control": 0.35, "bundle": 0.65}),
    )
    return ExperimentReport(experiment, (control, bundle), history, datetime(2025, 3, 1, 13, 0))


def placement_reports() -> tuple[PlacementReport, ...]:
    return (
        PlacementReport(
            "checkout",
            (
                ExperimentSummary(
                    "checkout-warranty",
                    f"Warranty price {HOSTILE} {QUOTES}",
                    "upsell",
                    "running",
                    29_900,
                    3_120,
                    0.1043,
                    127_600.0,
                    "w39",
                    True,
                ),
            ),
        ),
        PlacementReport(
            "cart",
            (
                ExperimentSummary(
                    "cart-console-bundle",
                    "Console bundle",
                    "cross_sell",
                    "running",
                    3_200,
                    380,
                    0.11875,
                    20_500.0,
                    "bundle",
                    False,
                ),
                ExperimentSummary(
                    "cart-free-shipping",
                    "Free shipping nudge",
                    "upsell",
                    "draft",
                    0,
                    0,
                    None,
                    0.0,
                    None,
                    False,
                ),
            ),
        ),
    )


@dataclass
class FakeSource:
    """In-memory ReportSource; records the keys it was asked for."""

    placements: Sequence[PlacementReport] = ()
    experiments: dict[str, ExperimentReport] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def placement_reports(self) -> Sequence[PlacementReport]:
        return self.placements

    def experiment_report(self, key: str) -> ExperimentReport | None:
        self.asked.append(key)
        return self.experiments.get(key)


@pytest.fixture
def warranty() -> ExperimentReport:
    return warranty_report()


@pytest.fixture
def bundle() -> ExperimentReport:
    return bundle_report()


@pytest.fixture
def source(warranty: ExperimentReport, bundle: ExperimentReport) -> FakeSource:
    return FakeSource(
        placements=placement_reports(),
        experiments={warranty.experiment.key: warranty, bundle.experiment.key: bundle},
    )


@pytest.fixture
def app(source: FakeSource) -> Flask:
    app = Flask(__name__)
    app.config["TESTING"] = True
    init_app(app, source)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
