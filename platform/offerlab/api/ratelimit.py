"""Per-key rate limits on the storefront's hot endpoints (Flask-Limiter), answered with 429."""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from offerlab.api.auth import presented_secret
from offerlab.settings import Settings

LIMITED_ENDPOINTS = {
    "storefront.events": "rate_limit_events",
    "storefront.assign": "rate_limit_assign",
}


def rate_limit_key() -> str:
    """The caller's API key (hashed, never stored in clear), or its address when it has none."""
    secret = presented_secret()
    if secret:
        return "key:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:32]
    return "addr:" + (get_remote_address() or request.remote_addr or "unknown")


def init_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Limit events and assign per key; the limits and their storage come from the settings."""
    limiter = Limiter(
        rate_limit_key,
        app=app,
        storage_uri=settings.rate_limit_storage,
        headers_enabled=True,
        default_limits=[],
    )
    for endpoint, setting in LIMITED_ENDPOINTS.items():
        limit = getattr(settings, setting)
        if limit:
            app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
    return limiter
