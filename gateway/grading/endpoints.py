"""``/api/v1`` credit grades: the county's audited adjustment of a member's grade between
yearly reviews (信用等级调整)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.router import WRITE_PROBLEM_STATUSES, ObjectId, domain_router
from gateway.auth.permissions import Permission
from gateway.grading.ladder import ladder
from gateway.grading.service import adjust_grade
from gateway.ledger.service import county_of
from gateway.members.endpoints import visible_member

router = domain_router("信用等级 credit grades")


class GradeAdjustmentIn(BaseModel):
    grade: str = Field(
        min_length=1,
        max_length=8,
        description="新的信用等级，须在本县信用等级表中 (a grade of the county's table)",
    )
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="调整理由，记入审计日志 (why; recorded in the audit log)",
    )


class CreditGradeOut(BaseModel):
    member_id: int
    association_id: int
    previous_grade: str
    credit_grade: str
    limit_fen: int = Field(description="the limit of the grade the member now holds")
    changed: bool


@router.post(
    "/members/{member_id}/credit-grade",
    response_model=CreditGradeOut,
    summary="调整信用等级 Adjust a member's credit grade between yearly reviews (audited)",
    responses=WRITE_PROBLEM_STATUSES,
)
def adjust_credit_grade(
    member_id: ObjectId,
    body: GradeAdjustmentIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> CreditGradeOut:
    member = visible_member(session, principal, member_id, Permission.ADJUST_GRADES)
    before = member.credit_grade
    adjust_grade(session, member.id, body.grade, reason=body.reason, actor=principal.actor)
    grades = ladder(session, county_of(session, member.association_id).id)
    return CreditGradeOut(
        member_id=member.id,
        association_id=member.association_id,
        previous_grade=before,
        credit_grade=member.credit_grade,
        limit_fen=grades.limit_of(member.credit_grade),
        changed=member.credit_grade != before,
    )
