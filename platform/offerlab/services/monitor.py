"""The guardrail monitor: pauses running experiments whose guardrail is violated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from offerlab.domain.model import ExperimentStatus
from offerlab.services.experiments import set_status
from offerlab.services.guardrails import pause_evidence
from offerlab.services.reporting import build_report
from offerlab.storage import experiments as store

AUTO_PAUSE_ACTOR = "guardrail-monitor"


def enforce_guardrails(session: Session, *, now: datetime) -> list[str]:
    """Pause every running experiment with auto_pause_on_guardrail whose guardrail is violated.

    Returns the keys of the experiments paused; each pause is audit-logged with its evidence.
    """
    paused = []
    for row in store.list_experiment_rows(session):
        experiment = store.to_domain(row)
        settings = experiment.analysis
        if experiment.status is not ExperimentStatus.RUNNING:
            continue
        if not (settings.auto_pause_on_guardrail and settings.guardrails):
            continue
        report = build_report(session, row, now=now, detail=False)
        if report.guardrail_violated:
            units = sum(v.totals.units for v in report.variants)
            set_status(
                session,
                experiment.key,
                ExperimentStatus.PAUSED,
                now=now,
                actor=AUTO_PAUSE_ACTOR,
                evidence=pause_evidence(report.guardrails, units),
            )
            paused.append(experiment.key)
    return paused
