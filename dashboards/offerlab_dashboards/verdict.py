"""Pure plain-language verdict of an experiment, for a manager to read at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from offerlab.domain.reports import BanditResults, Comparison, ExperimentReport, VariantResult
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards.bandit_panels import (
    ESTIMATOR_LABELS,
    format_estimate,
    reward_formatters,
    reward_label,
)
from offerlab_dashboards.significance import (
    ACCEPTANCE_VALUE_PER_UNIT,
    AVERAGE_ORDER_VALUE,
    CONVERSION,
    METRIC_LABELS,
    ORDERS_PER_UNIT,
    REVENUE_PER_UNIT,
    Significance,
    classify_significance,
    find_comparison,
    find_detail,
    format_comparison_p,
    format_comparison_uplift,
    nominal_level,
    primary_metric,
    variant_names,
)

_PHRASES: Mapping[str, tuple[str, str]] = {
    CONVERSION: ("converts significantly better", "converts significantly worse"),
    AVERAGE_ORDER_VALUE: (
        "has a significantly higher average order value",
        "has a significantly lower average order value",
    ),
    REVENUE_PER_UNIT: (
        "earns significantly more revenue per visitor",
        "earns significantly less revenue per visitor",
    ),
    ORDERS_PER_UNIT: (
        "brings significantly more orders per visitor",
        "brings significantly fewer orders per visitor",
    ),
    ACCEPTANCE_VALUE_PER_UNIT: (
        "earns significantly more offer value per visitor",
        "earns significantly less offer value per visitor",
    ),
}

Candidate = tuple[VariantResult, Comparison]


@dataclass(frozen=True)
class VerdictView:
    text: str
    significance: Significance


def describe_verdict(report: ExperimentReport) -> VerdictView:
    """The verdict on the experiment's primary metric, plus a conclusive secondary if any."""
    challengers = [result for result in report.variants if not result.is_control]
    if not challengers:
        return VerdictView(
            "Only the control is set up: there is nothing to compare yet.",
            Significance.NOT_ENOUGH_DATA,
        )
    if report.bandit is not None:
        return _bandit_verdict(report, report.bandit)
    metric = primary_metric(report)
    nominal = nominal_level(report)
    verdict = _verdict_on(metric, challengers, nominal)
    if verdict.significance in (Significance.BETTER, Significance.WORSE):
        return verdict
    note = _secondary_note(challengers, primary=metric, nominal=nominal)
    return verdict if note is None else VerdictView(f"{verdict.text} {note}", verdict.significance)


def _badges(
    metric: str, challengers: Sequence[VariantResult]
) -> dict[Significance, list[Candidate]]:
    by_badge: dict[Significance, list[Candidate]] = {}
    for result in challengers:
        comparison = find_comparison(result, metric)
        if comparison is not None:
            by_badge.setdefault(classify_significance(comparison), []).append((result, comparison))
    return by_badge


def _verdict_on(metric: str, challengers: Sequence[VariantResult], nominal: float) -> VerdictView:
    by_badge = _badges(metric, challengers)
    for badge in (Significance.BETTER, Significance.WORSE):
        if by_badge.get(badge):
            best = _extreme(by_badge[badge], lowest=badge is Significance.WORSE)
            return VerdictView(_sentence(best, metric, badge, nominal), badge)
    label = METRIC_LABELS.get(metric, metric).lower()
    if by_badge.get(Significance.NOT_SIGNIFICANT):
        result, comparison = _extreme(by_badge[Significance.NOT_SIGNIFICANT])
        uplift = format_comparison_uplift(
            comparison, metric, find_detail(result, metric), nominal=nominal
        )
        text = (
            f"No variant differs significantly from control in {label} "
            f"yet at {fmt.format_level(nominal)} confidence. Best so far: {_quoted(result)} at "
            f"{uplift}."
        )
        return VerdictView(text, Significance.NOT_SIGNIFICANT)
    return VerdictView(
        f"Not enough data yet to compare {label} with control.",
        Significance.NOT_ENOUGH_DATA,
    )


def _secondary_note(
    challengers: Sequence[VariantResult], *, primary: str, nominal: float
) -> str | None:
    for metric in METRIC_LABELS:
        if metric == primary:
            continue
        by_badge = _badges(metric, challengers)
        for badge in (Significance.BETTER, Significance.WORSE):
            if by_badge.get(badge):
                best = _extreme(by_badge[badge], lowest=badge is Significance.WORSE)
                return _sentence(best, metric, badge, nominal)
    return None


def _extreme(candidates: Sequence[Candidate], *, lowest: bool = False) -> Candidate:
    def uplift(candidate: Candidate) -> float:
        comparison = candidate[1]
        value = comparison.relative_uplift
        if value is None:
            value = comparison.absolute_uplift or 0.0
        return -value if lowest else value

    return max(candidates, key=uplift)


def _quoted(result: VariantResult) -> str:
    return f"“{result.name or result.variant}”"


def _sentence(candidate: Candidate, metric: str, badge: Significance, nominal: float) -> str:
    result, comparison = candidate
    better, worse = _PHRASES.get(metric, _PHRASES[CONVERSION])
    phrase = better if badge is Significance.BETTER else worse
    detail = find_detail(result, metric)
    uplift = format_comparison_uplift(comparison, metric, detail, nominal=nominal)
    p_value = format_comparison_p(comparison, detail)
    details = ", ".join(part for part in (uplift, p_value) if part != fmt.NO_VALUE)
    return f"Variant {_quoted(result)} {phrase} than control: {details}."


def _bandit_verdict(report: ExperimentReport, bandit: BanditResults) -> VerdictView:
    """A bandit's verdict rests on its headline estimator: pooled data is biased when the
    allocation changed while the outcome drifted."""
    label = reward_label(bandit.reward)
    estimate, uplift = bandit.headline_uplift, bandit.uplift
    if estimate is None or uplift is None:
        return VerdictView(
            f"Not enough data yet to compare {label} with control.", Significance.NOT_ENOUGH_DATA
        )
    name = variant_names(report).get(uplift.variant, uplift.variant)
    _, difference = reward_formatters(bandit.reward)
    method = ESTIMATOR_LABELS.get(bandit.headline, bandit.headline)
    p_value = fmt.format_p_value(uplift.p_value)
    evidence = f"{format_estimate(estimate, difference)} ({method}, {p_value})"
    if uplift.significant and estimate.estimate != 0.0:
        better = estimate.estimate > 0.0
        direction = "more" if better else "less"
        badge = Significance.BETTER if better else Significance.WORSE
        text = f"Variant “{name}” earns significantly {direction} {label} than control: {evidence}."
        if bandit.reward == "conversion":
            verb = "better" if better else "worse"
            text = f"Variant “{name}” converts significantly {verb} than control: {evidence}."
        return VerdictView(text, badge)
    level = fmt.format_level(bandit.interval_level)
    return VerdictView(
        f"No variant differs significantly from control in {label} yet at {level} confidence. "
        f"Best so far: “{name}” at {evidence}.",
        Significance.NOT_SIGNIFICANT,
    )
