"""A new member starts at the county's entry grade. Another grade from the county's table is
set only for a caller allowed to adjust grades, with a reason, and audited as a grade
adjustment; without that right or reason, and for a grade the table does not list, the
registration is refused with nothing registered."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.audit.models import AuditEvent
from gateway.auth.errors import Forbidden
from gateway.demo.generate import card_number, person_name, phone, resident_id
from gateway.errors import RuleViolation, ValidationFailed
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.members.service import register_member
from gateway.testing import World


def _input(member_no: str, credit_grade: str | None = None, seed: int = 1) -> MemberInput:
    rng = random.Random(seed)
    return MemberInput(
        member_no=member_no,
        name=person_name(rng),
        resident_id=resident_id(rng, "371321", (date(1960, 1, 1), date(1999, 1, 1))),
        card_number=card_number(rng, "623199"),
        phone=phone(rng),
        household_no=f"H-{member_no}",
        joined_on=date(2024, 3, 1),
        credit_grade=credit_grade,
    )


def _register_event(session: Session, member: Member) -> AuditEvent:
    return session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "member.register", AuditEvent.object_id == str(member.id)
        )
    ).one()


def test_a_new_member_starts_at_the_entry_grade(world: World, session: Session) -> None:
    member = register_member(session, world.cipher, world.a.id, _input("9001"))
    assert member.credit_grade == "C"  # the lowest step of the county's table
    payload = _register_event(session, member).payload
    assert payload["credit_grade"] == "C"
    assert payload["credit_grade_given"] is False


def test_a_grade_from_the_table_is_set_by_a_grade_adjuster_and_audited(
    world: World, session: Session
) -> None:
    reason = "县办核定：原互助社守信会员转入"
    member = register_member(
        session,
        world.cipher,
        world.a.id,
        replace(_input("9002", "A", seed=2), credit_grade_reason=reason),
        actor="user:officer",
        may_set_grade=True,
    )
    assert member.credit_grade == "A"
    payload = _register_event(session, member).payload
    assert payload["credit_grade"] == "C"  # registered at the entry grade ...
    assert payload["credit_grade_given"] is True
    adjusted = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "member.credit_grade_adjust",
            AuditEvent.object_id == str(member.id),
        )
    ).one()  # ... then moved by an adjustment, recorded like the adjust endpoint records it
    assert adjusted.actor == "user:officer"
    assert adjusted.payload == {"from": "C", "to": "A", "limit_fen": 3_000_000, "reason": reason}


def test_a_grade_above_the_entry_grade_without_the_right_is_refused(
    world: World, session: Session
) -> None:
    before = session.scalar(select(func.count()).select_from(Member))
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(Forbidden) as refused:
        register_member(
            session,
            world.cipher,
            world.a.id,
            replace(_input("9004", "A", seed=4), credit_grade_reason="会计认为可靠"),
        )
    assert refused.value.code == "credit_grade_not_allowed"
    assert "新会员从入门等级 C 起评" in refused.value.message_zh
    assert "grades.adjust" in refused.value.message_en
    with pytest.raises(ValidationFailed) as unexplained:
        register_member(
            session, world.cipher, world.a.id, _input("9004", "B", seed=4), may_set_grade=True
        )
    assert unexplained.value.code == "credit_grade_reason_required"
    assert session.scalar(select(func.count()).select_from(Member)) == before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_the_entry_grade_given_explicitly_needs_no_right(world: World, session: Session) -> None:
    member = register_member(session, world.cipher, world.a.id, _input("9005", "C", seed=5))
    assert member.credit_grade == "C"


@pytest.mark.parametrize("grade", ["AAA", "a", "D", ""])
def test_a_grade_outside_the_table_is_refused(world: World, session: Session, grade: str) -> None:
    before = session.scalar(select(func.count()).select_from(Member))
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(RuleViolation) as refused:
        register_member(session, world.cipher, world.a.id, _input("9003", grade, seed=3))
    assert refused.value.code == "unknown_credit_grade"
    assert f"信用等级 {grade} 不在本县信用等级表（C、B、A）中" in refused.value.message_zh
    assert session.scalar(select(func.count()).select_from(Member)) == before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events
