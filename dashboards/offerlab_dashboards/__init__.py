"""Managers' dashboards: server-rendered pages over experiment and placement reports."""

from __future__ import annotations

from flask import Flask

from offerlab_dashboards.login import AUTHENTICATOR_KEY, Authenticate, install_lazy_sessions
from offerlab_dashboards.source import ReportSource
from offerlab_dashboards.views import EXTENSION_KEY, DashboardConfig, bp

__all__ = ["ReportSource", "init_app"]

DEFAULT_REFRESH_SECONDS = 10


def init_app(
    app: Flask,
    reports: ReportSource,
    *,
    url_prefix: str = "/dashboards",
    refresh_seconds: int | None = DEFAULT_REFRESH_SECONDS,
    authenticate: Authenticate | None = None,
) -> None:
    """Mount the dashboards on `app`, reading reports from `reports`.

    Pages reload themselves every `refresh_seconds` (None turns that off), so results of a
    running experiment appear without a manual reload. With `authenticate` (API key -> role or
    None), every page needs a signed-in viewer or admin (session cookie; `app.secret_key` must be
    set) or a `Authorization: Bearer` viewer/admin key.
    """
    config = DashboardConfig(reports=reports, refresh_seconds=refresh_seconds)
    app.extensions[EXTENSION_KEY] = config
    if authenticate is not None:
        app.extensions[AUTHENTICATOR_KEY] = authenticate
        install_lazy_sessions(app)
    app.register_blueprint(bp, url_prefix=url_prefix)
