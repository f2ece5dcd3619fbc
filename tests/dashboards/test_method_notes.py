"""Method notes and power progress read the report's settings, capping, CUPED and plan."""

from __future__ import annotations

import dataclasses

import pytest

from offerlab.domain.reports import CappingSummary, ExperimentReport, VarianceReduction
from offerlab_dashboards.method_notes import method_notes, power_view


def test_notes_cover_test_correction_capping_and_cuped(warranty: ExperimentReport) -> None:
    notes = method_notes(warranty)

    assert notes[0].startswith("Sequential test (always-valid): safe to check daily")
    assert notes[1] == "Significance level 0.05 (95% confidence)."
    assert notes[2].startswith("Holm correction across 8 comparisons")
    assert notes[3] == "Order values capped at 412.00 (99th percentile), 14 orders capped."
    assert notes[4] == "3 refunds worth 120.50 netted from revenue."
    assert notes[5] == "CUPED on spend_30d narrowed the revenue per visitor intervals by 23%."


def test_fixed_horizon_and_other_corrections(warranty: ExperimentReport) -> None:
    assert warranty.settings is not None
    fixed_bh = dataclasses.replace(warranty.settings, sequential=False, correction="bh")
    uncorrected = dataclasses.replace(warranty.settings, correction="none", comparisons_tested=1)

    bh_notes = method_notes(dataclasses.replace(warranty, settings=fixed_bh))
    none_notes = method_notes(dataclasses.replace(warranty, settings=uncorrected))

    assert bh_notes[0].startswith("Fixed-horizon test")
    assert bh_notes[2].startswith("Benjamini-Hochberg correction (false discovery rate)")
    assert none_notes[2] == "No correction for multiple comparisons (1 comparison)."


@pytest.mark.parametrize(
    ("capping", "expected"),
    [
        (
            CappingSummary(250.0, None, 1, 0, 0.0),
            ["Order values capped at 250.00, 1 order capped."],
        ),
        (
            CappingSummary(99.5, 0.995, 3, 0, 0.0),
            ["Order values capped at 99.50 (99.5th percentile), 3 orders capped."],
        ),
        (CappingSummary(None, None, 0, 1, 12.0), ["1 refund worth 12.00 netted from revenue."]),
    ],
)
def test_capping_notes(
    warranty: ExperimentReport, capping: CappingSummary, expected: list[str]
) -> None:
    report = dataclasses.replace(warranty, settings=None, variance_reduction=None, capping=capping)

    assert list(method_notes(report)) == expected


def test_cuped_not_applied_says_so(warranty: ExperimentReport) -> None:
    unused = VarianceReduction("revenue_per_unit", "spend_30d", False, None, 0)
    report = dataclasses.replace(warranty, settings=None, capping=None, variance_reduction=unused)

    assert method_notes(report) == (
        "CUPED on spend_30d was not applied: the covariate is missing or carries no information "
        "yet (sent for 0 visitors).",
    )


def test_absent_parts_give_no_notes(warranty: ExperimentReport) -> None:
    bare = dataclasses.replace(warranty, settings=None, capping=None, variance_reduction=None)

    assert method_notes(bare) == ()


def test_power_progress_toward_the_plan(warranty: ExperimentReport) -> None:
    view = power_view(warranty)

    assert view is not None
    assert view.summary == "9,900 of 24,000 visitors per variant"
    assert view.progress == pytest.approx(9_900 / 24_000)
    assert view.percent == "41%"
    assert view.remaining == "about 12 days remaining at the current traffic"
    assert not view.enough
    assert view.plan == (
        "Planned to detect a +10.0% change in conversion from 10.0% with 80% power."
    )


def test_power_enough_data_and_unknown_pace(warranty: ExperimentReport) -> None:
    assert warranty.power is not None
    done = dataclasses.replace(warranty.power, units_per_variant=30_000, progress=1.0)
    unknown = dataclasses.replace(warranty.power, days_remaining=None)

    done_view = power_view(dataclasses.replace(warranty, power=done))
    unknown_view = power_view(dataclasses.replace(warranty, power=unknown))

    assert done_view is not None and done_view.enough and done_view.remaining == "enough data"
    assert unknown_view is not None
    assert unknown_view.remaining == "days remaining unknown (no traffic yet)"
    assert power_view(dataclasses.replace(warranty, power=None)) is None
