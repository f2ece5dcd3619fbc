"""Dashboard fixtures: the example reports (tests/support/dashboard_reports.py and
dashboard_bandit_reports.py) behind a fake report source, and a Flask app serving them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest
from dashboard_bandit_reports import recommendation_log, upgrade_bandit_report
from dashboard_reports import bundle_report, placement_reports, warranty_report
from flask import Flask
from flask.testing import FlaskClient

from offerlab.domain.reports import AuditEntry, ExperimentReport, PlacementReport
from offerlab_dashboards import init_app


@dataclass
class FakeSource:
    """In-memory ReportSource; records the keys and segment attributes it was asked for."""

    placements: Sequence[PlacementReport] = ()
    experiments: dict[str, ExperimentReport] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    asked_segments: list[Sequence[str] | None] = field(default_factory=list)

    def placement_reports(self) -> Sequence[PlacementReport]:
        return self.placements

    def experiment_report(
        self, key: str, segments: Sequence[str] | None = None
    ) -> ExperimentReport | None:
        self.asked.append(key)
        self.asked_segments.append(segments)
        return self.experiments.get(key)


@pytest.fixture
def warranty() -> ExperimentReport:
    return warranty_report()


@pytest.fixture
def bundle() -> ExperimentReport:
    return bundle_report()


@pytest.fixture
def upgrade_bandit() -> ExperimentReport:
    return upgrade_bandit_report()


@pytest.fixture
def make_bandit_report() -> Callable[..., ExperimentReport]:
    """`upgrade_bandit_report`, to build variants of it (e.g. another `audit_log=`)."""
    return upgrade_bandit_report


@pytest.fixture
def recommendation_entries() -> tuple[AuditEntry, ...]:
    return recommendation_log()


@pytest.fixture
def source(
    warranty: ExperimentReport, bundle: ExperimentReport, upgrade_bandit: ExperimentReport
) -> FakeSource:
    return FakeSource(
        placements=placement_reports(),
        experiments={
            report.experiment.key: report for report in (warranty, bundle, upgrade_bandit)
        },
    )


@pytest.fixture
def app(source: FakeSource) -> Flask:
    app = Flask(__name__)
    app.config["TESTING"] = True
    init_app(app, source)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
