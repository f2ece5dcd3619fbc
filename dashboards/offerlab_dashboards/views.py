"""Routes of the dashboards blueprint: overview, experiment page and CSV export."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from offerlab.errors import Conflict, NotFound
from offerlab_dashboards.bandit_panels import (
    bandit_results_view,
    measurement_view,
    recommendation_view,
    segment_weights_views,
)
from offerlab_dashboards.charts import allocation_chart, conversion_chart
from offerlab_dashboards.csv_export import variant_table_csv
from offerlab_dashboards.daily_charts import daily_units_chart, over_time_chart
from offerlab_dashboards.login import check_csrf, install_sign_in, signed_in_admin
from offerlab_dashboards.segments import MAX_ATTRIBUTE_LENGTH, parse_segment_request
from offerlab_dashboards.source import RecommendationActions, ReportSource
from offerlab_dashboards.viewmodels import experiment_view, placement_views

EXTENSION_KEY = "offerlab_dashboards"

# Everything is served locally; Chart.js only sets styles through the CSSOM, which CSP allows.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_UNSAFE_FILENAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")

bp = Blueprint(
    "dashboards",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


install_sign_in(bp)


@dataclass(frozen=True)
class DashboardConfig:
    """What `init_app` hands to the views through `app.extensions`."""

    reports: ReportSource
    refresh_seconds: int | None


def _config() -> DashboardConfig:
    config: DashboardConfig = current_app.extensions[EXTENSION_KEY]
    return config


@bp.context_processor
def _page_settings() -> dict[str, Any]:
    return {"refresh_seconds": _config().refresh_seconds}


@bp.after_request
def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
def index() -> str:
    """Every placement with its upsell and cross-sell experiments."""
    placements = placement_views(_config().reports.placement_reports())
    return render_template("dashboards/index.html", placements=placements)


@bp.get("/experiments/<key>")
def experiment(key: str) -> str | tuple[str, int]:
    """One experiment: health, verdict, variant table, charts, breakdown by `?segment=`."""
    segments = parse_segment_request(request.args.getlist("segment"))
    report = _config().reports.experiment_report(key, segments=segments.attributes)
    if report is None:
        return _not_found(key)
    recommendation = recommendation_view(report)
    return render_template(
        "dashboards/experiment.html",
        experiment=experiment_view(report),
        bandit=bandit_results_view(report),
        measurement=measurement_view(report),
        recommendation=recommendation,
        can_apply_recommendation=bool(
            recommendation and recommendation.pending and _actions() and signed_in_admin()
        ),
        segment_weights=segment_weights_views(report),
        conversion_chart=conversion_chart(report),
        allocation_chart=allocation_chart(report),
        over_time_chart=over_time_chart(report),
        daily_units_chart=daily_units_chart(report),
        requested_segments=segments.attributes or (),
        rejected_segments=segments.rejected,
        max_segment_length=MAX_ATTRIBUTE_LENGTH,
    )


@bp.post("/experiments/<key>/rollout")
def apply_rollout(key: str) -> BaseResponse | tuple[str, int]:
    """Admins apply a bandit's winner recommendation (CSRF-checked, audit-logged as manual)."""
    check_csrf()
    role, actions = signed_in_admin(), _actions()
    if role is None or actions is None:
        return render_template("dashboards/refused.html", key=key, message=_ADMINS_ONLY), 403
    try:
        actions.apply_recommendation(key, actor=f"dashboard {role}")
    except NotFound:
        return _not_found(key)
    except Conflict as refused:
        return render_template("dashboards/refused.html", key=key, message=str(refused)), 409
    return redirect(url_for("dashboards.experiment", key=key, _anchor="recommendation"), 303)


def _actions() -> RecommendationActions | None:
    reports = _config().reports
    return reports if isinstance(reports, RecommendationActions) else None


_ADMINS_ONLY = "Only a signed-in admin can roll out a recommendation."


@bp.get("/experiments/<key>.csv")
def experiment_csv(key: str) -> Response | tuple[str, int]:
    """The experiment's variant table as a CSV download."""
    report = _config().reports.experiment_report(key)
    if report is None:
        return _not_found(key)
    filename = _UNSAFE_FILENAME_CHARACTERS.sub("_", key) or "experiment"
    return Response(
        variant_table_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _not_found(key: str) -> tuple[str, int]:
    return render_template("dashboards/not_found.html", key=key), 404
