"""The console's object pages enforce the same roles and scopes as the API: each user ×
(an object of association a, one of association b, a batch of the county's bank)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.api.conftest import Seeded
from tests.api.test_access_control_matrix import add_bank_side

# page -> user -> (status for association a's object, status for association b's object)
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    "association": {
        "treasurer_a": (200, 404),
        "auditor_a": (200, 404),
        "reviewer": (200, 200),
        "bank_op": (403, 403),
        "officer_other": (404, 404),
    },
    "member": {
        "treasurer_a": (200, 404),
        "auditor_a": (200, 404),
        "reviewer": (200, 200),
        "bank_op": (403, 403),
        "officer_other": (404, 404),
    },
    "queue": {
        "treasurer_a": (403, 403),
        "auditor_a": (200, 404),
        "reviewer": (200, 200),
        "bank_op": (403, 403),
        "officer_other": (404, 404),
    },
}
BATCH_EXPECTED = {
    "treasurer_a": 403,
    "auditor_a": 404,
    "reviewer": 200,
    "bank_op": 200,
    "officer_other": 404,
}


@pytest.fixture
def token_client(console_app: FastAPI, seeded: Seeded) -> Iterator[dict[str, TestClient]]:
    clients = {}
    for user in BATCH_EXPECTED:
        client = TestClient(console_app, base_url="https://testserver")
        client.headers["Authorization"] = f"Bearer {seeded.tokens[user]}"
        client.headers["Accept"] = "text/html"
        clients[user] = client
    yield clients
    for client in clients.values():
        client.close()


def test_console_pages_follow_role_and_scope(
    token_client: dict[str, TestClient],
    seeded: Seeded,
    cash_items: dict[str, int],
    api_sessions: sessionmaker[Session],
) -> None:
    with api_sessions() as session:
        batch = add_bank_side(session, session.merge(seeded.world.a), "console")["batch"]
        session.commit()
    urls = {
        "association": (
            f"/console/associations/{seeded.world.a.id}",
            f"/console/associations/{seeded.world.b.id}",
        ),
        "member": (
            f"/console/members/{seeded.world.members_a[0].id}",
            f"/console/members/{seeded.world.members_b[0].id}",
        ),
        "queue": (f"/console/queue/{cash_items['a']}", f"/console/queue/{cash_items['b']}"),
    }
    failures = []
    for page, by_user in EXPECTED.items():
        for user, wanted in by_user.items():
            got = tuple(token_client[user].get(url).status_code for url in urls[page])
            if got != wanted:
                failures.append(f"{user} {page}: want {wanted}, got {got}")
    for user, wanted_status in BATCH_EXPECTED.items():
        status = token_client[user].get(f"/console/batches/{batch}").status_code
        if status != wanted_status:
            failures.append(f"{user} batch: want {wanted_status}, got {status}")
    assert not failures, "\n".join(failures)
