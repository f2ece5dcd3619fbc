"""API keys and roles: `sdk` reads config, assigns and writes events; `viewer` reads results;
`admin` does everything."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from offerlab.api.context import services
from offerlab.errors import Forbidden, Unauthorized

PERMISSIONS: dict[str, frozenset[str]] = {
    "sdk": frozenset({"config", "assign", "events"}),
    "viewer": frozenset({"read"}),
    "admin": frozenset({"config", "assign", "events", "read", "manage"}),
}

F = TypeVar("F", bound=Callable[..., Any])


def presented_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def require(permission: str) -> Callable[[F], F]:
    """Reject the request unless it carries an active key whose role grants `permission`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            secret = presented_secret()
            if secret is None:
                raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
            identity = services().key_identity(secret)
            if identity is None:
                raise Unauthorized("the API key is unknown or revoked")
            role, g.key_id = identity
            if permission not in PERMISSIONS[role]:
                raise Forbidden(f"a {role!r} key may not do this")
            g.role = role
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate
