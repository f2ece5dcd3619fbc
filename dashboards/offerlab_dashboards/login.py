"""Dashboard sign-in: a viewer or admin key, a signed session cookie, CSRF-checked forms."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request

READER_ROLES = frozenset({"viewer", "admin"})
SESSION_ROLE = "dashboard_role"
SESSION_CSRF = "dashboard_csrf"
AUTHENTICATOR_KEY = "offerlab_dashboards.authenticate"
OPEN_ENDPOINTS = frozenset({"dashboards.login", "dashboards.static"})

Authenticate = Callable[[str], str | None]


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the cookie signer for a request that
    carries no session cookie (every API call opens the session, and the signer costs ~0.1 ms)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # An API call carries no Cookie header at all: skip parsing one.
        if app.secret_key and (
            "Cookie" not in request.headers or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)


def install_lazy_sessions(app: Flask) -> None:
    """Open the sign-in cookie lazily, unless the app brought a session interface of its own."""
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = LazyCookieSessionInterface()


def install_sign_in(bp: Blueprint) -> None:
    """Guard every dashboard page and add /login and /logout to the blueprint."""
    bp.before_request(_require_reader)
    bp.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", _logout, methods=["POST"])
    bp.context_processor(lambda: {"csrf_token": csrf_token, "signed_in": _signed_in_role()})


def _authenticate() -> Authenticate | None:
    return current_app.extensions.get(AUTHENTICATOR_KEY)  # type: ignore[no-any-return]


def _signed_in_role() -> str | None:
    return session.get(SESSION_ROLE) if _authenticate() else None


def _require_reader() -> Response | None:
    authenticate = _authenticate()
    if authenticate is None or request.endpoint in OPEN_ENDPOINTS:
        return None
    if session.get(SESSION_ROLE) in READER_ROLES:
        return None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and authenticate(header[7:].strip()) in READER_ROLES:
        return None
    return redirect(url_for("dashboards.login", next=request.full_path.rstrip("?")))


def signed_in_admin() -> str | None:
    """The admin role when an admin signed in through the form (forms need the session)."""
    role = _signed_in_role()
    return role if role == "admin" else None


def check_csrf() -> None:
    """Abort with 400 unless the posted form carries the session's CSRF token."""
    _check_csrf()


def csrf_token() -> str:
    """The session's CSRF token for forms, created on first use."""
    if SESSION_CSRF not in session:
        session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(session[SESSION_CSRF])


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get(SESSION_CSRF, "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, "The form expired or did not come from this site; reload and try again.")


def _login() -> Any:
    authenticate = _authenticate()
    if authenticate is None:
        return redirect(url_for("dashboards.index"))
    target = _safe_next(request.values.get("next", ""))
    if request.method == "GET":
        return _login_page(target, None)
    _check_csrf()
    role = authenticate(request.form.get("key", "").strip())
    if role not in READER_ROLES:
        error = (
            "This key may not read results: use a viewer or admin key."
            if role
            else "Unknown or revoked key."
        )
        return _login_page(target, error), 403 if role else 401
    session.clear()
    session[SESSION_ROLE] = role
    session.permanent = True
    return redirect(target)


def _login_page(target: str, error: str | None) -> str:
    # No auto-refresh here: it would wipe a key being typed.
    return render_template("dashboards/login.html", next=target, error=error, refresh_seconds=None)


def _logout() -> Response:
    _check_csrf()
    session.clear()
    return redirect(url_for("dashboards.login"))


def _safe_next(target: str) -> str:
    """Only paths inside the dashboards: a sign-in link never sends anyone to another site."""
    prefix = url_for("dashboards.index")
    if target.startswith(prefix) and not target.startswith("//"):
        return target
    return prefix
