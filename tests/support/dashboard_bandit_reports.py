"""A three-arm revenue bandit report with its bandit estimates and winner recommendation."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard_reports import HOSTILE, HOSTILE_AUDIT_NOTE, HOSTILE_SEGMENT_VALUE, make_totals

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
    AuditEntry,
    BanditArm,
    BanditResults,
    BanditUplift,
    Comparison,
    EstimateInterval,
    ExperimentReport,
    Interval,
    MeasurementGain,
    VariantResult,
)


def _estimate(value: float, se: float) -> EstimateInterval:
    return EstimateInterval(value, se, Interval(value - 1.96 * se, value + 1.96 * se))


def upgrade_bandit_results() -> BanditResults:
    """Offer revenue per visitor of a three-arm bandit; the upgrade leads by IPW."""
    return BanditResults(
        reward="offer_revenue",
        headline="ipw",
        interval_level=0.95,
        arms=(
            BanditArm("basic", 1_200, _estimate(2.9, 0.2), _estimate(3.0, 0.25), 3.4),
            BanditArm("upgrade", 2_000, _estimate(8.1, 0.4), _estimate(8.0, 0.45), 6.2),
            BanditArm("hostile", 600, None, _estimate(4.1, 0.5), 4.0),
        ),
        best_variant="upgrade",
        uplift=BanditUplift(
            "upgrade", "basic", _estimate(5.2, 0.45), _estimate(5.0, 0.52), 2.8, 0.00001, True
        ),
        epochs_used=(1, 2),
        units_with_served_weight=90,
        units_left_out=10,
        measurement=MeasurementGain(
            learning_units=3_500,
            measurement_units=300,
            gain=Comparison(
                "offer_revenue_per_unit",
                4.0,
                6.1,
                2.1,
                Interval(1.1, 3.1),
                0.525,
                None,
                0.0004,
                True,
            ),
            best_variant="upgrade",
            best_vs_control=Comparison(
                "offer_revenue_per_unit", 2.5, 7.5, 5.0, Interval(2.0, 8.0), 2.0, None, 0.001, True
            ),
        ),
    )


def upgrade_bandit_report(*, audit_log: tuple[AuditEntry, ...] | None = None) -> ExperimentReport:
    """A contextual Thompson bandit on offer revenue with a pending winner recommendation."""
    experiment = Experiment(
        key="cart-upgrade-bandit",
        name="Upgrade or bundle",
        placement="cart",
        offer_kind=OfferKind.UPSELL,
        variants=(
            Variant("basic", "Cable", 0.7),
            Variant("upgrade", "Premium upgrade", 0.15, {"price": 25}),
            Variant("hostile", HOSTILE, 0.15, {"price": 15}),
        ),
        control="basic",
        status=ExperimentStatus.RUNNING,
        allocation=AllocationKind.THOMPSON,
        objective=Objective.OFFER_REVENUE,
    )
    variants = tuple(
        VariantResult(
            key,
            name,
            key == "basic",
            make_totals(key, units=units, converted=units // 5, orders=0, revenue=0.0),
            0.2,
            Interval(0.18, 0.22),
            None,
            0.0,
        )
        for key, name, units in (
            ("basic", "Cable", 1_200),
            ("upgrade", "Premium upgrade", 2_000),
            ("hostile", HOSTILE, 600),
        )
    )
    history = (
        AllocationEpoch(
            1,
            datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
            {"basic": 0.7, "upgrade": 0.15, "hostile": 0.15},
        ),
        AllocationEpoch(
            2,
            datetime(2025, 3, 2, 8, 0, tzinfo=UTC),
            {"basic": 0.15, "upgrade": 0.7, "hostile": 0.15},
            segment_weights={
                "mobile": {"basic": 0.1, "upgrade": 0.8, "hostile": 0.1},
                HOSTILE_SEGMENT_VALUE: {"basic": 0.3, "upgrade": 0.4, "hostile": 0.3},
            },
        ),
    )
    return ExperimentReport(
        experiment,
        variants,
        history,
        datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        audit_log=recommendation_log() if audit_log is None else audit_log,
        bandit=upgrade_bandit_results(),
    )


def recommendation_log() -> tuple[AuditEntry, ...]:
    return (
        AuditEntry(
            datetime(2025, 3, 2, 20, 0, tzinfo=UTC),
            "winner_recommended",
            "bandit",
            {
                "winner": "upgrade",
                "objective": "offer_revenue",
                "allocation_version": 3,
                "chance_to_be_best": {"basic": 0.0, "upgrade": 0.981, "hostile": 0.019},
                "expected_loss": {"basic": 0.5, "upgrade": 0.0021, "hostile": 0.3},
                "units": {"basic": 1_200, "upgrade": 2_000, "hostile": 600},
                "weights": {"basic": 0.1, "upgrade": 0.8, "hostile": 0.1},
                "reasons": [HOSTILE_AUDIT_NOTE],
            },
        ),
    )
