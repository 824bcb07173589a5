"""Amounts, terms, rates, ids and priorities in a request body are JSON integers, as the
OpenAPI document says: `true` is not 1 fen, nor are "500000" or 500000.0 an amount. Each is
refused (422 request_invalid) and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.loans.models import Loan
from gateway.queue.models import QueueItem
from tests.api.conftest import ClientFor, Seeded, file_village_cash

NOT_INTEGERS: list[Any] = [True, False, "500000", 500000.0, 12.0]


def loan_body(seeded: Seeded, **changes: Any) -> dict[str, Any]:
    members = [m.id for m in seeded.world.members_a]
    body: dict[str, Any] = {
        "contract_no": "S-1",
        "member_id": members[0],
        "purpose": "养殖",
        "amount_fen": 500_000,
        "term_months": 12,
        "monthly_fee_rate_centipermille": 600,
        "applied_on": "2024-06-01",
        "guarantor_ids": [members[1], members[2]],
    }
    return body | changes


def assert_refused(answer: Any, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "request_invalid", answer.json()
    assert field in answer.text


def loan_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Loan)) or 0


@pytest.mark.parametrize(
    "field", ["amount_fen", "term_months", "monthly_fee_rate_centipermille", "member_id"]
)
def test_a_loan_application_takes_only_integers(
    field: str, client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    before = loan_count(api_sessions)
    for value in NOT_INTEGERS:
        assert_refused(client.post(url, json=loan_body(seeded, **{field: value})), field)
    guarantors = [seeded.world.members_a[1].id, str(seeded.world.members_a[2].id)]
    assert_refused(client.post(url, json=loan_body(seeded, guarantor_ids=guarantors)), "guarantor")
    assert loan_count(api_sessions) == before
    # the same application with integers is taken
    assert client.post(url, json=loan_body(seeded)).status_code == 201


def test_queue_priority_and_target_association_take_only_integers(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="strict")
        session.commit()
        priority = session.get(QueueItem, item_id).priority  # type: ignore[union-attr]
    client = client_for("officer")
    for value in NOT_INTEGERS:
        answer = client.post(
            f"/api/v1/queue-items/{item_id}/assign",
            json={"assignee": "reviewer", "priority": value},
        )
        assert_refused(answer, "priority")
        answer = client.post(
            f"/api/v1/queue-items/{item_id}/resolve",
            json={"action": "reassign", "note": "改挂", "association_id": value},
        )
        assert_refused(answer, "association_id")
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert item.assignee is None
        assert item.priority == priority
        assert item.association_id == seeded.world.a.id
