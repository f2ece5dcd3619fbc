"""Dashboard report builders from the real domain dataclasses: a fixed-split warranty test, a
bundle bandit with a sample-ratio alarm and the placement overview (hostile strings included)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from offerlab.domain.model import (
    AllocationKind,
    AnalysisSettings,
    Experiment,
    ExperimentStatus,
    Objective,
    OfferKind,
    Variant,
)
from offerlab.domain.reports import (
    AllocationEpoch,
    AnalysisSettingsUsed,
    AuditEntry,
    CappingSummary,
    Comparison,
    ComparisonDetail,
    DailyResult,
    EpochRatio,
    ExperimentReport,
    ExperimentSummary,
    GuardrailStatus,
    Interval,
    PlacementReport,
    PowerProgress,
    ResultError,
    SampleRatioStatus,
    SegmentResult,
    VarianceReduction,
    VariantResult,
)
from offerlab.domain.stats.sufficient import VariantTotals

HOSTILE = "<script>alert(1)</script>"
QUOTES = '"quotes" & ampersands'
HOSTILE_ATTRIBUTE = '<b onmouseover="x">plan</b>'
HOSTILE_SEGMENT_VALUE = "<img src=x onerror=alert(2)>"
HOSTILE_AUDIT_NOTE = "<iframe src=javascript:alert(3)></iframe> & more"
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
        analysis=AnalysisSettings(segments=("device", "returning")),
    )


def _detail(
    adjusted: float | None, level: float, chance: float | None, loss: float | None = None
) -> ComparisonDetail:
    return ComparisonDetail(
        adjusted_p_value=adjusted,
        interval_level=level,
        chance_to_beat_control=chance,
        expected_loss=loss,
        expected_loss_of_control=None if loss is None else loss * 3,
    )


def warranty_control() -> VariantResult:
    return VariantResult(
        variant="control",
        name="No offer",
        is_control=True,
        totals=make_totals(
            "control", units=10_000, converted=1_000, orders=1_200, revenue=60_000.0
        ),
        conversion_rate=0.1,
        conversion_ci=Interval(0.0942, 0.1060),
        average_order_value=50.0,
        revenue_per_unit=6.0,
        orders_per_unit=0.12,
        acceptance_value_per_unit=3.9,
        refund_rate=0.02,
        chance_to_be_best=0.001,
    )


def warranty_better() -> VariantResult:
    return VariantResult(
        variant="w39",
        name="Warranty at 39",
        is_control=False,
        totals=make_totals("w39", units=10_000, converted=1_180, orders=1_300, revenue=67_600.0),
        conversion_rate=0.118,
        conversion_ci=Interval(0.1118, 0.1245),
        average_order_value=52.0,
        revenue_per_unit=6.76,
        orders_per_unit=0.13,
        acceptance_value_per_unit=4.602,
        refund_rate=0.021,
        chance_to_be_best=0.998,
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
            "revenue_per_unit": Comparison(
                "revenue_per_unit",
                6.0,
                6.76,
                0.76,
                Interval(0.2, 1.32),
                0.1267,
                Interval(0.0333, 0.22),
                0.0031,
                True,
            ),
            "orders_per_unit": Comparison(
                "orders_per_unit",
                0.12,
                0.13,
                0.01,
                Interval(-0.002, 0.022),
                0.0833,
                Interval(-0.0167, 0.1833),
                0.09,
                False,
            ),
        },
        details={
            "conversion": _detail(0.0008, 0.99375, 0.9999, 0.00001),
            "average_order_value": _detail(0.468, 0.95, 0.94),
            "revenue_per_unit": _detail(0.0217, 0.99286, 0.998),
            "orders_per_unit": _detail(0.45, 0.95, 0.955),
        },
    )


def warranty_hostile() -> VariantResult:
    return VariantResult(
        variant="hostile",
        name=HOSTILE,
        is_control=False,
        totals=make_totals("hostile", units=9_900, converted=940, orders=0, revenue=0.0),
        conversion_rate=0.0949,
        conversion_ci=Interval(0.0893, 0.1008),
        average_order_value=None,
        revenue_per_unit=0.0,
        orders_per_unit=0.0,
        refund_rate=None,
        chance_to_be_best=0.001,
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
        details={"conversion": _detail(0.2291, 0.95, 0.11)},
    )


def _daily_comparison(relative: float, low: float, high: float) -> Comparison:
    return Comparison(
        "conversion",
        0.1,
        0.1 * (1 + relative),
        0.1 * relative,
        None,
        relative,
        Interval(low, high),
        0.01,
        False,
    )


def warranty_daily() -> tuple[DailyResult, ...]:
    """Three days; each day's comparisons list w39, then hostile (experiment order)."""
    return (
        DailyResult(
            day=date(2025, 2, 27),
            new_units={"control": 3_000, "w39": 3_100, "hostile": 2_900},
            cumulative_units={"control": 3_000, "w39": 3_100, "hostile": 2_900},
            comparisons=(
                _daily_comparison(0.25, -0.05, 0.55),
                _daily_comparison(-0.02, -0.3, 0.26),
            ),
        ),
        DailyResult(
            day=date(2025, 2, 28),
            new_units={"control": 3_500, "w39": 3_400, "hostile": 3_600},
            cumulative_units={"control": 6_500, "w39": 6_500, "hostile": 6_500},
            comparisons=(
                _daily_comparison(0.2, 0.04, 0.36),
                _daily_comparison(-0.04, -0.2, 0.12),
            ),
        ),
        DailyResult(
            day=date(2025, 3, 1),
            new_units={"control": 3_500, "w39": 3_500, "hostile": 3_400},
            cumulative_units={"control": 10_000, "w39": 10_000, "hostile": 9_900},
            comparisons=(
                _daily_comparison(0.18, 0.0812, 0.2788),
                _daily_comparison(-0.051, -0.134, 0.032),
            ),
        ),
    )


def _segment_variants(share: float) -> tuple[VariantResult, ...]:
    control, better = warranty_control(), warranty_better()
    return tuple(
        dataclasses.replace(
            result,
            totals=dataclasses.replace(result.totals, units=round(result.totals.units * share)),
        )
        for result in (control, better)
    )


def warranty_segments() -> tuple[SegmentResult, ...]:
    return (
        SegmentResult("device", "mobile", 12_000, _segment_variants(0.6)),
        SegmentResult("device", "desktop", 8_000, _segment_variants(0.4)),
        SegmentResult(HOSTILE_ATTRIBUTE, HOSTILE_SEGMENT_VALUE, 500, _segment_variants(0.025)),
    )


def warranty_audit_log() -> tuple[AuditEntry, ...]:
    """Oldest first on purpose: the page must sort newest first itself."""
    violation = {
        "metric": "refund_rate",
        "variant": "hostile",
        "worse_when": "higher",
        "violated": True,
        "relative_change": 0.35,
        "relative_ci": {"low": 0.1, "high": 0.6},
        "p_value": 0.003,
        "error": None,
    }
    return (
        AuditEntry(
            datetime(2025, 2, 28, 9, 0, tzinfo=UTC),
            "status",
            "guardrail-monitor",
            {
                "from": "running",
                "to": "paused",
                "reason": "guardrail violated",
                "units": 13_000,
                "violations": [violation],
            },
        ),
        AuditEntry(
            datetime(2025, 2, 28, 11, 30, tzinfo=UTC),
            "status",
            f"ops {HOSTILE}",
            {"from": "paused", "to": "running", "note": HOSTILE_AUDIT_NOTE},
        ),
    )


def warranty_report() -> ExperimentReport:
    return ExperimentReport(
        experiment=warranty_experiment(),
        variants=(warranty_better(), warranty_control(), warranty_hostile()),
        allocation_history=(),
        generated_at=GENERATED_AT,
        settings=AnalysisSettingsUsed(
            alpha=0.05,
            correction="holm",
            sequential=True,
            interval_rule="holm_compatible",
            significance_rule="adjusted_p_value < alpha",
            comparisons_tested=8,
        ),
        sample_ratio=SampleRatioStatus("overall", 0.62, False, 0.001),
        capping=CappingSummary(
            cap=412.0, percentile=0.99, orders_capped=14, refunds=3, refund_value=120.5
        ),
        guardrails=(
            GuardrailStatus("refund_rate", "w39", "higher", False, 0.05, Interval(-0.2, 0.3), 0.41),
            GuardrailStatus(
                "refund_rate", "hostile", "higher", True, 0.35, Interval(0.1, 0.6), 0.003
            ),
            GuardrailStatus(
                "average_order_value", "hostile", "lower", False, None, None, None, "no_orders"
            ),
        ),
        variance_reduction=VarianceReduction(
            "revenue_per_unit", "spend_30d", True, 0.23, units_with_covariate=18_000
        ),
        power=PowerProgress(
            metric="conversion",
            baseline=0.1,
            minimum_detectable_effect=0.1,
            power=0.8,
            units_needed_per_variant=24_000,
            units_per_variant=9_900,
            progress=9_900 / 24_000,
            days_remaining=11.3,
        ),
        daily=warranty_daily(),
        segments=warranty_segments(),
        audit_log=warranty_audit_log(),
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
            "revenue_per_unit": Comparison(
                "revenue_per_unit",
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
    sample_ratio = SampleRatioStatus(
        "per_epoch",
        0.00002,
        True,
        0.001,
        (EpochRatio(1, 1_000, 0.4, False), EpochRatio(2, 1_200, 0.00002, True)),
    )
    return ExperimentReport(
        experiment,
        (control, bundle),
        history,
        datetime(2025, 3, 1, 13, 0),
        sample_ratio=sample_ratio,
    )


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
                    guardrail_violated=True,
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
                    primary_metric="revenue_per_unit",
                    unhealthy=True,
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
