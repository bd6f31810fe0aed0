"""The access token, the Host check and the security headers of the viewer."""

from __future__ import annotations

import pytest

from .conftest import MakeClient

TOKEN = "s3cret-token-for-tests"


@pytest.mark.parametrize("path", ["/", "/api/runs", "/static/app.js", "/runs/anything"])
def test_without_the_token_every_request_is_401(make_client: MakeClient, path: str) -> None:
    client = make_client(token=TOKEN)
    res = client.get(path)
    assert res.status_code == 401
    assert "needs its access token" in res.text


def test_a_wrong_token_is_403_wherever_it_comes_from(make_client: MakeClient) -> None:
    client = make_client(token=TOKEN)
    assert client.get("/", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get("/", headers={"X-Blazen-Token": "nope"}).status_code == 403
    res = client.get("/api/runs", headers={"X-Blazen-Token": "nope"})
    assert res.status_code == 403
    assert res.json() == {"error": "forbidden: wrong access token"}
    res = client.get("/?token=nope")
    assert res.status_code == 403
    assert "the token in the link is wrong" in res.text
    client.cookies.set("blazen_token", "nope")
    assert client.get("/").status_code == 403


def test_the_right_token_in_a_header_is_accepted(
    make_client: MakeClient, ids: dict[str, str]
) -> None:
    client = make_client(token=TOKEN)
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    res = client.get(f"/api/runs/{ids['pipeline']}", headers={"X-Blazen-Token": TOKEN})
    assert res.status_code == 200
    assert res.json()["status"] == "completed"


def test_a_token_link_sets_a_cookie_and_drops_the_token_from_the_address(
    make_client: MakeClient,
) -> None:
    client = make_client(token=TOKEN)
    res = client.get(f"/?status=failed&token={TOKEN}")
    assert res.status_code == 303
    assert res.headers["location"] == "/?status=failed"
    cookie = res.headers["set-cookie"]
    assert cookie.startswith(f"blazen_token={TOKEN};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    page = client.get("/?status=failed")  # the client keeps the cookie
    assert page.status_code == 200
    assert "ui-failing" in page.text
    assert client.get("/static/style.css").status_code == 200


def test_a_loopback_viewer_refuses_other_host_names(make_client: MakeClient) -> None:
    client = make_client(allowed_hosts=["127.0.0.1", "localhost", "::1"])
    assert client.get("/").status_code == 200
    assert client.get("/", headers={"Host": "localhost:8787"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8787"}).status_code == 200
    res = client.get("/", headers={"Host": "attacker.example:8787"})
    assert res.status_code == 400
    assert "bad Host header" in res.text


def test_pages_carry_security_headers(client_headers: dict[str, str]) -> None:
    assert "default-src 'self'" in client_headers["content-security-policy"]
    assert "frame-ancestors 'none'" in client_headers["content-security-policy"]
    assert client_headers["x-frame-options"] == "DENY"
    assert client_headers["x-content-type-options"] == "nosniff"
    assert client_headers["referrer-policy"] == "no-referrer"


@pytest.fixture
def client_headers(make_client: MakeClient) -> dict[str, str]:
    return dict(make_client().get("/").headers)


def test_refusals_also_carry_security_headers(make_client: MakeClient) -> None:
    res = make_client(token=TOKEN).get("/")
    assert res.status_code == 401
    assert res.headers["x-frame-options"] == "DENY"
