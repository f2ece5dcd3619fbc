"""Guardrails and variance reduction in reports, and pausing experiments that break a guardrail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from offerlab.domain.model import Experiment
from offerlab.domain.plain import plain
from offerlab.domain.reports import GuardrailStatus, VarianceReduction
from offerlab.domain.stats.engine import AnalysisReport
from offerlab.domain.stats.guardrails import Guardrail, evaluate_guardrails
from offerlab.domain.stats.sufficient import VariantTotals
from offerlab.services import analysis_run as run


def guardrail_statuses(
    experiment: Experiment, totals: Sequence[VariantTotals]
) -> tuple[GuardrailStatus, ...]:
    """Every configured guardrail of every variant against the control."""
    settings = experiment.analysis
    if not settings.guardrails:
        return ()
    results = evaluate_guardrails(
        run.engine_inputs(experiment, totals),
        [Guardrail(g.metric, g.worse_when) for g in settings.guardrails],  # type: ignore[arg-type]
        alpha=experiment.alpha,
    )
    return tuple(
        GuardrailStatus(
            metric=result.metric,
            variant=result.variant,
            worse_when=result.worse_when,
            violated=result.violated,
            relative_change=result.relative_change,
            relative_ci=result.relative_ci,
            p_value=result.p_value,
            error=result.error,
        )
        for result in results
    )


def variance_reduction(
    experiment: Experiment, analysis: AnalysisReport, totals: Sequence[VariantTotals]
) -> VarianceReduction | None:
    """Whether CUPED was used on the covariate, and how much it narrowed the intervals."""
    covariate = experiment.analysis.covariate
    if not covariate:
        return None
    reduction = analysis.variance_reduction
    return VarianceReduction(
        metric=reduction.metric if reduction else "revenue_per_unit",
        covariate=covariate,
        used=bool(reduction and reduction.covariate_used),
        interval_narrowing=reduction.interval_narrowing if reduction else None,
        units_with_covariate=sum(t.covariate_units for t in totals),
    )


def pause_evidence(statuses: Sequence[GuardrailStatus], units: int) -> dict[str, Any]:
    """What the audit log keeps of a guardrail pause: the violated guardrails and sample size."""
    return {
        "reason": "guardrail violated",
        "units": units,
        "violations": [plain(status) for status in statuses if status.violated],
    }
