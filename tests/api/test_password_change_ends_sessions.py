"""A new password ends the user's web sessions (API cookie and console alike): whoever signed in
with the old one is signed out. Bearer tokens are separate credentials an operator issued for a
machine; they keep working unless the password is changed with ``revoke_tokens``
(``huzhu users password NAME --revoke-tokens``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import credentials
from tests.api.conftest import PASSWORD, ClientFor

NEW_PASSWORD = "brand-new-pass-99"


def signed_in(app: FastAPI, password: str = PASSWORD) -> TestClient:
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    answer = client.post("/api/v1/auth/login", json={"username": "officer", "password": password})
    assert answer.status_code == 200, answer.text
    return client


def test_a_new_password_signs_out_every_web_session_of_the_user(
    app: FastAPI, client_for: ClientFor, api_sessions: sessionmaker[Session]
) -> None:
    first, second = signed_in(app), signed_in(app)
    other_user = client_for("reviewer")
    token = client_for("officer")
    with api_sessions() as session:
        credentials.set_password(session, "officer", NEW_PASSWORD, actor="test")
        session.commit()
    for old in (first, second):
        assert old.get("/api/v1/auth/me").status_code == 401
        old.close()
    # the new password signs in; the machine's token and other users are untouched
    fresh = signed_in(app, NEW_PASSWORD)
    assert fresh.get("/api/v1/auth/me").json()["username"] == "officer"
    fresh.close()
    assert token.get("/api/v1/auth/me").status_code == 200
    assert other_user.get("/api/v1/auth/me").status_code == 200


def test_a_new_password_can_revoke_the_users_tokens_too(
    app: FastAPI, client_for: ClientFor, api_sessions: sessionmaker[Session]
) -> None:
    token = client_for("officer")
    web = signed_in(app)
    with api_sessions() as session:
        credentials.set_password(session, "officer", NEW_PASSWORD, actor="test", revoke_tokens=True)
        session.commit()
    assert token.get("/api/v1/auth/me").status_code == 401
    assert web.get("/api/v1/auth/me").status_code == 401
    web.close()
    assert client_for("reviewer").get("/api/v1/auth/me").status_code == 200
