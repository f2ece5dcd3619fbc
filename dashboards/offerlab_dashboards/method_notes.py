"""Pure notes on how the figures were computed, and the progress toward the planned sample."""

from __future__ import annotations

from dataclasses import dataclass

from offerlab.domain.reports import (
    AnalysisSettingsUsed,
    BanditResults,
    CappingSummary,
    ExperimentReport,
    PowerProgress,
    VarianceReduction,
)
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards.significance import metric_label

_CORRECTIONS = {
    "holm": "Holm correction",
    "bh": "Benjamini-Hochberg correction (false discovery rate)",
}


@dataclass(frozen=True)
class PowerView:
    """Units per variant against the units the planned test needs."""

    summary: str
    plan: str
    progress: float
    percent: str
    remaining: str
    enough: bool


def method_notes(report: ExperimentReport) -> tuple[str, ...]:
    """Sentences on the test, the correction, capping and CUPED; absent parts say nothing."""
    notes: list[str] = []
    if report.settings is not None:
        notes.extend(_settings_notes(report.settings))
    if report.capping is not None:
        notes.extend(_capping_notes(report.capping))
    if report.variance_reduction is not None:
        notes.append(_cuped_note(report.variance_reduction))
    if report.bandit is not None:
        notes.extend(_bandit_notes(report.bandit))
    return tuple(notes)


def _bandit_notes(bandit: BanditResults) -> list[str]:
    headline = (
        "inverse-propensity-weighted (Hájek)" if bandit.headline == "ipw" else "epoch-weighted"
    )
    notes = [
        f"Bandit: the verdict and the headline uplift use the {headline} estimate of each "
        "variant's reward per visitor, with a normal confidence interval at "
        f"{fmt.format_level(bandit.interval_level)}, not corrected for multiple comparisons. "
        "The traffic split changed over time, so pooling every epoch (the variant table and "
        "“Compared with control”) is biased when results drift between epochs.",
        "Inverse-propensity weighting weighs every visitor by 1 / the probability with which "
        "the visitor got its variant (recorded on the exposure); the epoch-weighted estimate "
        "compares variants within each allocation epoch and combines the epochs with the same "
        "weights (their share of visitors) for every variant.",
    ]
    if bandit.measurement is not None:
        notes.append(
            "The measurement slice is a uniform split the bandit never learns from; the gain "
            "compares reward per visitor among the bandit-allocated visitors with that slice "
            "(Welch's t-test)."
        )
    return notes


def _settings_notes(settings: AnalysisSettingsUsed) -> list[str]:
    confidence = fmt.format_confidence(settings.alpha)
    if settings.sequential:
        test = (
            "Sequential test (always-valid): safe to check daily; a significant result stays "
            "valid however often the page is read."
        )
    else:
        test = (
            "Fixed-horizon test: read the result once the planned sample is reached; stopping "
            "at the first significant day overstates the evidence."
        )
    tested = settings.comparisons_tested
    comparisons = f"{tested:,} comparison{'s' if tested != 1 else ''}"
    correction = _CORRECTIONS.get(settings.correction)
    if correction is None:
        multiple = f"No correction for multiple comparisons ({comparisons})."
    else:
        multiple = (
            f"{correction} across {comparisons} (variants × metrics): “significant” means the "
            f"adjusted p-value is below {settings.alpha:g}, and each interval is widened to the "
            "level that agrees with that decision."
        )
    return [test, f"Significance level {settings.alpha:g} ({confidence} confidence).", multiple]


def _capping_notes(capping: CappingSummary) -> list[str]:
    notes = []
    if capping.cap is not None:
        where = (
            f" ({fmt.format_ordinal(round(capping.percentile * 100.0, 2))} percentile)"
            if capping.percentile is not None
            else ""
        )
        orders = f"{capping.orders_capped:,} order{'s' if capping.orders_capped != 1 else ''}"
        notes.append(
            f"Order values capped at {fmt.format_money(capping.cap)}{where}, {orders} capped."
        )
    if capping.refunds:
        refunds = f"{capping.refunds:,} refund{'s' if capping.refunds != 1 else ''}"
        notes.append(
            f"{refunds} worth {fmt.format_money(capping.refund_value)} netted from revenue."
        )
    return notes


def _cuped_note(reduction: VarianceReduction) -> str:
    metric = metric_label(reduction.metric).lower()
    if reduction.used and reduction.interval_narrowing is not None:
        narrowing = fmt.format_percent(reduction.interval_narrowing, decimals=0)
        return f"CUPED on {reduction.covariate} narrowed the {metric} intervals by {narrowing}."
    if reduction.used:
        return f"CUPED on {reduction.covariate} was applied to {metric}."
    sent = fmt.format_count(reduction.units_with_covariate)
    return (
        f"CUPED on {reduction.covariate} was not applied: the covariate is missing or carries "
        f"no information yet (sent for {sent} visitors)."
    )


def power_view(report: ExperimentReport) -> PowerView | None:
    """Progress toward the planned sample; None when the experiment has no power plan."""
    power = report.power
    if power is None or power.units_needed_per_variant <= 0:
        return None
    progress = min(max(power.progress, 0.0), 1.0)
    enough = progress >= 1.0 or power.units_per_variant >= power.units_needed_per_variant
    return PowerView(
        summary=(
            f"{fmt.format_count(power.units_per_variant)} of "
            f"{fmt.format_count(power.units_needed_per_variant)} visitors per variant"
        ),
        plan=_plan_text(power),
        progress=progress,
        percent=fmt.format_percent(progress, decimals=0),
        remaining=_remaining_text(power, enough=enough),
        enough=enough,
    )


def _plan_text(power: PowerProgress) -> str:
    return (
        f"Planned to detect a {fmt.format_signed_percent(power.minimum_detectable_effect)} "
        f"change in {metric_label(power.metric).lower()} from "
        f"{_baseline(power)} with {fmt.format_percent(power.power, decimals=0)} power."
    )


def _baseline(power: PowerProgress) -> str:
    if power.metric in ("conversion", "refund_rate"):
        return fmt.format_percent(power.baseline)
    return fmt.format_money(power.baseline)


def _remaining_text(power: PowerProgress, *, enough: bool) -> str:
    if enough:
        return "enough data"
    days = fmt.format_days(power.days_remaining)
    if days == fmt.NO_VALUE:
        return "days remaining unknown (no traffic yet)"
    return f"about {days} remaining at the current traffic"
