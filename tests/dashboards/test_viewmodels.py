"""Report dataclasses become formatted view rows, badges and a plain-language verdict."""

from __future__ import annotations

import dataclasses

import pytest

from offerlab.domain.model import Objective
from offerlab.domain.reports import (
    Comparison,
    ExperimentReport,
    Interval,
    PlacementReport,
    ResultError,
    VariantResult,
)
from offerlab_dashboards.viewmodels import (
    Significance,
    classify_significance,
    comparison_view,
    describe_verdict,
    experiment_view,
    find_comparison,
    placement_views,
)


def _comparison(**changes: object) -> Comparison:
    base = Comparison(
        metric="conversion",
        control_value=0.10,
        variant_value=0.12,
        absolute_uplift=0.02,
        absolute_ci=Interval(0.005, 0.035),
        relative_uplift=0.2,
        relative_ci=Interval(0.05, 0.35),
        p_value=0.004,
        significant=True,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("comparison", "expected"),
    [
        (_comparison(), Significance.BETTER),
        (_comparison(absolute_uplift=-0.02, relative_uplift=-0.2), Significance.WORSE),
        (_comparison(absolute_uplift=None, relative_uplift=-0.2), Significance.WORSE),
        (_comparison(significant=False, p_value=0.3), Significance.NOT_SIGNIFICANT),
        (_comparison(absolute_uplift=0.0, relative_uplift=0.0), Significance.NOT_SIGNIFICANT),
        (_comparison(error=ResultError.NO_UNITS), Significance.NOT_ENOUGH_DATA),
        (_comparison(absolute_uplift=None, relative_uplift=None), Significance.NOT_ENOUGH_DATA),
        (_comparison(significant=False, p_value=None), Significance.NOT_ENOUGH_DATA),
        (_comparison(significant=True, p_value=None), Significance.NOT_ENOUGH_DATA),
        (
            _comparison(relative_uplift=None, relative_ci=None, error=ResultError.CONTROL_ZERO),
            Significance.BETTER,
        ),
        (
            _comparison(
                relative_uplift=None,
                significant=False,
                p_value=0.4,
                error=ResultError.CONTROL_ZERO,
            ),
            Significance.NOT_SIGNIFICANT,
        ),
        (
            _comparison(absolute_uplift=None, relative_uplift=None, error=ResultError.CONTROL_ZERO),
            Significance.NOT_ENOUGH_DATA,
        ),
        (_comparison(error=ResultError.ZERO_VARIANCE), Significance.NOT_ENOUGH_DATA),
        (None, Significance.NOT_ENOUGH_DATA),
    ],
)
def test_classify_significance(comparison: Comparison | None, expected: Significance) -> None:
    assert classify_significance(comparison) is expected


@pytest.mark.parametrize(
    ("badge", "css_class"),
    [
        (Significance.BETTER, "better"),
        (Significance.WORSE, "worse"),
        (Significance.NOT_SIGNIFICANT, "not-significant"),
        (Significance.NOT_ENOUGH_DATA, "not-enough-data"),
    ],
)
def test_significance_css_class(badge: Significance, css_class: str) -> None:
    assert badge.css_class == css_class


def test_find_comparison_falls_back_to_the_metric_field(warranty: ExperimentReport) -> None:
    result = warranty.variants[0]
    renamed = dataclasses.replace(
        result, comparisons={"first": result.comparisons["average_order_value"]}
    )
    assert find_comparison(renamed, "average_order_value") is not None
    assert find_comparison(renamed, "conversion") is None


def test_experiment_view_formats_facts(warranty: ExperimentReport) -> None:
    view = experiment_view(warranty)

    assert view.placement == "Checkout"
    assert view.offer_kind == "Upsell"
    assert view.status == "Running"
    assert view.allocation == "Fixed split"
    assert not view.is_bandit
    assert view.objective == "Offer conversion"
    assert (view.alpha, view.confidence) == ("0.05", "95%")
    assert view.units == "29,900"
    assert view.generated_at == "2025-03-01 14:05 UTC"


def test_experiment_view_puts_control_first_and_formats_rows(warranty: ExperimentReport) -> None:
    control, better, hostile = experiment_view(warranty).variants

    assert (control.key, control.is_control, control.comparisons) == ("control", True, ())
    assert control.significance is None
    assert better.name == "Warranty at 39"
    assert better.payload == '{"price": 39, "title": "2-year warranty"}'
    assert (better.impressions, better.units, better.acceptances) == ("20,000", "10,000", "1,180")
    assert (better.conversion, better.conversion_ci) == ("11.8%", "[11.2%, 12.4%]")
    assert (better.orders, better.average_order_value) == ("1,300", "52.00")
    assert better.revenue_per_visitor == "6.76"
    assert better.significance is Significance.BETTER
    assert hostile.average_order_value == "—"


def test_comparison_rows_cover_conversion_aov_and_revenue(warranty: ExperimentReport) -> None:
    better = experiment_view(warranty).variants[1]
    rows = {row.metric: row for row in better.comparisons}

    assert list(rows) == [
        "conversion",
        "average_order_value",
        "revenue_per_unit",
        "orders_per_unit",
        "acceptance_value_per_unit",
    ]
    conversion = rows["conversion"]
    assert (conversion.control_value, conversion.variant_value) == ("10.0%", "11.8%")
    assert conversion.uplift == "+18.0% [+8.1%, +27.9%] 99.4% CI"
    assert conversion.p_value == "p < 0.001"
    assert conversion.significance is Significance.BETTER
    assert conversion.chance_to_beat_control == "100.0%"
    aov = rows["average_order_value"]
    assert aov.label == "Average order value"
    assert (aov.control_value, aov.variant_value) == ("50.00", "52.00")
    assert (aov.uplift, aov.p_value) == ("+4.0% [-1.0%, +9.0%]", "p = 0.12, adjusted p = 0.47")
    assert aov.significance is Significance.NOT_SIGNIFICANT
    rpv = rows["revenue_per_unit"]
    assert rpv.label == "Revenue per visitor"
    assert rpv.uplift == "+12.7% [+3.3%, +22.0%] 99.3% CI"
    assert rpv.p_value == "p = 0.003, adjusted p = 0.022"
    orders = rows["orders_per_unit"]
    assert (orders.label, orders.control_value, orders.variant_value) == (
        "Orders per visitor",
        "0.120",
        "0.130",
    )
    offer_value = rows["acceptance_value_per_unit"]
    assert offer_value.label == "Offer value per visitor"
    assert offer_value.significance is Significance.NOT_ENOUGH_DATA


def test_missing_or_failed_comparisons_show_not_enough_data(warranty: ExperimentReport) -> None:
    hostile = experiment_view(warranty).variants[2]
    rows = {row.metric: row for row in hostile.comparisons}

    assert rows["average_order_value"].significance is Significance.NOT_ENOUGH_DATA
    assert rows["average_order_value"].uplift == "—"
    assert rows["revenue_per_unit"].significance is Significance.NOT_ENOUGH_DATA
    assert rows["conversion"].significance is Significance.NOT_SIGNIFICANT


def test_verdict_names_the_significant_winner(warranty: ExperimentReport) -> None:
    verdict = describe_verdict(warranty)

    assert verdict.significance is Significance.BETTER
    assert verdict.text == (
        "Variant “Warranty at 39” converts significantly better than control: "
        "+18.0% [+8.1%, +27.9%] 99.4% CI, p < 0.001."
    )


def _with_conversion(
    report: ExperimentReport, key: str, adjusted: float | None = None, **changes: object
) -> ExperimentReport:
    """The report with one variant's conversion comparison changed (and its adjusted p)."""

    def change(result: VariantResult) -> VariantResult:
        if result.variant != key:
            return result
        comparisons = dict(result.comparisons)
        comparisons["conversion"] = dataclasses.replace(comparisons["conversion"], **changes)
        details = dict(result.details)
        if adjusted is not None:
            details["conversion"] = dataclasses.replace(
                details["conversion"], adjusted_p_value=adjusted
            )
        return dataclasses.replace(result, comparisons=comparisons, details=details)

    return dataclasses.replace(report, variants=tuple(change(r) for r in report.variants))


def test_verdict_reports_a_significant_loser(warranty: ExperimentReport) -> None:
    report = _with_conversion(warranty, "w39", adjusted=0.8, significant=False, p_value=0.4)
    report = _with_conversion(report, "hostile", adjusted=0.04, significant=True, p_value=0.02)

    verdict = describe_verdict(report)

    assert verdict.significance is Significance.WORSE
    assert verdict.text == (
        "Variant “<script>alert(1)</script>” converts significantly worse than control: "
        "-5.1% [-13.4%, +3.2%], p = 0.020, adjusted p = 0.040."
    )


def test_verdict_without_significance_names_the_best_so_far(warranty: ExperimentReport) -> None:
    report = _with_conversion(warranty, "w39", adjusted=0.2, significant=False, p_value=0.06)

    verdict = describe_verdict(report)

    assert verdict.significance is Significance.NOT_SIGNIFICANT
    assert verdict.text == (
        "No variant differs significantly from control in conversion yet at 95% confidence. "
        "Best so far: “Warranty at 39” at +18.0% [+8.1%, +27.9%] 99.4% CI. "
        "Variant “Warranty at 39” earns significantly more revenue per visitor than control: "
        "+12.7% [+3.3%, +22.0%] 99.3% CI, p = 0.003, adjusted p = 0.022."
    )


def test_verdict_without_any_significance_has_no_secondary_note(
    warranty: ExperimentReport,
) -> None:
    report = _with_conversion(warranty, "w39", adjusted=0.2, significant=False, p_value=0.06)
    rpv = dataclasses.replace(
        report.variants[0].comparisons["revenue_per_unit"], significant=False, p_value=0.2
    )
    better = dataclasses.replace(
        report.variants[0],
        comparisons={**report.variants[0].comparisons, "revenue_per_unit": rpv},
    )
    report = dataclasses.replace(report, variants=(better, *report.variants[1:]))

    verdict = describe_verdict(report)

    assert verdict.text == (
        "No variant differs significantly from control in conversion yet at 95% confidence. "
        "Best so far: “Warranty at 39” at +18.0% [+8.1%, +27.9%] 99.4% CI."
    )


def test_verdict_follows_the_revenue_objective(warranty: ExperimentReport) -> None:
    experiment = dataclasses.replace(warranty.experiment, objective=Objective.REVENUE)
    report = dataclasses.replace(warranty, experiment=experiment)

    verdict = describe_verdict(report)

    assert verdict.text == (
        "Variant “Warranty at 39” earns significantly more revenue per visitor than control: "
        "+12.7% [+3.3%, +22.0%] 99.3% CI, p = 0.003, adjusted p = 0.022."
    )


def test_verdict_without_data(warranty: ExperimentReport) -> None:
    report = _with_conversion(warranty, "w39", error=ResultError.NO_UNITS)
    report = _with_conversion(report, "hostile", error=ResultError.NO_UNITS)

    verdict = describe_verdict(report)

    assert verdict.significance is Significance.NOT_ENOUGH_DATA
    assert verdict.text.startswith("Not enough data yet to compare conversion with control. ")
    assert "earns significantly more revenue per visitor" in verdict.text


def test_verdict_with_only_a_control(warranty: ExperimentReport) -> None:
    report = dataclasses.replace(warranty, variants=(warranty.variants[1],))

    verdict = describe_verdict(report)

    assert verdict.significance is Significance.NOT_ENOUGH_DATA
    assert "nothing to compare" in verdict.text


def test_placement_views_split_upsell_and_cross_sell(source: object) -> None:
    placements: tuple[PlacementReport, ...] = source.placements  # type: ignore[attr-defined]
    checkout, cart = placement_views(placements)

    assert (checkout.label, len(checkout.upsell), checkout.cross_sell) == ("Checkout", 1, ())
    assert [s.key for s in cart.upsell] == ["cart-free-shipping"]
    assert [s.key for s in cart.cross_sell] == ["cart-console-bundle"]
    warranty = checkout.upsell[0]
    assert (warranty.units, warranty.acceptances) == ("29,900", "3,120")
    assert (warranty.conversion, warranty.revenue) == ("10.4%", "127,600.00")
    assert (warranty.leading_variant, warranty.significance_label) == ("w39", "significant")
    bundle, nudge = cart.cross_sell[0], cart.upsell[0]
    assert bundle.significance_label == "not significant"
    assert (nudge.status, nudge.conversion, nudge.leading_variant) == ("Draft", "—", "—")
    assert nudge.significance_label == "not enough data"


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("conversion", "+2.0 pp [+0.5 pp, +3.5 pp]"),
        ("average_order_value", "+0.02 [+0.01, +0.04]"),
        ("revenue_per_unit", "+0.02 [+0.01, +0.04]"),
        ("orders_per_unit", "+0.020 [+0.005, +0.035]"),
    ],
)
def test_uplift_falls_back_to_the_difference_when_control_is_zero(
    metric: str, expected: str
) -> None:
    comparison = _comparison(
        metric=metric,
        control_value=0.0,
        relative_uplift=None,
        relative_ci=None,
        error=ResultError.CONTROL_ZERO,
    )

    row = comparison_view(comparison, metric)

    assert row.uplift == expected
    assert row.significance is Significance.BETTER


def test_verdict_against_a_no_offer_control_uses_percentage_points(
    warranty: ExperimentReport,
) -> None:
    zero_control = _comparison(
        control_value=0.0,
        variant_value=0.115,
        absolute_uplift=0.115,
        absolute_ci=Interval(0.096, 0.134),
        relative_uplift=None,
        relative_ci=None,
        p_value=1e-12,
        error=ResultError.CONTROL_ZERO,
    )
    offer = dataclasses.replace(
        warranty.variants[0], name="30 W fast charger", comparisons={"conversion": zero_control}
    )
    report = dataclasses.replace(warranty, variants=(warranty.variants[1], offer))

    assert describe_verdict(report).text == (
        "Variant “30 W fast charger” converts significantly better than control: "
        "+11.5 pp [+9.6 pp, +13.4 pp] 99.4% CI, p < 0.001."
    )


def test_an_uplift_is_shown_with_the_interval_that_matches_its_verdict():
    from offerlab.domain.reports import Comparison, Interval
    from offerlab_dashboards.significance import format_comparison_uplift

    # Significant on the difference, while the delta-method relative interval crosses 0
    # (it also carries the control's uncertainty): the absolute interval is the one shown.
    comparison = Comparison(
        metric="acceptance_value_per_unit",
        control_value=4.97,
        variant_value=6.62,
        absolute_uplift=1.65,
        absolute_ci=Interval(0.07, 3.23),
        relative_uplift=0.331,
        relative_ci=Interval(-0.043, 0.705),
        p_value=0.003,
        significant=True,
    )
    shown = format_comparison_uplift(comparison, "acceptance_value_per_unit")
    assert "%" not in shown
    assert "+1.65" in shown and "+0.07" in shown
    consistent = Comparison(**{**comparison.__dict__, "relative_ci": Interval(0.01, 0.65)})
    assert format_comparison_uplift(consistent, "acceptance_value_per_unit").startswith("+33.1%")
