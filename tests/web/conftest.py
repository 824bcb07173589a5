"""The console's tests reuse the API tests' seeded county and add the app with its console."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.app import create_app
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings
from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tests
    PASSWORD,
    Seeded,
    api_db_url,
    api_engine,
    api_sessions,
    field_cipher,
    file_booked_village_cash,
    file_village_cash,
    seeded,
    seeded_template,
)


@pytest.fixture
def console_app(api_engine: Engine, field_cipher: FieldCipher, tmp_path: Path) -> FastAPI:  # noqa: F811
    settings = Settings(database_url=str(api_engine.url), field_key_file=tmp_path / "unused.key")
    return create_app(settings, engine=api_engine, cipher=field_cipher, bank_transports={})


SignIn = Callable[[str], TestClient]


def login_form_token(client: TestClient) -> str:
    """Open the sign-in form (which sets its CSRF cookie) and return the token it carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found, "the sign-in form carries no CSRF token"
    return found.group(1)


def submit_login(client: TestClient, username: str, password: str, **extra: str) -> Response:
    """Sign in through the form, as a browser does: fetch the form, post it with its token."""
    data = {"username": username, "password": password, "csrf_token": login_form_token(client)}
    return client.post("/login", data=data | extra)


@pytest.fixture
def browser(console_app: FastAPI) -> Iterator[SignIn]:
    """A client signed in through the login form as the named user."""
    clients: list[TestClient] = []

    def sign_in(username: str) -> TestClient:
        client = TestClient(console_app, base_url="https://testserver", follow_redirects=False)
        clients.append(client)
        response = submit_login(client, username, PASSWORD, next="/console")
        assert response.status_code == 303, response.text
        return client

    yield sign_in
    for client in clients:
        client.close()


def _cash_items(
    sessions: sessionmaker[Session], county: Seeded, file: Callable[..., int]
) -> dict[str, int]:
    with sessions() as session:
        a = session.merge(county.world.a)
        b = session.merge(county.world.b)
        items = {
            "a": file(session, a, tag="web-a"),
            "b": file(session, b, tag="web-b", amount_fen=120_000),
        }
        session.commit()
    return items


@pytest.fixture
def cash_items(api_sessions: sessionmaker[Session], seeded: Seeded) -> dict[str, int]:  # noqa: F811
    """A village-cash item in association a and one in b, filed by the queue service."""
    return _cash_items(api_sessions, seeded, file_village_cash)


@pytest.fixture
def booked_cash_items(
    api_sessions: sessionmaker[Session],  # noqa: F811
    seeded: Seeded,  # noqa: F811
) -> dict[str, int]:
    """As ``cash_items``, their cash deposits since answered in the books: items a person may
    dismiss with a justification (a dismissal leaves no money unaccounted for)."""
    return _cash_items(api_sessions, seeded, file_booked_village_cash)
