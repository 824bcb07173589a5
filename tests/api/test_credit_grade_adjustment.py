"""The county adjusts a member's credit grade between yearly reviews through the API
(``POST /api/v1/members/{id}/credit-grade``): a grade of the county's table with a reason,
audited and idempotent; a grade outside the table, a blank reason, or a caller without the
right or outside the county refused as problem+json. ``huzhu grades adjust`` is tested in
tests/gateway/test_grade_adjustment_command.py."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import AuditEvent
from gateway.members.models import Member
from tests.api.conftest import ClientFor, Seeded

ACTION = "member.credit_grade_adjust"


def grade_of(sessions: sessionmaker[Session], member_id: int) -> str:
    with sessions() as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member.credit_grade


def adjustments(sessions: sessionmaker[Session]) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == ACTION).order_by(AuditEvent.id)
            )
        )


def test_an_officer_adjusts_a_grade_and_it_is_audited(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    member_id = seeded.world.members_a[0].id
    before = grade_of(api_sessions, member_id)
    assert before == "C"
    url = f"/api/v1/members/{member_id}/credit-grade"
    body = {"grade": "B", "reason": "县办复核：上年逾期系银行扣款失败所致"}

    answer = client_for("officer").post(url, json=body, headers={"Idempotency-Key": "adj-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "member_id": member_id,
        "association_id": seeded.world.a.id,
        "previous_grade": "C",
        "credit_grade": "B",
        "limit_fen": 2_000_000,
        "changed": True,
    }
    assert grade_of(api_sessions, member_id) == "B"
    (event,) = adjustments(api_sessions)
    assert event.actor == "user:officer"
    assert event.object_id == str(member_id)
    assert event.payload == {
        "from": "C",
        "to": "B",
        "limit_fen": 2_000_000,
        "reason": body["reason"],
    }
    # a retry with the same key is answered from the first response, not done twice
    again = client_for("officer").post(url, json=body, headers={"Idempotency-Key": "adj-1"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == answer.json()
    # the same grade again changes nothing and records nothing
    same = client_for("admin").post(url, json={"grade": "B", "reason": "再次确认"})
    assert same.status_code == 200
    assert same.json()["changed"] is False
    assert len(adjustments(api_sessions)) == 1
    # the auditor reads it in the audit log
    log = client_for("auditor").get("/api/v1/audit-events", params={"action": ACTION})
    assert [e["object_id"] for e in log.json()["items"]] == [str(member_id)]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"grade": "Z", "reason": "升级"}, "unknown_credit_grade", "'Z'"),
        ({"grade": "B", "reason": "   "}, "validation_failed", "needs a reason"),
        ({"grade": "B", "reason": ""}, "request_invalid", "reason"),
        ({"grade": "B"}, "request_invalid", "reason"),
        ({"grade": "ABCDEFGHI", "reason": "x"}, "request_invalid", "grade"),
    ],
)
def test_a_bad_adjustment_is_refused_as_problem_json(
    client_for: ClientFor,
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    body: dict[str, str],
    code: str,
    says: str,
) -> None:
    member_id = seeded.world.members_a[0].id
    answer = client_for("officer").post(f"/api/v1/members/{member_id}/credit-grade", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == code
    assert says in answer.text
    assert grade_of(api_sessions, member_id) == "C"
    assert adjustments(api_sessions) == []


def test_only_the_county_office_may_adjust_and_only_in_its_county(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    member_id = seeded.world.members_a[0].id
    url = f"/api/v1/members/{member_id}/credit-grade"
    body = {"grade": "A", "reason": "自行调整"}
    for user in ("reviewer", "treasurer_a", "auditor", "bank_op"):
        assert client_for(user).post(url, json=body).status_code == 403, user
    assert client_for("officer_other").post(url, json=body).status_code == 404
    assert client_for(None).post(url, json=body).status_code == 401
    assert grade_of(api_sessions, member_id) == "C"
    assert adjustments(api_sessions) == []
