"""Sample-ratio banner, guardrail table and audit log: the parts that say "do not trust this"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from offerlab.domain.reports import AuditEntry, ExperimentReport, SampleRatioStatus
from offerlab_dashboards.health import (
    audit_log_view,
    guardrails_view,
    sample_ratio_banner,
)


def test_no_banner_when_the_split_is_healthy_or_unchecked(warranty: ExperimentReport) -> None:
    assert sample_ratio_banner(warranty) is None
    assert sample_ratio_banner(dataclasses.replace(warranty, sample_ratio=None)) is None


def test_overall_mismatch_banner_names_the_p_value_and_the_advice(
    warranty: ExperimentReport,
) -> None:
    report = dataclasses.replace(
        warranty, sample_ratio=SampleRatioStatus("overall", 0.0004, True, 0.001)
    )

    banner = sample_ratio_banner(report)

    assert banner is not None
    assert banner.title == "Unhealthy: sample ratio mismatch (p < 0.001)"
    assert "configured weights" in banner.text
    assert "Do not trust or act on these results" in banner.text


def test_bandit_banner_speaks_of_the_broken_epochs(bundle: ExperimentReport) -> None:
    banner = sample_ratio_banner(bundle)

    assert banner is not None
    assert banner.title.startswith("Unhealthy: sample ratio mismatch")
    assert "allocation epoch 2)" in banner.text
    assert "bandit weights" in banner.text


def test_unhealthy_banner_without_a_p_value(warranty: ExperimentReport) -> None:
    report = dataclasses.replace(
        warranty, sample_ratio=SampleRatioStatus("per_epoch", None, True, 0.001)
    )

    banner = sample_ratio_banner(report)

    assert banner is not None and banner.title == "Unhealthy: sample ratio mismatch"
    assert "epoch" in banner.text


def test_guardrail_rows_say_ok_violated_or_not_computable(warranty: ExperimentReport) -> None:
    view = guardrails_view(warranty)

    assert view is not None
    assert view.interval_level == "90%"
    states = [(row.metric, row.variant, row.state) for row in view.rows]
    assert states == [
        ("Refund rate", "Warranty at 39", "ok"),
        ("Refund rate", "<script>alert(1)</script>", "violated"),
        ("Average order value", "<script>alert(1)</script>", "not computable"),
    ]
    violated = view.rows[1]
    assert (violated.change, violated.p_value) == ("+35.0% [+10.0%, +60.0%]", "p = 0.003")
    assert violated.worse_when == "worse when higher"
    assert view.rows[2].state_class == "not-computable"
    assert view.violations == (
        "Refund rate of “<script>alert(1)</script>” is significantly worse than control "
        "(+35.0% [+10.0%, +60.0%], p = 0.003).",
    )


def test_no_guardrail_view_without_guardrails(bundle: ExperimentReport) -> None:
    assert guardrails_view(bundle) is None


def test_audit_log_is_newest_first_in_sentences(warranty: ExperimentReport) -> None:
    newest, oldest = audit_log_view(warranty)

    assert newest.when == "2025-02-28 11:30 UTC"
    assert newest.text == (
        "resumed by ops <script>alert(1)</script>: "
        "note: <iframe src=javascript:alert(3)></iframe> & more"
    )
    assert oldest.text == (
        "paused by guardrail-monitor: refund rate of “<script>alert(1)</script>” "
        "significantly worse (p = 0.003)"
    )


def test_audit_entries_of_other_actions_and_odd_details(warranty: ExperimentReport) -> None:
    at = datetime(2025, 3, 1, tzinfo=UTC)
    entries = (
        AuditEntry(at, "winner_set", "analyst", {"variant": "w39", "nested": {"a": 1}}),
        AuditEntry(at, "status", "operator", {"from": "running", "to": "stopped"}),
        AuditEntry(at, "status", "operator", {"to": "archived", "violations": "not a list"}),
        AuditEntry(at, "note", "operator", {"text": "x" * 500}),
    )

    views = audit_log_view(dataclasses.replace(warranty, audit_log=entries))

    assert [v.text for v in views[:3]] == [
        "winner set by analyst: variant: w39",
        "stopped by operator",
        "set to archived by operator: violations: not a list",
    ]
    assert len(views[3].text) < 160 and views[3].text.endswith("…")
