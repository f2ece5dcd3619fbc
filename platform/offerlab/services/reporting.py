"""Experiment and placement reports: SQL aggregates -> domain statistics -> report objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from offerlab.domain.model import Objective
from offerlab.domain.reports import (
    ExperimentReport,
    ExperimentSummary,
    PlacementReport,
    VariantResult,
)
from offerlab.domain.stats.analysis import CONVERSION, REVENUE_PER_VISITOR, analyse_variants
from offerlab.errors import NotFound
from offerlab.storage import experiments as store
from offerlab.storage.aggregates import variant_totals
from offerlab.storage.db import session_scope
from offerlab.storage.tables import ExperimentRow


def experiment_report(session: Session, key: str, *, now: datetime) -> ExperimentReport:
    """The full report of one experiment; raises NotFound for an unknown key."""
    row = store.find_experiment_row(session, key)
    if row is None:
        raise NotFound(f"experiment {key!r} does not exist")
    return _report(session, row, now=now)


def _report(session: Session, row: ExperimentRow, *, now: datetime) -> ExperimentReport:
    experiment = store.to_domain(row)
    totals = variant_totals(
        session, row.id, attribution_window_hours=experiment.attribution_window_hours
    )
    names = {variant.key: variant.name for variant in experiment.variants}
    variants = analyse_variants(
        [totals[key] for key in names if key in totals],
        control=experiment.control,
        names=names,
        alpha=experiment.alpha,
    )
    return ExperimentReport(
        experiment=experiment,
        variants=variants,
        allocation_history=store.allocation_history(session, row.id),
        generated_at=now,
    )


def placement_reports(session: Session, *, now: datetime) -> list[PlacementReport]:
    """Every placement with a summary line per experiment (upsell and cross-sell)."""
    by_placement: dict[str, list[ExperimentSummary]] = defaultdict(list)
    for row in store.list_experiment_rows(session):
        by_placement[row.placement].append(summarise(_report(session, row, now=now)))
    return [
        PlacementReport(placement=placement, experiments=tuple(summaries))
        for placement, summaries in sorted(by_placement.items())
    ]


def summarise(report: ExperimentReport) -> ExperimentSummary:
    """One line per experiment: totals over variants and the leader by the primary metric."""
    variants = report.variants
    units = sum(v.totals.units for v in variants)
    converted = sum(v.totals.converted_units for v in variants)
    metric = PRIMARY_METRIC[report.experiment.objective]
    leader = _leading_variant(variants, metric)
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
        significant=bool(leader and _beats_control(leader, metric)),
        primary_metric=metric,
    )


PRIMARY_METRIC = {Objective.CONVERSION: CONVERSION, Objective.REVENUE: REVENUE_PER_VISITOR}


def _metric_value(result: VariantResult, metric: str) -> float | None:
    if metric == CONVERSION:
        return result.conversion_rate
    return result.revenue_per_visitor


def _leading_variant(variants: Sequence[VariantResult], metric: str) -> VariantResult | None:
    measured = [v for v in variants if _metric_value(v, metric) is not None]
    return max(measured, key=lambda v: _metric_value(v, metric) or 0.0, default=None)


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

    def experiment_report(self, key: str) -> ExperimentReport | None:
        with session_scope(self._sessions) as session:
            try:
                return experiment_report(session, key, now=self._clock())
            except NotFound:
                return None
