"""``Idempotency-Key`` on state-changing POSTs: a retry replays, a reuse is refused, and
concurrent duplicates change the books once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.loans.models import Loan
from tests.api.conftest import ClientFor, PostgresApi, Seeded


def application(seeded: Seeded, contract: str) -> dict[str, Any]:
    members = seeded.world.members_a
    return {
        "contract_no": contract,
        "member_id": members[0].id,
        "purpose": "养殖",
        "amount_fen": 500_000,
        "term_months": 12,
        "monthly_fee_rate_centipermille": 600,
        "applied_on": "2024-06-01",
        "guarantor_ids": [members[1].id, members[2].id],
    }


def loans_with(sessions: sessionmaker[Session], contract: str) -> int:
    with sessions() as session:
        return int(
            session.scalar(select(func.count(Loan.id)).where(Loan.contract_no == contract)) or 0
        )


def test_retry_with_the_same_key_replays_the_first_response(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "apply-0001"}
    first = client.post(url, json=application(seeded, "I-0001"), headers=headers)
    second = client.post(url, json=application(seeded, "I-0001"), headers=headers)
    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert loans_with(api_sessions, "I-0001") == 1


def test_same_key_with_a_different_body_is_refused(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "apply-0002"}
    assert client.post(url, json=application(seeded, "I-0002"), headers=headers).status_code == 201
    reused = client.post(url, json=application(seeded, "I-0003"), headers=headers)
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["code"] == "idempotency_key_reused"
    assert loans_with(api_sessions, "I-0003") == 0


def test_keys_belong_to_their_user(client_for: ClientFor, seeded: Seeded) -> None:
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "shared-key"}
    first = client_for("treasurer_a").post(url, json=application(seeded, "I-0004"), headers=headers)
    other = client_for("officer").post(url, json=application(seeded, "I-0005"), headers=headers)
    assert first.status_code == 201
    assert other.status_code == 201
    assert other.json()["contract_no"] == "I-0005"


def test_a_refused_request_is_not_remembered(client_for: ClientFor, seeded: Seeded) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "apply-0006"}
    too_big = application(seeded, "I-0006") | {"amount_fen": 9_000_000}
    refused = client.post(url, json=too_big, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "amount_over_cap"
    accepted = client.post(url, json=application(seeded, "I-0006"), headers=headers)
    assert accepted.status_code == 201


def test_without_a_key_each_post_runs(client_for: ClientFor, seeded: Seeded) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    assert client.post(url, json=application(seeded, "I-0007")).status_code == 201
    again = client.post(url, json=application(seeded, "I-0007"))
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


@pytest.mark.postgres
def test_concurrent_duplicates_apply_once_on_postgres(postgres_api: PostgresApi) -> None:
    seeded, api_sessions = postgres_api.seeded, postgres_api.sessions
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "apply-race"}
    clients = [postgres_api.client("treasurer_a") for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(
                lambda c: c.post(url, json=application(seeded, "I-RACE"), headers=headers), clients
            )
        )
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert loans_with(api_sessions, "I-RACE") == 1
    read = postgres_api.client("treasurer_a").get(f"/api/v1/loans/{responses[0].json()['id']}")
    assert read.status_code == 200  # reads run without a transaction of their own
    assert read.json()["contract_no"] == "I-RACE"
