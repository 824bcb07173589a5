"""The sign-in form carries its own CSRF token: a sign-in posted from elsewhere (no token, or
one that does not match the form's cookie) is refused before the password is looked at, and
counts toward no lock-out."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD
from tests.web.conftest import login_form_token, submit_login

STALE_ZH = "登录表单已失效或并非来自本站"


def _client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def test_the_form_carries_a_token_and_sets_a_strict_cookie(console_app: FastAPI) -> None:
    with _client(console_app) as c:
        response = c.get("/login")
        token = login_form_token(c)
    cookie = response.headers["set-cookie"].lower()
    assert f"huzhu_login_csrf={token.lower()}" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/login" in cookie
    assert len(token) >= 32


def test_a_post_without_a_token_is_refused(console_app: FastAPI) -> None:
    with _client(console_app) as c:
        response = c.post("/login", data={"username": "officer", "password": PASSWORD})
    assert response.status_code == 403
    assert STALE_ZH in response.text
    assert "huzhu_session" not in response.headers.get("set-cookie", "")


def test_a_post_with_a_wrong_token_is_refused(console_app: FastAPI) -> None:
    with _client(console_app) as c:
        login_form_token(c)  # the victim's browser holds its own form cookie
        response = c.post(
            "/login",
            data={"username": "officer", "password": PASSWORD, "csrf_token": "x" * 43},
        )
    assert response.status_code == 403
    assert STALE_ZH in response.text
    assert "huzhu_session" not in response.headers.get("set-cookie", "")


def test_an_attackers_own_token_does_not_work_in_another_browser(console_app: FastAPI) -> None:
    with _client(console_app) as attacker, _client(console_app) as victim:
        stolen = login_form_token(attacker)
        login_form_token(victim)
        response = victim.post(
            "/login", data={"username": "officer", "password": PASSWORD, "csrf_token": stolen}
        )
    assert response.status_code == 403


def test_refused_posts_count_toward_no_lock_out(console_app: FastAPI) -> None:
    with _client(console_app) as forged:
        for _ in range(8):  # more than the five failures that lock a user name out
            refused = forged.post("/login", data={"username": "officer", "password": "bad-1"})
            assert refused.status_code == 403
    with _client(console_app) as c:
        signed_in = submit_login(c, "officer", PASSWORD)
    assert signed_in.status_code == 303
    assert "huzhu_session=" in signed_in.headers["set-cookie"]


def test_the_refusal_speaks_english_when_asked(console_app: FastAPI) -> None:
    with _client(console_app) as c:
        c.cookies.set("lang", "en")
        response = c.post("/login", data={"username": "officer", "password": PASSWORD})
    assert response.status_code == 403
    assert "did not come from this site" in response.text
