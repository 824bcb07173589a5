"""``/api/v1`` members of an association: list, register, read (masked), unmask (audited)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy import select

from gateway.api.deps import Cipher, CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import (
    WRITE_PROBLEM_STATUSES,
    ObjectId,
    association_scope,
    business_today,
    domain_router,
)
from gateway.api.routing import never_stored
from gateway.audit import service as audit
from gateway.auth.permissions import Permission
from gateway.members import service as members
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.org.endpoints import visible_association
from gateway.security.fieldcrypt import mask_card_parts

router = domain_router("会员 members")


class MemberOut(BaseModel):
    id: int
    association_id: int
    member_no: str
    name: str
    household_no: str
    phone: str
    low_income: bool
    credit_grade: str
    deposit_fen: int
    status: str
    joined_on: date
    card_masked: str = Field(description="e.g. 6217 **** **** 1234")
    resident_id_masked: str


class MemberIn(BaseModel):
    member_no: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    resident_id: str = Field(min_length=1, max_length=18)
    card_number: str = Field(min_length=1, max_length=19)
    phone: str = Field(min_length=1, max_length=20)
    household_no: str = Field(min_length=1, max_length=40)
    joined_on: date
    low_income: bool = False
    credit_grade: str | None = Field(
        default=None,
        max_length=8,
        description="信用等级：省略则为本县入门等级；给出其他等级须有调整信用等级权限"
        "（grades.adjust）并说明理由，记入审计日志 (omitted: the county's entry grade; "
        "another grade of the county's table needs the grades.adjust permission and a "
        "reason, and is audited as a grade adjustment)",
    )
    credit_grade_reason: str | None = Field(
        default=None,
        max_length=200,
        description="给出非入门等级的理由，记入审计日志 (why a grade other than the entry "
        "grade is given; recorded in the audit log)",
    )


class UnmaskedOut(BaseModel):
    member_id: int
    card_number: str
    resident_id: str


def member_out(member: Member) -> MemberOut:
    return MemberOut(
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
        joined_on=member.joined_on,
        card_masked=mask_card_parts(member.card_prefix, member.card_last4),
        resident_id_masked=f"{'*' * 14}{member.resident_id_last4}",
    )


def visible_member(
    session: DbSession, principal: CurrentPrincipal, member_id: int, permission: Permission
) -> Member:
    principal.require(permission)
    member = members.get_member(session, member_id)
    principal.require(permission, association_scope(member.association))
    return member


@router.get(
    "/associations/{association_id}/members",
    response_model=Page[MemberOut],
    summary="会员列表 Members of an association",
)
def list_members(
    association_id: ObjectId, principal: CurrentPrincipal, session: DbSession, page: Paging
) -> Page[MemberOut]:
    visible_association(session, principal, association_id, Permission.READ_MEMBERS)
    statement = select(Member).where(Member.association_id == association_id)
    rows, cursor = paginate(session, statement, order=[Member.id], key=lambda m: [m.id], page=page)
    return Page(items=[member_out(m) for m in rows], next_cursor=cursor)


@router.post(
    "/associations/{association_id}/members",
    response_model=MemberOut,
    status_code=201,
    summary="登记会员 Register a member (card and ID validated, stored encrypted)",
    responses=WRITE_PROBLEM_STATUSES,
)
def register_member(
    association_id: ObjectId,
    body: MemberIn,
    principal: CurrentPrincipal,
    session: DbSession,
    cipher: Cipher,
) -> MemberOut:
    association = visible_association(session, principal, association_id, Permission.WRITE_MEMBERS)
    member = members.register_member(
        session,
        cipher,
        association_id,
        MemberInput(**body.model_dump()),
        actor=principal.actor,
        may_set_grade=principal.has(Permission.ADJUST_GRADES)
        and principal.covers(association_scope(association)),
        today=business_today(),
    )
    return member_out(member)


@router.get("/members/{member_id}", response_model=MemberOut, summary="会员 Member (masked)")
def read_member(member_id: ObjectId, principal: CurrentPrincipal, session: DbSession) -> MemberOut:
    return member_out(visible_member(session, principal, member_id, Permission.READ_MEMBERS))


@router.post(
    "/members/{member_id}/unmask",
    response_model=UnmaskedOut,
    summary="查看完整卡号与身份证号 Reveal card and ID numbers (separate permission, audited)",
    description="Idempotency-Key is ignored here: the clear numbers are never stored for a "
    "replay, and every request is checked and audited again.",
)
@never_stored
def unmask_member(
    member_id: ObjectId, principal: CurrentPrincipal, session: DbSession, cipher: Cipher
) -> UnmaskedOut:
    member = visible_member(session, principal, member_id, Permission.READ_MEMBERS)
    principal.require(Permission.UNMASK)
    audit.record(
        session,
        actor=principal.actor,
        action="member.unmask",
        object_type="member",
        object_id=member.id,
        payload={"association_id": member.association_id, "fields": ["card", "resident_id"]},
        chain=audit.association_chain(member.association_id),
    )
    return UnmaskedOut(
        member_id=member.id,
        card_number=members.card_number(session, cipher, member.id),
        resident_id=members.resident_id(session, cipher, member.id),
    )
