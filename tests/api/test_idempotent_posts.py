"""``Idempotency-Key`` on state-changing POSTs: a retry replays, a reuse is refused, and
concurrent duplicates change the books once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.models import IdempotencyRecord
from gateway.audit.models import AuditEvent
from gateway.auth.models import Role, User
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


def unmask_events(sessions: sessionmaker[Session], member_id: int) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "member.unmask", AuditEvent.object_id == str(member_id)
                )
            )
            or 0
        )


def stored_records(sessions: sessionmaker[Session]) -> list[IdempotencyRecord]:
    with sessions() as session:
        return list(session.scalars(select(IdempotencyRecord)))


def set_user(sessions: sessionmaker[Session], username: str, **values: object) -> None:
    with sessions() as session:
        session.execute(update(User).where(User.username == username).values(**values))
        session.commit()


def test_unmask_with_a_key_stores_no_clear_numbers_and_is_audited_each_time(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    member_id = seeded.world.members_a[0].id
    client = client_for("officer")
    headers = {"Idempotency-Key": "unmask-0001"}
    first = client.post(f"/api/v1/members/{member_id}/unmask", headers=headers)
    again = client.post(f"/api/v1/members/{member_id}/unmask", headers=headers)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    card, resident = first.json()["card_number"], first.json()["resident_id"]
    assert card.isdigit()
    assert len(card) >= 16
    for record in stored_records(api_sessions):
        assert card.encode() not in record.body
        assert resident.encode() not in record.body
    assert not [r for r in stored_records(api_sessions) if r.key == "unmask-0001"]
    assert unmask_events(api_sessions, member_id) == 2


def test_unmask_repeated_with_its_key_after_the_grant_is_withdrawn_is_forbidden(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    member_id = seeded.world.members_a[0].id
    client = client_for("officer")
    headers = {"Idempotency-Key": "unmask-0002"}
    assert client.post(f"/api/v1/members/{member_id}/unmask", headers=headers).status_code == 200
    set_user(api_sessions, "officer", can_unmask=False)
    again = client.post(f"/api/v1/members/{member_id}/unmask", headers=headers)
    assert again.status_code == 403
    assert again.headers["content-type"] == "application/problem+json"
    assert "card_number" not in again.text
    assert unmask_events(api_sessions, member_id) == 1


def test_a_retry_after_the_caller_lost_the_permission_is_refused_not_replayed(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "apply-0010"}
    assert client.post(url, json=application(seeded, "I-0010"), headers=headers).status_code == 201
    set_user(api_sessions, "treasurer_a", role=Role.AUDITOR)
    refused = client.post(url, json=application(seeded, "I-0010"), headers=headers)
    assert refused.status_code == 403
    assert "Idempotent-Replayed" not in refused.headers
    assert refused.json()["code"] == "forbidden"
    set_user(api_sessions, "treasurer_a", role=Role.TREASURER)
    replayed = client.post(url, json=application(seeded, "I-0010"), headers=headers)
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"


def test_a_retry_after_the_caller_was_moved_out_of_the_scope_is_not_found(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "apply-0011"}
    assert client.post(url, json=application(seeded, "I-0011"), headers=headers).status_code == 201
    set_user(api_sessions, "treasurer_a", association_id=seeded.world.b.id)
    refused = client.post(url, json=application(seeded, "I-0011"), headers=headers)
    assert refused.status_code == 404
    assert "I-0011" not in refused.text


def test_a_key_and_request_reused_by_another_user_replay_nothing_of_the_first(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    url = f"/api/v1/associations/{seeded.world.a.id}/loans"
    headers = {"Idempotency-Key": "shared-0012"}
    body = application(seeded, "I-0012")
    first = client_for("treasurer_a").post(url, json=body, headers=headers)
    outsider = client_for("treasurer_b").post(url, json=body, headers=headers)
    colleague = client_for("officer").post(url, json=body, headers=headers)
    assert first.status_code == 201
    assert outsider.status_code == 404  # association a is outside treasurer_b's scope
    assert colleague.status_code == 409  # ran as its own request: the contract exists
    assert "Idempotent-Replayed" not in outsider.headers
    assert "Idempotent-Replayed" not in colleague.headers
    assert loans_with(api_sessions, "I-0012") == 1
    owners = {r.user_id for r in stored_records(api_sessions) if r.key == "shared-0012"}
    assert len(owners) == 1
