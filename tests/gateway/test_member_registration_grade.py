"""A new member starts at the county's entry grade unless a grade from the county's table is
given with the registration; the grade is in the ``member.register`` audit event, and a grade
the table does not list is refused with nothing registered."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.audit.models import AuditEvent
from gateway.demo.generate import card_number, person_name, phone, resident_id
from gateway.errors import RuleViolation
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


def test_a_grade_from_the_table_is_kept_and_audited(world: World, session: Session) -> None:
    member = register_member(session, world.cipher, world.a.id, _input("9002", "A", seed=2))
    assert member.credit_grade == "A"
    payload = _register_event(session, member).payload
    assert payload["credit_grade"] == "A"
    assert payload["credit_grade_given"] is True


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
