"""Failed sign-ins are limited per client address (20 in 15 minutes): a client that knows one
valid account cannot sign in with it now and then to guess on at other users' passwords. A
sign-in forgives only the failures of the account that signed in (its owner's typos)."""

from __future__ import annotations

from itertools import cycle

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD

OTHERS = ["auditor", "treasurer_a", "treasurer_b", "admin", "bank_op", "auditor_a"]


def attempt(client: TestClient, username: str, password: str) -> int:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return answer.status_code


def guesses(client: TestClient, count: int, targets: list[str]) -> list[int]:
    """``count`` wrong passwords, spread over ``targets`` (each under its own limit of 5)."""
    names = cycle(targets)
    return [attempt(client, next(names), f"guess-{n}-xx") for n in range(count)]


def test_signing_in_with_a_known_account_does_not_reset_the_clients_limit(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        assert guesses(client, 18, OTHERS) == [401] * 18
        assert attempt(client, "officer", PASSWORD) == 200
        assert guesses(client, 2, OTHERS) == [401, 401]  # 20 failures from this client
        assert attempt(client, "officer", PASSWORD) == 429
        assert attempt(client, "reviewer", PASSWORD) == 429
        assert guesses(client, 3, OTHERS) == [429] * 3


def test_a_users_own_typos_are_forgiven_when_they_sign_in(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        assert [attempt(client, "officer", "typo-typo-1") for _ in range(4)] == [401] * 4
        assert attempt(client, "officer", PASSWORD) == 200
        assert guesses(client, 16, OTHERS[:4]) == [401] * 16  # 16 counted, the typos not
        assert attempt(client, "reviewer", PASSWORD) == 200
