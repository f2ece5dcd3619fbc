"""The one thing the dashboards need from the service: a source of reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from offerlab.domain.reports import ExperimentReport, PlacementReport


class ReportSource(Protocol):
    """Reads reports for the dashboards; each call is independent (its own session, if any)."""

    def placement_reports(self) -> Sequence[PlacementReport]:
        """Every placement with a summary line per experiment."""
        ...

    def experiment_report(
        self, key: str, segments: Sequence[str] | None = None
    ) -> ExperimentReport | None:
        """The full report of one experiment, or None when no experiment has that key.

        `segments` are the attributes to break the results down by; None means the ones the
        experiment is configured with.
        """
        ...


@runtime_checkable
class RecommendationActions(Protocol):
    """A source that can also apply a bandit's winner recommendation (admins only)."""

    def apply_recommendation(self, key: str, *, actor: str) -> dict[str, float]:
        """Roll `key` out to its recommended winner; raises NotFound or Conflict."""
        ...
