"""A new member starts at the county's entry grade (C, a 10,000-yuan limit): a treasurer who
registers a member at grade A is refused with nothing written; only a caller allowed to
adjust credit grades (``grades.adjust``) may give another grade, with a reason, and it is
audited as the adjust endpoint audits an adjustment. A roster import never sets a grade."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import AuditEvent
from gateway.demo.generate import card_number, person_name, phone, resident_id
from gateway.members.importer import import_members
from gateway.members.models import Member
from gateway.security.fieldcrypt import FieldCipher
from tests.api.conftest import ClientFor, Seeded

ADJUST = "member.credit_grade_adjust"


def person(seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {
        "member_no": f"G{seed:04d}",
        "name": person_name(rng),
        "resident_id": resident_id(rng, "371321", (date(1960, 1, 1), date(1999, 1, 1))),
        "card_number": card_number(rng, "623199"),
        "phone": phone(rng),
        "household_no": f"GH-{seed}",
        "joined_on": "2024-05-06",
    }


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Member)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def test_a_treasurer_cannot_register_a_member_at_grade_a(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    url = f"/api/v1/associations/{seeded.world.a.id}/members"
    before = counts(api_sessions)
    for body in (
        person(1) | {"credit_grade": "A"},
        person(1) | {"credit_grade": "A", "credit_grade_reason": "会计担保此人可靠"},
    ):
        refused = client_for("treasurer_a").post(url, json=body)
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert problem["code"] == "credit_grade_not_allowed"
        assert "新会员从入门等级 C 起评" in problem["message_zh"]
        assert "only someone allowed to adjust credit grades" in problem["message_en"]
    assert counts(api_sessions) == before

    plain = client_for("treasurer_a").post(url, json=person(1))
    assert plain.status_code == 201, plain.text
    assert plain.json()["credit_grade"] == "C"


def test_a_grade_adjuster_gives_a_grade_with_a_reason_and_it_is_audited(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    url = f"/api/v1/associations/{seeded.world.a.id}/members"
    before = counts(api_sessions)
    unexplained = client_for("officer").post(url, json=person(2) | {"credit_grade": "A"})
    assert unexplained.status_code == 422
    assert unexplained.json()["code"] == "credit_grade_reason_required"
    assert counts(api_sessions) == before

    reason = "县办核定：由原扶贫互助社守信会员转入"
    body = person(2) | {"credit_grade": "A", "credit_grade_reason": reason}
    answer = client_for("officer").post(url, json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["credit_grade"] == "A"
    member_id = answer.json()["id"]
    log = client_for("auditor").get("/api/v1/audit-events", params={"action": ADJUST})
    (event,) = [e for e in log.json()["items"] if e["object_id"] == str(member_id)]
    assert event["actor"] == "user:officer"
    assert event["payload"] == {"from": "C", "to": "A", "limit_fen": 3_000_000, "reason": reason}


def test_an_outside_grade_adjuster_cannot_give_a_grade(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    # Another county's officer holds grades.adjust, but not over this association.
    answer = client_for("officer_other").post(
        f"/api/v1/associations/{seeded.world.a.id}/members",
        json=person(3) | {"credit_grade": "A", "credit_grade_reason": "外县"},
    )
    assert answer.status_code == 404
    with api_sessions() as session:
        assert session.scalar(select(Member).where(Member.member_no == "G0003")) is None


def test_an_imported_grade_column_does_not_give_a_grade(
    seeded: Seeded, api_sessions: sessionmaker[Session], tmp_path: Path, field_cipher: FieldCipher
) -> None:
    rows = ["会员编号,姓名,身份证号,惠农卡号,手机号,户号,信用等级"]
    for seed in (4, 5):
        p = person(seed)
        rows.append(
            f"{p['member_no']},{p['name']},{p['resident_id']},{p['card_number']},"
            f"{p['phone']},{p['household_no']},A"
        )
    roster = tmp_path / "roster.csv"
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with api_sessions() as session:
        imported = import_members(
            session, field_cipher, roster, seeded.world.a.code, joined_on=date(2024, 5, 6)
        )
        session.commit()
        assert [m.credit_grade for m in imported] == ["C", "C"]
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == ADJUST)
            )
            == 0
        )
