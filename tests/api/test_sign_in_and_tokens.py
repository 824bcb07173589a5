"""Signing in through the API: cookies with CSRF for browsers, bearer tokens for machines,
rate-limited attempts, disabled users shut out at once."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import credentials
from tests.api.conftest import PASSWORD, ClientFor, Seeded


def browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)


def test_cookie_session_needs_the_csrf_header_to_write(app: FastAPI, seeded: Seeded) -> None:
    with browser(app) as client:
        signed = client.post(
            "/api/v1/auth/login", json={"username": "officer", "password": PASSWORD}
        )
        assert signed.status_code == 200
        token = signed.json()["csrf_token"]
        assert client.get("/api/v1/auth/me").json()["username"] == "officer"
        member_id = seeded.world.members_a[0].id
        refused = client.post(f"/api/v1/members/{member_id}/unmask")
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf_rejected"
        wrong = client.post(
            f"/api/v1/members/{member_id}/unmask", headers={"X-CSRF-Token": token + "x"}
        )
        assert wrong.status_code == 403
        allowed = client.post(
            f"/api/v1/members/{member_id}/unmask", headers={"X-CSRF-Token": token}
        )
        assert allowed.status_code == 200


def test_bearer_token_needs_no_csrf(client_for: ClientFor, seeded: Seeded) -> None:
    member_id = seeded.world.members_a[0].id
    response = client_for("officer").post(f"/api/v1/members/{member_id}/unmask")
    assert response.status_code == 200


def test_unknown_token_and_no_credentials_are_401(client_for: ClientFor, app: FastAPI) -> None:
    anonymous = client_for(None).get("/api/v1/associations")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.json()["code"] == "unauthenticated"
    with browser(app) as client:
        forged = client.get(
            "/api/v1/associations", headers={"Authorization": "Bearer hz_not-a-token"}
        )
    assert forged.status_code == 401


def test_repeated_failures_are_rate_limited(app: FastAPI) -> None:
    with browser(app) as client:
        for _ in range(5):
            bad = client.post(
                "/api/v1/auth/login", json={"username": "reviewer", "password": "wrong-pass-1"}
            )
            assert bad.status_code == 401
        limited = client.post(
            "/api/v1/auth/login", json={"username": "reviewer", "password": PASSWORD}
        )
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0


def test_disabled_user_loses_tokens_and_sessions(
    app: FastAPI, client_for: ClientFor, api_sessions: sessionmaker[Session]
) -> None:
    client = client_for("treasurer_a")
    assert client.get("/api/v1/associations").status_code == 200
    with browser(app) as web:
        assert (
            web.post(
                "/api/v1/auth/login", json={"username": "treasurer_a", "password": PASSWORD}
            ).status_code
            == 200
        )
        with api_sessions() as session:
            credentials.disable_user(session, "treasurer_a", actor="test")
            session.commit()
        assert web.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/associations").status_code == 401


def test_english_problem_details_on_request(client_for: ClientFor) -> None:
    response = client_for(None).get("/api/v1/associations", headers={"Accept-Language": "en"})
    assert response.json()["detail"] == "authentication required"
    zh = client_for(None).get("/api/v1/associations")
    assert zh.json()["detail"] == "请先登录"


def test_invalid_cursor_and_limit_are_clear_422s(client_for: ClientFor) -> None:
    client = client_for("officer")
    bad_cursor = client.get("/api/v1/associations", params={"cursor": "!!not-base64"})
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "invalid_cursor"
    bad_limit = client.get("/api/v1/associations", params={"limit": 0})
    assert bad_limit.status_code == 422
    assert bad_limit.json()["code"] == "request_invalid"
    assert "limit" in bad_limit.json()["detail"]


def test_cursor_pages_cover_every_row_once(client_for: ClientFor, seeded: Seeded) -> None:
    client = client_for("officer")
    url = f"/api/v1/associations/{seeded.world.a.id}/members"
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, str | int] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = client.get(url, params=params).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(m.id for m in seeded.world.members_a)


def test_api_sign_in_takes_only_json_so_a_cross_site_form_cannot_post_it(app: FastAPI) -> None:
    # A form on another site can send text/plain or form-encoded bodies without a preflight,
    # never application/json: the API's sign-in must refuse anything else.
    body = json.dumps({"username": "officer", "password": PASSWORD})
    with browser(app) as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = client.post(
                "/api/v1/auth/login", content=body, headers={"Content-Type": content_type}
            )
            assert response.status_code == 422, content_type
            assert "huzhu_session" not in response.headers.get("set-cookie", "")
