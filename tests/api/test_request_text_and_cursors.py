"""A cursor must hold values of its list's sort key (integers here, 64-bit) and request text
must hold no NUL character: either is refused with a clear 422, on SQLite (which would take
them) and on PostgreSQL (which fails on them, as a server error before)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.queue.models import QueueItem
from tests.api.conftest import ClientFor, PostgresApi, Seeded, file_village_cash


def cursor_of(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


WRONG_CURSORS: list[tuple[str, list[Any], str]] = [
    ("/api/v1/associations", ["x", "y"], "1 value"),  # the tester's WyJ4IiwieSJd
    ("/api/v1/associations", ["x"], "integer"),
    ("/api/v1/associations", [1.5], "integer"),
    ("/api/v1/associations", [True], "integer"),
    ("/api/v1/associations", [2**63], "range"),
    ("/api/v1/audit-events", ["1"], "integer"),
    ("/api/v1/queue-items", [1, "x"], "integer"),
    ("/api/v1/queue-items", [99999999999999999999, 1], "range"),
]


def assert_wrong_cursors_refused(client: TestClient) -> None:
    for path, values, says in WRONG_CURSORS:
        answer = client.get(path, params={"cursor": cursor_of(values)})
        assert answer.status_code == 422, (path, values, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "invalid_cursor"
        assert says in answer.json()["message_en"], answer.json()
        assert answer.json()["message_zh"].startswith("分页游标无效")


def test_the_testers_cursor_of_two_texts_is_refused_as_invalid(client_for: ClientFor) -> None:
    # the queue's work list pages on two columns (priority, id): the cursor has their width
    answer = client_for("officer").get("/api/v1/queue-items?cursor=WyJ4IiwieSJd")
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_cursor"
    assert answer.json()["message_en"].endswith("value 1 must be an integer")


def test_cursors_holding_values_of_the_wrong_type_or_size_are_refused(
    client_for: ClientFor,
) -> None:
    assert_wrong_cursors_refused(client_for("admin"))


def test_a_cursor_the_api_gave_still_leads_to_the_next_page(client_for: ClientFor) -> None:
    client = client_for("admin")
    first = client.get("/api/v1/audit-events", params={"limit": 2}).json()
    assert first["next_cursor"] is not None
    second = client.get("/api/v1/audit-events", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.status_code == 200
    assert second.json()["items"][0]["id"] < first["items"][-1]["id"]


def queue_item(sessions: sessionmaker[Session], seeded: Seeded) -> int:
    with sessions() as session:
        item = file_village_cash(session, session.merge(seeded.world.a), tag="nul")
        session.commit()
        return item


def assignee_of(sessions: sessionmaker[Session], item_id: int) -> str | None:
    with sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        return item.assignee


def assert_nul_refused(answer: Any, where: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "request_invalid"
    assert "NUL" in answer.json()["message_en"]
    assert where in answer.json()["message_en"]
    assert "空字符" in answer.json()["message_zh"]


def test_an_assignee_holding_a_nul_is_refused_and_nothing_is_stored(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    item = queue_item(api_sessions, seeded)
    client = client_for("officer")
    url = f"/api/v1/queue-items/{item}/assign"
    assert_nul_refused(client.post(url, json={"assignee": "zhang\x00san"}), "body.assignee")
    assert assignee_of(api_sessions, item) is None
    assert client.post(url, json={"assignee": "reviewer"}).status_code == 200
    assert assignee_of(api_sessions, item) == "reviewer"


def test_a_nul_in_a_query_or_a_nested_body_or_a_sign_in_is_refused(
    client_for: ClientFor, seeded: Seeded
) -> None:
    client = client_for("officer")
    assert_nul_refused(client.get("/api/v1/audit-events", params={"action": "x\x00"}), "action")
    member = seeded.world.members_a[0].id
    loan = {"contract_no": "N-1", "member_id": member, "guarantor_ids": [], "purpose": "\x00"}
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    assert_nul_refused(client.post(url, json=loan), "body.purpose")
    sign_in = client_for(None).post(
        "/api/v1/auth/login", json={"username": "officer\x00", "password": "x"}
    )
    assert_nul_refused(sign_in, "body.username")


@pytest.mark.postgres
def test_wrong_cursors_and_nul_text_are_422s_on_postgres(postgres_api: PostgresApi) -> None:
    assert_wrong_cursors_refused(postgres_api.client("admin"))
    item = queue_item(postgres_api.sessions, postgres_api.seeded)
    client = postgres_api.client("officer")
    url = f"/api/v1/queue-items/{item}/assign"
    assert_nul_refused(client.post(url, json={"assignee": "zhang\x00san"}), "body.assignee")
    assert client.post(url, json={"assignee": "reviewer"}).status_code == 200
    assert assignee_of(postgres_api.sessions, item) == "reviewer"
