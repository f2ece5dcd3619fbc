"""`offerlab keys create | list | revoke`, checked against the HTTP API."""

from __future__ import annotations

import re

import pytest


def created_secret(result) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(prefix, secret) from the output of `keys create`."""
    assert result.exit_code == 0, result.output
    announcement, secret = result.stdout.splitlines()
    prefix = re.search(r"key '([^']+)'", announcement).group(1)  # type: ignore[union-attr]
    assert secret.startswith(f"{prefix}_")
    return prefix, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_created_viewer_key_reads_results_and_nothing_more(applied, database_url, service_client):
    result = applied("keys", "create", "--role", "viewer", "--name", "x")

    prefix, secret = created_secret(result)
    assert result.stdout.splitlines()[0] == (
        f"created viewer key '{prefix}' (x); the secret is shown only now:"
    )
    client = service_client(database_url)
    experiments = client.get("/api/v1/experiments", headers=bearer(secret))
    assert experiments.status_code == 200
    assert len(experiments.get_json()["experiments"]) == 3
    assert client.get("/api/v1/snapshot", headers=bearer(secret)).status_code == 403
    assert client.get("/api/v1/experiments", headers=bearer(secret + "0")).status_code == 401


def test_keys_list_shows_prefix_role_name_and_state_but_never_the_secret(applied):
    _prefix, viewer = created_secret(applied("keys", "create", "--role", "viewer", "--name", "x"))
    sdk_prefix, sdk = created_secret(
        applied("keys", "create", "--role", "sdk", "--name", "web shop")
    )

    result = applied("keys", "list")

    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows == [[_prefix, "viewer", "x", "active"], [sdk_prefix, "sdk", "web shop", "active"]]
    for secret in (viewer, sdk):
        assert secret not in result.output
        assert secret.rsplit("_", 1)[1] not in result.output


def test_a_revoked_key_is_refused(applied, database_url, service_client):
    prefix, secret = created_secret(applied("keys", "create", "--role", "viewer", "--name", "x"))
    assert (
        service_client(database_url).get("/api/v1/experiments", headers=bearer(secret)).status_code
        == 200
    )

    result = applied("keys", "revoke", prefix)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"revoked {prefix}\n"
    # A fresh app: a running one may remember the key's role for up to 30 seconds.
    refused = service_client(database_url).get("/api/v1/experiments", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    listed = applied("keys", "list").stdout.split("\t")
    assert listed[-1].startswith("revoked ")


def test_revoking_an_unknown_prefix_fails(applied):
    result = applied("keys", "revoke", "ol_viewer_00000000")

    assert result.exit_code != 0
    assert "no key with prefix 'ol_viewer_00000000'" in result.stderr


@pytest.mark.parametrize("arguments", [("--role", "owner", "--name", "x"), ("--role", "sdk")])
def test_keys_create_needs_a_known_role_and_a_name(applied, arguments):
    result = applied("keys", "create", *arguments)

    assert result.exit_code == 2
    assert applied("keys", "list").stdout == ""
