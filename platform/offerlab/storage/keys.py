"""API keys: random secrets shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from offerlab.storage.tables import ApiKeyRow

ROLES = ("sdk", "viewer", "admin")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(session: Session, *, role: str, name: str, now: datetime) -> tuple[ApiKeyRow, str]:
    """Create a key; returns the row and the secret, which is never stored in clear."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    prefix = f"ol_{role}_{secrets.token_hex(4)}"
    secret = f"{prefix}_{secrets.token_hex(24)}"
    row = ApiKeyRow(
        name=name, role=role, prefix=prefix, secret_hash=hash_secret(secret), created_at=now
    )
    session.add(row)
    session.flush()
    return row, secret


def find_active_key(session: Session, secret: str) -> ApiKeyRow | None:
    """The active key whose secret this is, or None."""
    prefix = secret.rsplit("_", 1)[0] if secret.count("_") >= 3 else ""
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
        return None
    return row


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)))


def revoke_key(session: Session, prefix: str, *, now: datetime) -> bool:
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
    if row is None:
        return False
    row.revoked_at = row.revoked_at or now
    return True
