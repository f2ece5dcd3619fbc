"""The dashboards need a viewer or admin: a signed session from the sign-in form, or a key."""

from __future__ import annotations

import re

import pytest
from servicefixtures import auth

PAGES = [
    "/dashboards/",
    "/dashboards/experiments/cart-accessory-cross-sell",
    "/dashboards/experiments/cart-accessory-cross-sell.csv",
]


def csrf_from(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def sign_in(client, key: str, next_path: str = "/dashboards/"):  # type: ignore[no-untyped-def]
    form = client.get(f"/dashboards/login?next={next_path}").get_data(as_text=True)
    return client.post(
        "/dashboards/login", data={"key": key, "csrf_token": csrf_from(form), "next": next_path}
    )


@pytest.mark.parametrize("page", PAGES)
def test_pages_send_strangers_to_the_sign_in_form_without_data(client, applied, page):
    response = client.get(page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboards/login?next=")
    assert b"Accessory" not in response.data


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_a_viewer_or_admin_signs_in_and_reads_every_page(client, applied, api_keys, role):
    target = "/dashboards/experiments/cart-accessory-cross-sell"
    response = sign_in(client, api_keys[role], target)
    assert (response.status_code, response.headers["Location"]) == (302, target)
    for page in PAGES:
        assert client.get(page).status_code == 200
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_an_sdk_key_or_a_wrong_key_cannot_sign_in(client, applied, api_keys):
    assert sign_in(client, api_keys["sdk"]).status_code == 403
    assert sign_in(client, "ol_viewer_00000000_wrong").status_code == 401
    assert client.get("/dashboards/").status_code == 302


def test_the_sign_in_form_refuses_a_missing_or_foreign_csrf_token(client, applied, api_keys):
    client.get("/dashboards/login")
    response = client.post(
        "/dashboards/login", data={"key": api_keys["viewer"], "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert client.get("/dashboards/").status_code == 302


def test_sign_in_never_redirects_off_site(client, applied, api_keys):
    response = sign_in(client, api_keys["viewer"], "https://evil.example/")
    assert response.headers["Location"] == "/dashboards/"


def test_sign_out_ends_the_session(client, applied, api_keys):
    sign_in(client, api_keys["viewer"])
    page = client.get("/dashboards/").get_data(as_text=True)
    assert (
        client.post("/dashboards/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    )
    assert client.get("/dashboards/").status_code == 302


def test_a_viewer_key_header_reads_pages_without_a_session(client, applied, api_keys):
    assert client.get("/dashboards/", headers=auth(api_keys["viewer"])).status_code == 200
    assert client.get("/dashboards/", headers=auth(api_keys["sdk"])).status_code == 302
