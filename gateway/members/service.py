"""Registering members and reading their protected numbers.

Card and resident-ID numbers are validated (Luhn, GB 11643), stored encrypted with a keyed
hash for look-up; :func:`card_number` is the one way to read a member's card in clear (the
payment side needs it to build a disbursement or collection instruction).
"""

from __future__ import annotations

import unicodedata
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.auth.errors import Forbidden
from gateway.errors import NotFound, RuleViolation, ValidationFailed
from gateway.grading.ladder import ladder
from gateway.members.models import Member, MemberStatus
from gateway.members.schemas import FieldProblem, MemberInput, MemberView
from gateway.org.models import Association
from gateway.org.service import check_takes_in, get_association, lock_association
from gateway.security.checks import (
    card_problem,
    normalise_resident_id,
    phone_problem,
    resident_id_problem,
)
from gateway.security.fieldcrypt import FieldCipher, mask_card_parts

CARD_FIELD = "card"
RESIDENT_ID_FIELD = "resident_id"


def control_characters(text: str) -> str:
    """The control and format characters in ``text`` (line breaks, tabs, zero-width and
    direction marks: Unicode Cc and Cf), named as U+XXXX; empty when there are none."""
    found = dict.fromkeys(c for c in text if unicodedata.category(c) in ("Cc", "Cf"))
    return "、".join(f"U+{ord(c):04X}" for c in found)


def input_problems(data: MemberInput) -> list[FieldProblem]:
    """Everything wrong with one registration, field by field (no database access)."""
    problems: list[FieldProblem] = []
    if not data.member_no.strip():
        problems.append(FieldProblem("member_no", data.member_no, "会员编号不能为空 / required"))
    if not data.name.strip():
        problems.append(FieldProblem("name", data.name, "姓名不能为空 / name is required"))
    elif hidden := control_characters(data.name):
        problems.append(
            FieldProblem(
                "name",
                data.name,
                f"姓名含换行、制表符等控制字符（{hidden}），无法写入银行文件 / "
                f"the name holds control characters ({hidden}: line breaks, tabs, invisible "
                "marks) that no bank file can carry",
            )
        )
    if not data.household_no.strip():
        problems.append(
            FieldProblem("household_no", data.household_no, "户号不能为空 / household required")
        )
    for field, value, check in (
        ("resident_id", normalise_resident_id(data.resident_id), resident_id_problem),
        ("card_number", data.card_number.strip(), card_problem),
        ("phone", data.phone.strip(), phone_problem),
    ):
        reason = check(value)
        if reason:
            problems.append(FieldProblem(field, value, reason))
    return problems


def entry_grade(session: Session, county_id: int) -> str:
    return ladder(session, county_id).entry_grade


def starting_grade(
    session: Session,
    county_id: int,
    given: str | None,
    *,
    may_set_grade: bool = False,
    reason: str | None = None,
) -> str:
    """The grade a new member is to hold: the county's entry grade unless another grade of the
    county's table is given. Only a caller allowed to adjust credit grades (``grades.adjust``)
    may give another grade, and only with a reason; anything else is refused before anything
    is written. A grade the table does not list is refused for everyone."""
    grades = ladder(session, county_id)
    if given is None:
        return grades.entry_grade
    if given not in grades.grades:
        raise RuleViolation(
            f"信用等级 {given} 不在本县信用等级表（{'、'.join(grades.grades)}）中，"
            "新会员须从入门等级起评或给出表中的等级",
            f"credit grade {given!r} is not in the county's table "
            f"({', '.join(grades.grades)}); a new member starts at the entry grade "
            "or at a grade from the table",
            code="unknown_credit_grade",
            grade=given,
        )
    if given == grades.entry_grade:
        return given
    if not may_set_grade:
        raise Forbidden(
            f"新会员从入门等级 {grades.entry_grade} 起评；登记时给出信用等级 {given} "
            "须由有权调整信用等级（grades.adjust）的人员办理并说明理由",
            f"a new member starts at the entry grade {grades.entry_grade}; only someone "
            f"allowed to adjust credit grades (grades.adjust) may register a member at "
            f"grade {given}, with a reason",
            code="credit_grade_not_allowed",
            grade=given,
            entry_grade=grades.entry_grade,
            permission="grades.adjust",
        )
    if reason is None or not reason.strip():
        raise ValidationFailed(
            f"登记时给出高于入门等级的信用等级 {given} 须说明理由",
            f"registering a member at grade {given} above the entry grade needs a reason",
            code="credit_grade_reason_required",
            field="credit_grade_reason",
        )
    return given


def joined_problems(
    association: Association, joined_on: date, today: date | None
) -> list[FieldProblem]:
    """A join date before the association was founded, or (``today`` given) after today."""
    if joined_on < association.start_date:
        reason = (
            f"入会日期早于协会成立日期 {association.start_date.isoformat()} / before the "
            "association was founded"
        )
    elif today is not None and joined_on > today:
        reason = f"入会日期晚于今天 {today.isoformat()} / after today"
    else:
        return []
    return [FieldProblem("joined_on", joined_on.isoformat(), reason)]


def database_problems(
    session: Session,
    cipher: FieldCipher,
    association_id: int,
    data: MemberInput,
    *,
    today: date | None = None,
) -> list[FieldProblem]:
    """Conflicts with the association (a join date it cannot hold) and with members already
    registered (same card, same ID, same member number)."""
    problems = joined_problems(get_association(session, association_id), data.joined_on, today)
    card = data.card_number.strip()
    rid = normalise_resident_id(data.resident_id)
    if session.scalar(
        select(Member.id).where(Member.card_hash == cipher.lookup_hash(CARD_FIELD, card))
    ):
        problems.append(FieldProblem("card_number", card, "卡号已登记 / card already registered"))
    if session.scalar(
        select(Member.id).where(
            Member.resident_id_hash == cipher.lookup_hash(RESIDENT_ID_FIELD, rid)
        )
    ):
        problems.append(
            FieldProblem("resident_id", rid, "身份证号已登记 / resident ID already registered")
        )
    if session.scalar(
        select(Member.id).where(
            Member.association_id == association_id, Member.member_no == data.member_no.strip()
        )
    ):
        problems.append(
            FieldProblem("member_no", data.member_no, "会员编号已存在 / member number exists")
        )
    return problems


def check_new_members(association: Association) -> None:
    """Refuse new members for an association being liquidated or closed."""
    check_takes_in(association, taking_zh="不再登记新会员", taking_en="registers no new members")


def register_member(
    session: Session,
    cipher: FieldCipher,
    association_id: int,
    data: MemberInput,
    *,
    actor: str = "system",
    may_set_grade: bool = False,
    today: date | None = None,
) -> Member:
    """Register one member; any problem refuses it with every field problem listed (a join
    date after ``today``, when given, among them).

    The member is registered at the county's entry grade. A different grade is set only when
    ``may_set_grade`` (the caller holds ``grades.adjust`` for this association) and the input
    carries a reason; it is then applied as an audited adjustment
    (``member.credit_grade_adjust``, exactly as the grade-adjust endpoint records it).

    An association being liquidated or closed registers no one (:func:`check_new_members`);
    its row is locked first, so a registration and the start of a liquidation go one at a
    time."""
    association = lock_association(session, association_id)
    check_new_members(association)
    county_id = association.town.county_id
    grade = starting_grade(
        session,
        county_id,
        data.credit_grade,
        may_set_grade=may_set_grade,
        reason=data.credit_grade_reason,
    )
    entry = entry_grade(session, county_id)
    problems = input_problems(data)
    if not problems:
        problems = database_problems(session, cipher, association_id, data, today=today)
    if problems:
        raise ValidationFailed(
            "会员信息有误：" + "；".join(f"{p.field}={p.value!r} {p.reason}" for p in problems),
            "member registration refused: "
            + "; ".join(f"{p.field}={p.value!r}: {p.reason}" for p in problems),
            problems=[p.__dict__ for p in problems],
        )
    card = data.card_number.strip()
    rid = normalise_resident_id(data.resident_id)
    member = Member(
        association_id=association.id,
        member_no=data.member_no.strip(),
        name=data.name.strip(),
        household_no=data.household_no.strip(),
        phone=data.phone.strip(),
        low_income=data.low_income,
        credit_grade=entry,
        deposit_fen=0,
        status=MemberStatus.ACTIVE,
        joined_on=data.joined_on,
        card_cipher=cipher.encrypt(CARD_FIELD, card),
        card_hash=cipher.lookup_hash(CARD_FIELD, card),
        card_last4=card[-4:],
        card_prefix=card[:6],
        resident_id_cipher=cipher.encrypt(RESIDENT_ID_FIELD, rid),
        resident_id_hash=cipher.lookup_hash(RESIDENT_ID_FIELD, rid),
        resident_id_last4=rid[-4:],
    )
    session.add(member)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="member.register",
        chain=audit.association_chain(association.id),
        object_type="member",
        object_id=member.id,
        payload={
            "association_id": association.id,
            "member_no": member.member_no,
            "household_no": member.household_no,
            "card": mask_card_parts(member.card_prefix, member.card_last4),
            "credit_grade": entry,
            "credit_grade_given": data.credit_grade is not None,
        },
    )
    if grade != entry:
        # Imported here: the grading service builds on this module.
        from gateway.grading.service import adjust_grade

        assert data.credit_grade_reason is not None  # checked by starting_grade
        adjust_grade(session, member.id, grade, reason=data.credit_grade_reason, actor=actor)
    return member


def get_member(session: Session, member_id: int) -> Member:
    found = session.get(Member, member_id)
    if found is None:
        raise NotFound("会员不存在", f"member {member_id} not found")
    return found


def card_number(session: Session, cipher: FieldCipher, member_id: int) -> str:
    """The member's Huinong One-Card number in clear, for building a bank instruction."""
    member = get_member(session, member_id)
    return cipher.decrypt(CARD_FIELD, member.card_cipher)


def resident_id(session: Session, cipher: FieldCipher, member_id: int) -> str:
    member = get_member(session, member_id)
    return cipher.decrypt(RESIDENT_ID_FIELD, member.resident_id_cipher)


def find_by_card(session: Session, cipher: FieldCipher, card: str) -> Member | None:
    """The member holding this card number (exact match through the keyed hash)."""
    return session.scalar(
        select(Member).where(Member.card_hash == cipher.lookup_hash(CARD_FIELD, card.strip()))
    )


def find_by_resident_id(session: Session, cipher: FieldCipher, number: str) -> Member | None:
    rid = normalise_resident_id(number)
    return session.scalar(
        select(Member).where(Member.resident_id_hash == cipher.lookup_hash(RESIDENT_ID_FIELD, rid))
    )


def view(member: Member) -> MemberView:
    return MemberView(
        id=member.id,
        association_id=member.association_id,
        member_no=member.member_no,
        name=member.name,
        household_no=member.household_no,
        phone=member.phone,
        low_income=member.low_income,
        credit_grade=member.credit_grade,
        deposit_fen=member.deposit_fen,
        status=member.status.value,
        card_masked=mask_card_parts(member.card_prefix, member.card_last4),
        resident_id_masked=f"{'*' * 14}{member.resident_id_last4}",
    )


def members_of(session: Session, association_id: int) -> list[Member]:
    return list(
        session.scalars(
            select(Member).where(Member.association_id == association_id).order_by(Member.member_no)
        )
    )
