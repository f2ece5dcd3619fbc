"""Experiment and placement reports: SQL aggregates -> the analysis engine -> report objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from offerlab.domain.model import Experiment
from offerlab.domain.reports import (
    AllocationEpoch,
    BanditResults,
    ExperimentReport,
    ExperimentSummary,
    PlacementReport,
    VariantResult,
    primary_metric,
)
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.errors import NotFound
from offerlab.services import analysis_run as run
from offerlab.services.bandit_results import BanditTotals, bandit_results
from offerlab.services.guardrails import guardrail_statuses, variance_reduction
from offerlab.services.recommendations import apply_recommendation
from offerlab.storage import audit
from offerlab.storage import experiments as store
from offerlab.storage.aggregates import AggregateOptions, grouped_totals, percentile_order_value
from offerlab.storage.db import session_scope
from offerlab.storage.tables import ExperimentRow


def experiment_report(
    session: Session,
    key: str,
    *,
    now: datetime,
    segments: Sequence[str] | None = None,
    detail: bool = True,
) -> ExperimentReport:
    """The full report of one experiment; raises NotFound for an unknown key.

    `segments` are the attributes to break down by (default: the experiment's configured
    ones); `detail=False` skips the daily series and the breakdowns (placement summaries).
    """
    row = store.find_experiment_row(session, key)
    if row is None:
        raise NotFound(f"experiment {key!r} does not exist")
    return build_report(session, row, now=now, segments=segments, detail=detail)


def build_report(
    session: Session,
    row: ExperimentRow,
    *,
    now: datetime,
    segments: Sequence[str] | None = None,
    detail: bool = True,
) -> ExperimentReport:
    experiment = store.to_domain(row)
    history = store.allocation_history(session, row.id)
    options = aggregate_options(session, row.id, experiment)
    by_variant = _by_variant(session, row.id, options)
    totals = run.ordered_totals(experiment, by_variant)
    epochs = None
    bandit = None
    if experiment.allocation.is_bandit:
        by_epoch = grouped_totals(session, row.id, options, group="epoch")
        epochs = run.epoch_units(by_epoch, history)
        bandit = _bandit_results(
            session, row.id, experiment, options, by_variant, by_epoch, history
        )
    analysis = run.run_engine(experiment, totals, epochs=epochs)
    variants = run.variant_results(experiment, totals, analysis)
    by_day = grouped_totals(session, row.id, options, group="day") if detail else {}
    first_day = min((day for (_, day) in by_day if day is not None), default=None)
    return ExperimentReport(
        experiment=experiment,
        variants=variants,
        allocation_history=history,
        generated_at=now,
        settings=run.settings_used(analysis),
        sample_ratio=run.sample_ratio_status(analysis),
        capping=run.capping_summary(experiment, options.order_value_cap, totals),
        guardrails=guardrail_statuses(experiment, totals),
        variance_reduction=variance_reduction(experiment, analysis, totals),
        power=run.power_progress(experiment, variants, first_exposure_day=first_day, now=now),
        daily=run.daily_results(experiment, by_day) if detail else (),
        segments=_segments(session, row.id, experiment, options, segments) if detail else (),
        audit_log=audit.entries(session, row.id) if detail else (),
        bandit=bandit,
    )


def _bandit_results(
    session: Session,
    experiment_id: int,
    experiment: Experiment,
    options: AggregateOptions,
    by_variant: Mapping[str, VariantTotals],
    by_epoch: Mapping[tuple[str, Any], VariantTotals],
    history: Sequence[AllocationEpoch],
) -> BanditResults:
    learning = replace(options, learning_only=True)
    totals = BanditTotals(
        by_variant=by_variant,
        by_epoch=by_epoch,
        by_propensity=grouped_totals(session, experiment_id, options, group="propensity"),
        learning_by_variant=_by_variant(session, experiment_id, learning),
        history=history,
    )
    return bandit_results(experiment, totals)


def aggregate_options(
    session: Session, experiment_id: int, experiment: Experiment
) -> AggregateOptions:
    """The aggregation settings, with the winsorising cap resolved to an amount."""
    settings = experiment.analysis
    cap = settings.order_value_cap
    if cap is None and settings.winsorize_percentile is not None:
        cap = percentile_order_value(
            session,
            experiment_id,
            attribution_window_hours=experiment.attribution_window_hours,
            percentile=settings.winsorize_percentile,
        )
    return AggregateOptions(
        attribution_window_hours=experiment.attribution_window_hours,
        order_value_cap=cap,
        covariate=settings.covariate,
    )


def _by_variant(session: Session, experiment_id: int, options: AggregateOptions) -> dict:
    grouped = grouped_totals(session, experiment_id, options, group=None)
    return {variant: totals for (variant, _), totals in grouped.items()}


def _segments(
    session: Session,
    experiment_id: int,
    experiment: Experiment,
    options: AggregateOptions,
    requested: Sequence[str] | None,
) -> tuple:
    attributes = experiment.analysis.segments if requested is None else tuple(requested)
    results: list = []
    for attribute in dict.fromkeys(attributes):
        segment_options = AggregateOptions(
            options.attribution_window_hours, options.order_value_cap, options.covariate, attribute
        )
        by_value = grouped_totals(session, experiment_id, segment_options, group="segment")
        results.extend(run.segment_results(experiment, attribute, by_value))
    return tuple(results)


def placement_reports(session: Session, *, now: datetime) -> list[PlacementReport]:
    """Every placement with a summary line per experiment (upsell and cross-sell)."""
    by_placement: dict[str, list[ExperimentSummary]] = defaultdict(list)
    for row in store.list_experiment_rows(session):
        report = build_report(session, row, now=now, detail=False)
        by_placement[row.placement].append(summarise(report))
    return [
        PlacementReport(placement=placement, experiments=tuple(summaries))
        for placement, summaries in sorted(by_placement.items())
    ]


def summarise(report: ExperimentReport) -> ExperimentSummary:
    """One line per experiment: totals over variants and the leader by the primary metric."""
    variants = report.variants
    units = sum(v.totals.units for v in variants)
    converted = sum(v.totals.converted_units for v in variants)
    metric = primary_metric(report.experiment.objective)
    leader = _leading_variant(variants, metric)
    significant = bool(leader and _beats_control(leader, metric))
    if report.bandit is not None:
        leader, significant = _bandit_leader(variants, report.bandit)
    return ExperimentSummary(
        key=report.experiment.key,
        name=report.experiment.name,
        offer_kind=report.experiment.offer_kind.value,
        status=report.experiment.status.value,
        units=units,
        acceptances=sum(v.totals.acceptances for v in variants),
        conversion_rate=converted / units if units else None,
        revenue=sum(v.totals.order_value_sum for v in variants),
        offer_revenue=sum(v.totals.acceptance_value_sum for v in variants),
        leading_variant=leader.variant if leader else None,
        leading_variant_name=leader.name if leader else None,
        significant=significant,
        primary_metric=metric,
        unhealthy=report.unhealthy,
        guardrail_violated=report.guardrail_violated,
    )


METRIC_VALUES: dict[str, Callable[[VariantResult], float | None]] = {
    "conversion": lambda v: v.conversion_rate,
    "revenue_per_unit": lambda v: v.revenue_per_unit,
    "average_order_value": lambda v: v.average_order_value,
    "orders_per_unit": lambda v: v.orders_per_unit,
    "acceptance_value_per_unit": lambda v: v.acceptance_value_per_unit,
}


def _leading_variant(variants: Sequence[VariantResult], metric: str) -> VariantResult | None:
    value = METRIC_VALUES[metric]
    measured = [v for v in variants if value(v) is not None]
    return max(measured, key=lambda v: value(v) or 0.0, default=None)


def _bandit_leader(
    variants: Sequence[VariantResult], bandit: BanditResults
) -> tuple[VariantResult | None, bool]:
    """A bandit's leader and verdict come from its headline estimator, never the pooled data."""
    leader = next((v for v in variants if v.variant == bandit.best_variant), None)
    uplift, estimate = bandit.uplift, bandit.headline_uplift
    beats = bool(
        leader
        and uplift
        and estimate
        and uplift.variant == leader.variant
        and uplift.significant
        and estimate.estimate > 0.0
    )
    return leader, beats


def _beats_control(result: VariantResult, metric: str) -> bool:
    comparison = result.comparisons.get(metric)
    return bool(comparison and comparison.significant and (comparison.absolute_uplift or 0.0) > 0)


class DatabaseReports:
    """The dashboards' report source: each call runs in its own read transaction."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def placement_reports(self) -> list[PlacementReport]:
        with session_scope(self._sessions) as session:
            return placement_reports(session, now=self._clock())

    def experiment_report(
        self, key: str, segments: Sequence[str] | None = None
    ) -> ExperimentReport | None:
        with session_scope(self._sessions) as session:
            try:
                return experiment_report(session, key, now=self._clock(), segments=segments)
            except NotFound:
                return None

    def apply_recommendation(self, key: str, *, actor: str) -> dict[str, float]:
        """Roll `key` out to its recommended winner (raises NotFound or Conflict)."""
        with session_scope(self._sessions) as session:
            return apply_recommendation(session, key, now=self._clock(), actor=actor)
