"""Pure views of what can make results untrustworthy or harmful: the sample-ratio check,
guardrails, and the audit log of decisions taken on the experiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offerlab.domain.reports import (
    AuditEntry,
    ExperimentReport,
    GuardrailStatus,
    Interval,
    SampleRatioStatus,
)
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards.significance import metric_label, variant_names

PER_EPOCH = "per_epoch"
VIOLATED = "violated"
OK = "ok"
NOT_COMPUTABLE = "not computable"
_STATUS_VERBS = {
    "paused": "paused",
    "running": "started",
    "stopped": "stopped",
    "draft": "moved back to draft",
}
_MAX_DETAIL_TEXT = 120


@dataclass(frozen=True)
class HealthBanner:
    """The red banner of an experiment whose traffic split is broken."""

    title: str
    text: str


@dataclass(frozen=True)
class GuardrailRow:
    metric: str
    variant: str
    worse_when: str
    change: str
    p_value: str
    state: str
    state_class: str


@dataclass(frozen=True)
class GuardrailsView:
    """Every guardrail of every variant, and the warning sentences of the violated ones."""

    rows: tuple[GuardrailRow, ...]
    violations: tuple[str, ...]
    interval_level: str


@dataclass(frozen=True)
class AuditEntryView:
    when: str
    actor: str
    action: str
    text: str


def sample_ratio_banner(report: ExperimentReport) -> HealthBanner | None:
    """The banner telling managers not to trust the results; None when the split is healthy."""
    status = report.sample_ratio
    if status is None or not status.unhealthy:
        return None
    p_value = fmt.format_p_value(status.p_value)
    title = "Unhealthy: sample ratio mismatch"
    title = f"{title} ({p_value})" if p_value != fmt.NO_VALUE else title
    return HealthBanner(title=title, text=_mismatch_text(status))


def _mismatch_text(status: SampleRatioStatus) -> str:
    advice = (
        "Visitors are not reaching the variants in the planned proportions, so assignment or "
        "event tracking is broken somewhere. Do not trust or act on these results until the "
        "cause is found and fixed."
    )
    if status.method != PER_EPOCH:
        return (
            "The split of visitors between variants differs from the configured weights by more "
            f"than chance allows (threshold p < {status.threshold:g}). {advice}"
        )
    broken = [str(epoch.version) for epoch in status.epochs if epoch.unhealthy]
    epochs = f" (allocation {'epochs' if len(broken) > 1 else 'epoch'} {', '.join(broken)})"
    return (
        "Within at least one allocation epoch the split of visitors differs from that epoch's "
        f"bandit weights by more than chance allows{epochs if broken else ''}, "
        f"threshold p < {status.threshold:g} after adjusting for the number of epochs. {advice}"
    )


def guardrails_view(report: ExperimentReport) -> GuardrailsView | None:
    """The guardrail table and warnings; None when the experiment has no guardrails."""
    if not report.guardrails:
        return None
    names = variant_names(report)
    alpha = report.settings.alpha if report.settings else report.experiment.alpha
    rows = tuple(_guardrail_row(status, names) for status in report.guardrails)
    violations = tuple(
        _violation_sentence(status, names) for status in report.guardrails if status.violated
    )
    # One-sided tests at alpha: the two-sided 1 - 2 alpha interval's bad-side bound matches them.
    return GuardrailsView(rows, violations, fmt.format_level(max(0.0, 1.0 - 2.0 * alpha)))


def _guardrail_state(status: GuardrailStatus) -> str:
    if status.violated:
        return VIOLATED
    if status.error or status.p_value is None:
        return NOT_COMPUTABLE
    return OK


def _change(relative_change: float | None, relative_ci: Interval | None) -> str:
    return fmt.format_uplift(relative_change, relative_ci)


def _guardrail_row(status: GuardrailStatus, names: Mapping[str, str]) -> GuardrailRow:
    state = _guardrail_state(status)
    return GuardrailRow(
        metric=metric_label(status.metric),
        variant=names.get(status.variant, status.variant),
        worse_when=f"worse when {status.worse_when}",
        change=_change(status.relative_change, status.relative_ci),
        p_value=fmt.format_p_value(status.p_value),
        state=state,
        state_class=state.replace(" ", "-"),
    )


def _violation_sentence(status: GuardrailStatus, names: Mapping[str, str]) -> str:
    evidence = ", ".join(
        part
        for part in (
            _change(status.relative_change, status.relative_ci),
            fmt.format_p_value(status.p_value),
        )
        if part != fmt.NO_VALUE
    )
    name = names.get(status.variant, status.variant)
    sentence = f"{metric_label(status.metric)} of “{name}” is significantly worse than control"
    return f"{sentence} ({evidence})." if evidence else f"{sentence}."


def audit_log_view(report: ExperimentReport) -> tuple[AuditEntryView, ...]:
    """The audit log, newest first, each entry as one sentence."""
    names = variant_names(report)
    entries = sorted(report.audit_log, key=lambda entry: entry.at, reverse=True)
    return tuple(_audit_entry_view(entry, names) for entry in entries)


def _audit_entry_view(entry: AuditEntry, names: Mapping[str, str]) -> AuditEntryView:
    details = entry.details if isinstance(entry.details, Mapping) else {}
    action = _action_phrase(entry.action, details)
    reasons = _violation_reasons(details.get("violations"), names) or _detail_summary(details)
    text = f"{action} by {entry.actor}"
    return AuditEntryView(
        when=fmt.format_timestamp(entry.at),
        actor=str(entry.actor),
        action=action,
        text=f"{text}: {reasons}" if reasons else text,
    )


def _action_phrase(action: str, details: Mapping[str, Any]) -> str:
    if action == "status" and "to" in details:
        target = str(details["to"])
        if target == "running" and details.get("from") == "paused":
            return "resumed"
        return _STATUS_VERBS.get(target, f"set to {target}")
    return str(action).replace("_", " ")


def _violation_reasons(violations: Any, names: Mapping[str, str]) -> str:
    if not isinstance(violations, Sequence) or isinstance(violations, str):
        return ""
    reasons = []
    for item in violations:
        if not isinstance(item, Mapping):
            continue
        metric = metric_label(str(item.get("metric", "guardrail"))).lower()
        variant = str(item.get("variant", ""))
        reasons.append(
            f"{metric} of “{names.get(variant, variant)}” significantly worse"
            + _p_suffix(item.get("p_value"))
        )
    return "; ".join(reasons)


def _p_suffix(p_value: Any) -> str:
    if not isinstance(p_value, int | float) or isinstance(p_value, bool):
        return ""
    text = fmt.format_p_value(float(p_value))
    return "" if text == fmt.NO_VALUE else f" ({text})"


def _detail_summary(details: Mapping[str, Any]) -> str:
    """Scalar details as "key: value" pairs, skipping the status change already in the verb."""
    parts = [
        f"{key}: {value}"
        for key, value in details.items()
        if key not in ("from", "to") and isinstance(value, str | int | float | bool)
    ]
    text = ", ".join(parts)
    return text if len(text) <= _MAX_DETAIL_TEXT else text[: _MAX_DETAIL_TEXT - 1] + "…"
